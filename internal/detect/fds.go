package detect

import (
	"fmt"

	"github.com/localsre/sre-agent/internal/event"
)

// fds: open file descriptors at or above --fds-pct of the process's soft
// RLIMIT_NOFILE when the sample knows it, else at or above --fds-max.
type fds struct{ cfg *Config }

var _ Detector = (*fds)(nil)

func newFDs(cfg *Config) Detector { return &fds{cfg} }

func (d *fds) Observe(o *Obs) {
	s := o.S
	if o.Kind != KindUp || !s.FDs.OK {
		return
	}
	var limit float64
	basis := "fds_limit"
	switch {
	case s.FDsLimit.OK && s.FDsLimit.V > 0 && d.cfg.FDsPct > 0:
		limit = float64(s.FDsLimit.V) * d.cfg.FDsPct / 100
	case d.cfg.FDsMax > 0:
		limit, basis = float64(d.cfg.FDsMax), "fds_max"
	default:
		return
	}
	v := float64(s.FDs.V)
	c := procState[cond](o)
	fire, clear := c.step(s.TS, v >= limit, v < limit*(1-d.cfg.Hysteresis), d.cfg.FDsFor, d.cfg.Cooldown)
	if !fire && !clear {
		return
	}
	detail := map[string]any{"fds": s.FDs.V, "threshold": int(limit), "basis": basis}
	if s.FDsLimit.OK {
		detail["fds_limit"] = s.FDsLimit.V
	}
	switch {
	case fire:
		c.firedID = o.emit(ev{typ: "fds_high", sev: event.SevWarning, proc: o.P, detail: detail,
			msg: fmt.Sprintf("%s has %d open files, at or above %d%s.", subject(o.T, o.P), s.FDs.V, int(limit), limitNote(s, basis))})
	case clear:
		detail["fired_id"], detail["duration_s"] = c.firedID, round(s.TS.Sub(c.firedAt).Seconds(), 3)
		o.emit(ev{typ: "fds_ok", sev: event.SevInfo, proc: o.P, detail: detail,
			msg: fmt.Sprintf("%s is back to %d open files.", subject(o.T, o.P), s.FDs.V)})
	}
}

func limitNote(s *Sample, basis string) string {
	if basis == "fds_limit" {
		return fmt.Sprintf(" (its limit is %d)", s.FDsLimit.V)
	}
	return ""
}
