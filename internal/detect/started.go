package detect

import (
	"fmt"

	"github.com/localsre/sre-agent/internal/event"
)

// started: the first process ever seen for a target.
type started struct{}

var _ Detector = started{}

func newStarted(*Config) Detector { return started{} }

func (started) Observe(o *Obs) {
	if o.Kind != KindBegin || o.Cause != CauseFirst {
		return
	}
	detail := map[string]any{"matches": max(o.S.Matches, 1)}
	if !o.P.Start.IsZero() {
		detail["process_start"] = event.At(o.P.Start)
	}
	o.emit(ev{typ: "started", sev: event.SevInfo, proc: o.P, detail: detail,
		msg: fmt.Sprintf("%s is up: %s.", o.T.Name, who(o.P))})
}
