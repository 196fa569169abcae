package detect

import (
	"fmt"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// flapping: a target that keeps dying — --flap-count deaths (crashes, and
// restarts by a container's restart policy, which are deaths too) within
// --flap-window: a crash loop. Once per loop: it is armed again once a
// window passes without a death.
type flapping struct{ cfg *Config }

var _ Detector = (*flapping)(nil)

func newFlapping(cfg *Config) Detector { return &flapping{cfg} }

type flapState struct {
	deaths []time.Time // within the window, oldest first
	firing bool
}

func (d *flapping) Observe(o *Obs) {
	if d.cfg.FlapCount <= 0 || o.Kind != KindEnd || o.Cause == CauseReplaced {
		return
	}
	st := targetState[flapState](o)
	ts := o.S.TS
	if n := len(st.deaths); n > 0 && ts.Sub(st.deaths[n-1]) >= d.cfg.FlapWindow {
		st.firing = false // a quiet window: the loop ended
	}
	keep := st.deaths[:0]
	for _, t := range st.deaths {
		if ts.Sub(t) < d.cfg.FlapWindow {
			keep = append(keep, t)
		}
	}
	st.deaths = append(keep, ts)
	// Only the last --flap-count deaths can decide (the loop fires the
	// moment that many fall in one window), so only they are kept: a crash
	// loop at any rate costs the same, not a slice scan per death.
	if n := len(st.deaths) - d.cfg.FlapCount; n > 0 {
		st.deaths = append(st.deaths[:0], st.deaths[n:]...)
	}
	if st.firing || len(st.deaths) < d.cfg.FlapCount {
		return
	}
	st.firing = true
	first := st.deaths[0]
	span := ts.Sub(first).Seconds()
	detail := map[string]any{"deaths": len(st.deaths), "window_s": d.cfg.FlapWindow.Seconds(),
		"first_death": event.At(first), "span_s": round(span, 3)}
	if o.S.HasContainer {
		detail["container_id"] = o.S.Container.ID
		detail["restart_count"] = o.S.Container.RestartCount
	}
	if o.S.HasExit && o.S.Exit.Code.OK {
		detail["exit_code"] = o.S.Exit.Code.V
	}
	msg := fmt.Sprintf("%s is flapping: %d deaths in %s", o.T.Name, len(st.deaths), FormatDuration(span))
	if o.Cause == CausePolicy {
		msg += ", restarted each time by Docker's restart policy"
	}
	o.emit(ev{typ: "flapping", sev: event.SevCritical, proc: o.P, detail: detail, msg: msg + "."})
}
