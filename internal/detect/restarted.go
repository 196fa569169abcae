package detect

import (
	"fmt"

	"github.com/localsre/sre-agent/internal/event"
)

// restarted: between two ticks, a new process took the place of one that
// was up, and no exit was reported in between.
type restarted struct{}

var _ Detector = restarted{}

func newRestarted(*Config) Detector { return restarted{} }

func (restarted) Observe(o *Obs) {
	if o.Kind != KindBegin || o.Cause != CauseReplaced {
		return
	}
	old := o.Other
	detail := map[string]any{"prev_pid": old.ID.PID, "prev_start_ticks": old.ID.StartTicks,
		"prev_last_seen": event.At(old.LastTS)}
	o.emit(ev{typ: "restarted", sev: event.SevWarning, proc: o.P, detail: detail,
		msg: fmt.Sprintf("%s restarted: %s replaced pid %d between two samples.", o.T.Name, who(o.P), old.ID.PID)})
}
