package detect

import (
	"fmt"

	"github.com/localsre/sre-agent/internal/event"
)

// unhealthy: a container's health check turned unhealthy. One event per
// turn: a container that stays unhealthy is not news at every sample, and
// one that turns healthy and fails again is told again.
type unhealthy struct{}

var _ Detector = unhealthy{}

func newUnhealthy(*Config) Detector { return unhealthy{} }

type healthState struct {
	last string
}

func (unhealthy) Observe(o *Obs) {
	if o.Kind != KindSample || !o.S.HasContainer {
		return
	}
	c := &o.S.Container
	st := targetState[healthState](o)
	if !o.S.Up {
		// A run that ended takes its health with it: the next run's
		// checks start afresh.
		st.last = ""
		return
	}
	was := st.last
	st.last = c.Health
	if c.Health != "unhealthy" || was == "unhealthy" {
		return
	}
	detail := map[string]any{"container_id": c.ID}
	msg := fmt.Sprintf("%s is unhealthy: its health check fails", o.T.Name)
	if c.HealthOutput != "" {
		detail["health_output"] = c.HealthOutput
		msg += fmt.Sprintf(" (last output: %q)", c.HealthOutput)
	}
	var p *Proc
	if o.S.HasProc {
		p = o.T.up[o.S.ID()]
	}
	o.emit(ev{typ: "unhealthy", sev: event.SevWarning, proc: p, detail: detail, msg: msg + "."})
}
