package detect

import (
	"fmt"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// recovered: a process is up again after a crash. downtime_s runs from the
// crash (the time the death was observed: the exit sample, or the tick that
// no longer found the process) to the new process's start. The kernel
// counts starts in clock ticks, so process.start is the beginning of the
// tick the process started in: the start is taken as the middle of what is
// left of that tick after the crash (within 5 ms of the truth), and a tick
// that ended before the crash means the new process was up by then: no
// downtime. Only a process without a start is dated by the sample that
// showed it.
type recovered struct{}

// startTick is the resolution of process.start: one clock tick, 1/USER_HZ,
// which is 1/100 s on every Linux ABI.
const startTick = 10 * time.Millisecond

// backAt is when a process that started in the clock tick beginning at
// start came up, for an outage observed at crash; seen is the sample that
// showed it.
func backAt(crash, start, seen time.Time) time.Time {
	if start.IsZero() {
		return seen
	}
	end := start.Add(startTick)
	if !end.After(crash) {
		return crash
	}
	lo := start
	if crash.After(lo) {
		lo = crash
	}
	back := lo.Add(end.Sub(lo) / 2)
	if back.After(seen) {
		return seen
	}
	return back
}

var _ Detector = recovered{}

func newRecovered(*Config) Detector { return recovered{} }

func (recovered) Observe(o *Obs) {
	if o.Kind != KindBegin || o.Cause != CauseAfterCrash {
		return
	}
	detail := map[string]any{}
	msg := fmt.Sprintf("%s is up again: %s", o.T.Name, who(o.P))
	if c := o.Crash; c != nil {
		down := max(0, backAt(c.TS, o.P.Start, o.S.TS).Sub(c.TS).Seconds())
		detail["downtime_s"] = round(down, 3)
		detail["crash_id"] = c.ID
		detail["down_since"] = event.At(c.TS)
		detail["prev_pid"] = c.Proc.ID.PID
		msg += fmt.Sprintf(", %s after the crash of pid %d", FormatDuration(down), c.Proc.ID.PID)
	}
	o.emit(ev{typ: "recovered", sev: event.SevInfo, proc: o.P, detail: detail, msg: msg + "."})
}
