package detect

import (
	"fmt"

	"github.com/localsre/sre-agent/internal/event"
)

// cpu: a process at or above --cpu-max percent (of one core) for
// --cpu-for; cpu_ok once it falls below the hysteresis band.
type cpu struct{ cfg *Config }

var _ Detector = (*cpu)(nil)

func newCPU(cfg *Config) Detector { return &cpu{cfg} }

func (d *cpu) Observe(o *Obs) {
	if o.Kind != KindUp || d.cfg.CPUMax <= 0 || !o.S.CPU.OK {
		return
	}
	s, limit := o.S, d.cfg.CPUMax
	v := s.CPU.V
	c := procState[cond](o)
	fire, clear := c.step(s.TS, v >= limit, v < limit*(1-d.cfg.Hysteresis), d.cfg.CPUFor, d.cfg.Cooldown)
	switch {
	case fire:
		c.firedID = o.emit(ev{typ: "cpu_high", sev: event.SevWarning, proc: o.P,
			detail: map[string]any{"cpu_pct": v, "threshold": limit, "for_s": d.cfg.CPUFor.Seconds()},
			msg:    fmt.Sprintf("%s has used %.0f%% CPU or more for %s (now %.1f%%).", subject(o.T, o.P), limit, FormatDuration(s.TS.Sub(c.since).Seconds()), v)})
	case clear:
		o.emit(ev{typ: "cpu_ok", sev: event.SevInfo, proc: o.P,
			detail: map[string]any{"cpu_pct": v, "threshold": limit, "fired_id": c.firedID, "duration_s": round(s.TS.Sub(c.firedAt).Seconds(), 3)},
			msg:    fmt.Sprintf("%s is back to %.1f%% CPU.", subject(o.T, o.P), v)})
	}
}
