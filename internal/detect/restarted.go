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
	if o.Kind == KindBegin && o.Cause == CausePolicy {
		policyRestarted(o)
		return
	}
	if o.Kind != KindBegin || o.Cause != CauseReplaced {
		return
	}
	old := o.Other
	detail := map[string]any{"prev_pid": old.ID.PID, "prev_start_ticks": old.ID.StartTicks,
		"prev_last_seen": event.At(old.LastTS)}
	o.emit(ev{typ: "restarted", sev: event.SevWarning, proc: o.P, detail: detail,
		msg: fmt.Sprintf("%s restarted: %s replaced pid %d between two samples.", o.T.Name, who(o.P), old.ID.PID)})
}

// policyRestarted: Docker's restart policy brought a container back. The
// death it answers is told here, not as a crash and a recovery, which
// would hide that Docker, not a person or sre-heal, restarted it.
func policyRestarted(o *Obs) {
	detail := map[string]any{"by": "restart_policy", "restart_count": o.S.Container.RestartCount,
		"container_id": o.S.Container.ID}
	msg := fmt.Sprintf("%s was restarted by Docker's restart policy (restart %d): %s", o.T.Name, o.S.Container.RestartCount, who(o.P))
	if old := o.Other; old != nil {
		detail["prev_pid"] = old.ID.PID
		msg += fmt.Sprintf(" replaced pid %d", old.ID.PID)
	}
	if pe := o.T.policy; pe != nil { // the death it answers
		down := max(0, backAt(pe.TS, o.P.Start, o.S.TS).Sub(pe.TS).Seconds())
		detail["downtime_s"] = round(down, 3)
		detail["down_since"] = event.At(pe.TS)
		x := pe.Exit
		switch {
		case x.Signal != "":
			detail["signal"] = x.Signal
			msg += " after it was killed by " + x.Signal
		case x.Code.OK:
			detail["exit_code"] = x.Code.V
			msg += fmt.Sprintf(" after it exited with code %d", x.Code.V)
		}
		if x.Code.OK && x.Signal != "" {
			detail["exit_code"] = x.Code.V
		}
		if x.OOMKilled.OK && x.OOMKilled.V {
			detail["oom_killed"] = true
			msg += " (OOM kill)"
		}
		msg += fmt.Sprintf(", %s down", FormatDuration(down))
	}
	o.emit(ev{typ: "restarted", sev: event.SevWarning, proc: o.P, detail: detail, msg: msg + "."})
}
