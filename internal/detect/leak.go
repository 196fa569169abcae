package detect

import (
	"fmt"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// leak: the least-squares slope of a process's RSS over --leak-window is at
// or above --leak-rate and the line fits (R² at least --leak-r2). It needs
// at least half a window of data and leakMinPoints points. It fires once,
// and is armed again only when the slope falls below the hysteresis band.
// The window keeps at most about leakPoints points, evenly spaced, so its
// cost does not depend on the sampling rate.
type leak struct{ cfg *Config }

var _ Detector = (*leak)(nil)

const (
	leakPoints    = 64
	leakMinPoints = 5
)

func newLeak(cfg *Config) Detector { return &leak{cfg} }

type leakPoint struct {
	t   time.Time
	rss float64
}

type leakState struct {
	pts      []leakPoint
	firing   bool
	lastFire opt[int64]
}

func (d *leak) Observe(o *Obs) {
	w := d.cfg.LeakWindow
	if o.Kind != KindUp || w <= 0 || d.cfg.LeakRate <= 0 {
		return
	}
	st := procState[leakState](o)
	s := o.S
	if n := len(st.pts); n > 0 && s.TS.Sub(st.pts[n-1].t) < w/leakPoints {
		return
	}
	st.pts = append(st.pts, leakPoint{s.TS, float64(s.RSS)})
	drop := 0
	for drop < len(st.pts) && s.TS.Sub(st.pts[drop].t) > w {
		drop++
	}
	st.pts = append(st.pts[:0], st.pts[drop:]...)
	span := s.TS.Sub(st.pts[0].t)
	if len(st.pts) < leakMinPoints || span < w/2 {
		return
	}
	var f fit
	for _, p := range st.pts {
		f.add(float64(p.t.UnixNano())/1e9, p.rss)
	}
	slope, r2, ok := f.line()
	if !ok {
		return
	}
	if st.firing {
		if slope < d.cfg.LeakRate*(1-d.cfg.Hysteresis) {
			st.firing = false
		}
		return
	}
	if slope < d.cfg.LeakRate || r2 < d.cfg.LeakR2 {
		return
	}
	if st.lastFire.OK && s.TS.UnixNano()-st.lastFire.V < int64(d.cfg.Cooldown) {
		return
	}
	st.firing, st.lastFire = true, some(s.TS.UnixNano())
	detail := map[string]any{
		"slope_bytes_per_s": round(slope, 1),
		"r2":                round(r2, 4),
		"window_s":          round(span.Seconds(), 3),
		"points":            len(st.pts),
		"rss_bytes":         s.RSS,
	}
	msg := fmt.Sprintf("%s may leak memory: RSS grows %s/s (%s/h, R² %.2f over %s)",
		subject(o.T, o.P), FormatBytes(slope), FormatBytes(slope*3600), r2, FormatDuration(span.Seconds()))
	var headroom float64
	var what string
	switch {
	case s.CgroupMax.OK && s.CgroupMax.V > 0:
		headroom = float64(s.CgroupMax.V) - float64(s.RSS)
		what = fmt.Sprintf("its cgroup limit (%s)", FormatBytes(float64(s.CgroupMax.V)))
		detail["limit"], detail["limit_bytes"] = "cgroup", s.CgroupMax.V
	case s.MemAvail.OK:
		headroom = float64(s.MemAvail.V)
		what = fmt.Sprintf("host available memory (%s)", FormatBytes(headroom))
		detail["limit"], detail["limit_bytes"] = "host_available", s.MemAvail.V
	}
	if what != "" {
		eta := max(headroom, 0) / slope
		detail["headroom_bytes"] = uint64(max(headroom, 0))
		detail["exhaustion_s"] = round(eta, 0)
		msg += fmt.Sprintf("; at this rate %s runs out in about %s", what, FormatDuration(eta))
	} else {
		msg += "; no memory limit known to project when it runs out"
	}
	o.emit(ev{typ: "leak_suspected", sev: event.SevWarning, proc: o.P, detail: detail, msg: msg + "."})
}
