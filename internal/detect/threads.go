package detect

import (
	"fmt"

	"github.com/localsre/sre-agent/internal/event"
)

// threads: the thread count moved by --threads-delta (a count, or a
// percentage of the count at the last event) from its baseline, which then
// moves to the new count. --cooldown spaces the events.
type threads struct{ cfg *Config }

var _ Detector = (*threads)(nil)

func newThreads(cfg *Config) Detector { return &threads{cfg} }

type threadsState struct {
	base     int
	has      bool
	lastFire opt[int64]
}

func (d *threads) Observe(o *Obs) {
	if o.Kind != KindUp || d.cfg.ThreadsDelta.IsZero() {
		return
	}
	st := procState[threadsState](o)
	s := o.S
	if !st.has {
		st.base, st.has = s.Threads, true
		return
	}
	delta := s.Threads - st.base
	limit, _ := d.cfg.ThreadsDelta.Resolve(float64(st.base), true)
	if limit < 1 {
		limit = 1
	}
	if float64(abs(delta)) < limit {
		return
	}
	if st.lastFire.OK && s.TS.UnixNano()-st.lastFire.V < int64(d.cfg.Cooldown) {
		return
	}
	sev, verb := event.SevWarning, "grew"
	if delta < 0 {
		sev, verb = event.SevInfo, "fell"
	}
	o.emit(ev{typ: "threads_changed", sev: sev, proc: o.P,
		detail: map[string]any{"from": st.base, "to": s.Threads, "delta": delta, "threshold": d.cfg.ThreadsDelta.String()},
		msg:    fmt.Sprintf("%s: threads %s from %d to %d.", subject(o.T, o.P), verb, st.base, s.Threads)})
	st.base, st.lastFire = s.Threads, some(s.TS.UnixNano())
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
