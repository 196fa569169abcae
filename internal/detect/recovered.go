package detect

import (
	"fmt"

	"github.com/localsre/sre-agent/internal/event"
)

// recovered: a process is up again after a crash. downtime_s runs from the
// crash to the new process's start when that falls after the crash, else
// to the sample that showed it. (process.start is only as exact as the
// kernel's whole-second boot time, so a start before the crash is noise.)
type recovered struct{}

var _ Detector = recovered{}

func newRecovered(*Config) Detector { return recovered{} }

func (recovered) Observe(o *Obs) {
	if o.Kind != KindBegin || o.Cause != CauseAfterCrash {
		return
	}
	detail := map[string]any{}
	msg := fmt.Sprintf("%s is up again: %s", o.T.Name, who(o.P))
	if c := o.Crash; c != nil {
		back := o.S.TS
		if st := o.P.Start; st.After(c.TS) && st.Before(back) {
			back = st
		}
		down := max(0, back.Sub(c.TS).Seconds())
		detail["downtime_s"] = round(down, 3)
		detail["crash_id"] = c.ID
		detail["down_since"] = event.At(c.TS)
		detail["prev_pid"] = c.Proc.ID.PID
		msg += fmt.Sprintf(", %s after the crash of pid %d", FormatDuration(down), c.Proc.ID.PID)
	}
	o.emit(ev{typ: "recovered", sev: event.SevInfo, proc: o.P, detail: detail, msg: msg + "."})
}
