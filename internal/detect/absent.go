package detect

import (
	"fmt"

	"github.com/localsre/sre-agent/internal/event"
)

// absent: a target with no process for --absent-after of sample time,
// whether it was never seen or has gone. Once per absence.
type absent struct{ cfg *Config }

var _ Detector = (*absent)(nil)

func newAbsent(cfg *Config) Detector { return &absent{cfg} }

type absentState struct{ fired bool }

func (d *absent) Observe(o *Obs) {
	switch o.Kind {
	case KindBegin:
		targetState[absentState](o).fired = false
	case KindDown:
		st := targetState[absentState](o)
		t := o.T
		if st.fired || !t.down || d.cfg.AbsentAfter <= 0 {
			return
		}
		gone := o.S.TS.Sub(t.downSince)
		if gone < d.cfg.AbsentAfter {
			return
		}
		st.fired = true
		detail := map[string]any{"absent_s": round(gone.Seconds(), 3), "since": event.At(t.downSince), "never_seen": !t.everUp}
		msg := fmt.Sprintf("%s has had no process for %s", t.Name, FormatDuration(gone.Seconds()))
		if !t.everUp {
			msg = fmt.Sprintf("%s has not been seen in %s of samples", t.Name, FormatDuration(gone.Seconds()))
		}
		o.emit(ev{typ: "absent", sev: event.SevCritical, msg: msg + ".", detail: detail, noProcess: true})
	}
}
