package detect

import (
	"fmt"

	"github.com/localsre/sre-agent/internal/event"
)

// memory: three conditions, each with --mem-for, --hysteresis and
// --cooldown: a process's RSS at or above --mem-max (per process), the
// host's available memory below --host-mem-min and memory pressure (PSI
// some avg10) at or above --psi-max (per host, told once, under the target
// whose sample showed it first).
type memory struct {
	cfg   *Config
	hosts map[string]*hostMem
}

var _ Detector = (*memory)(nil)

type hostMem struct {
	avail, psi       cond
	availTo, psiTo   *Target
	availMin, psiMax float64
}

func newMemory(cfg *Config) Detector { return &memory{cfg: cfg, hosts: map[string]*hostMem{}} }

func (d *memory) Observe(o *Obs) {
	switch o.Kind {
	case KindUp:
		d.rss(o)
	case KindSample:
		d.host(o)
	}
}

func (d *memory) rss(o *Obs) {
	if d.cfg.MemMax.IsZero() {
		return
	}
	s := o.S
	base, of := memBase(s)
	limit, ok := d.cfg.MemMax.Resolve(float64(base.V), base.OK)
	if !ok || limit <= 0 {
		return
	}
	c := procState[cond](o)
	v := float64(s.RSS)
	fire, clear := c.step(s.TS, v >= limit, v < limit*(1-d.cfg.Hysteresis), d.cfg.MemFor, d.cfg.Cooldown)
	switch {
	case fire:
		detail := map[string]any{"condition": "rss", "value": s.RSS, "threshold": uint64(limit), "for_s": d.cfg.MemFor.Seconds()}
		shown := FormatBytes(limit)
		if d.cfg.MemMax.Pct {
			detail["threshold_of"] = of
			shown += fmt.Sprintf(" (%s of %s)", d.cfg.MemMax, map[string]string{"cgroup": "its cgroup's memory limit", "host": "host memory"}[of])
		}
		c.firedID = o.emit(ev{typ: "memory_high", sev: event.SevWarning, key: "rss", proc: o.P, detail: detail,
			msg: fmt.Sprintf("%s uses %s of memory (RSS), at or above %s.", subject(o.T, o.P), FormatBytes(v), shown)})
	case clear:
		o.emit(ev{typ: "memory_ok", sev: event.SevInfo, key: "rss", proc: o.P,
			detail: map[string]any{"condition": "rss", "value": s.RSS, "threshold": uint64(limit), "fired_id": c.firedID, "duration_s": round(s.TS.Sub(c.firedAt).Seconds(), 3)},
			msg:    fmt.Sprintf("%s is back to %s of memory (RSS), below %s.", subject(o.T, o.P), FormatBytes(v), FormatBytes(limit*(1-d.cfg.Hysteresis)))})
	}
}

func (d *memory) host(o *Obs) {
	s := o.S
	h := d.hosts[o.T.Host]
	if h == nil {
		h = &hostMem{}
		d.hosts[o.T.Host] = h
	}
	hy := d.cfg.Hysteresis
	if !d.cfg.HostMemMin.IsZero() && s.MemAvail.OK {
		if min, ok := d.cfg.HostMemMin.Resolve(float64(s.MemTotal.V), s.MemTotal.OK); ok && min > 0 {
			v := float64(s.MemAvail.V)
			fire, clear := h.avail.step(s.TS, v < min, v >= min*(1+hy), d.cfg.MemFor, d.cfg.Cooldown)
			switch {
			case fire:
				h.availTo, h.availMin = o.T, min
				h.avail.firedID = o.emit(ev{typ: "memory_high", sev: event.SevWarning, key: "host_available", noProcess: true,
					detail: map[string]any{"condition": "host_available", "value": s.MemAvail.V, "threshold": uint64(min), "for_s": d.cfg.MemFor.Seconds()},
					msg:    fmt.Sprintf("Host %s has %s of memory available, below %s.", hostName(o.T), FormatBytes(v), FormatBytes(min))})
			case clear:
				o.emit(ev{typ: "memory_ok", sev: event.SevInfo, key: "host_available", noProcess: true, target: h.availTo,
					detail: map[string]any{"condition": "host_available", "value": s.MemAvail.V, "threshold": uint64(h.availMin), "fired_id": h.avail.firedID, "duration_s": round(s.TS.Sub(h.avail.firedAt).Seconds(), 3)},
					msg:    fmt.Sprintf("Host %s has %s of memory available again.", hostName(o.T), FormatBytes(v))})
			}
		}
	}
	if d.cfg.PSIMax > 0 && s.PSISome.OK {
		v, limit := s.PSISome.V, d.cfg.PSIMax
		fire, clear := h.psi.step(s.TS, v >= limit, v < limit*(1-hy), d.cfg.MemFor, d.cfg.Cooldown)
		switch {
		case fire:
			h.psiTo, h.psiMax = o.T, limit
			h.psi.firedID = o.emit(ev{typ: "memory_high", sev: event.SevWarning, key: "psi", noProcess: true,
				detail: map[string]any{"condition": "psi", "value": v, "threshold": limit, "for_s": d.cfg.MemFor.Seconds()},
				msg:    fmt.Sprintf("Host %s is under memory pressure: tasks stalled on memory %.1f%% of the last 10s (PSI some avg10), at or above %g%%.", hostName(o.T), v, limit)})
		case clear:
			o.emit(ev{typ: "memory_ok", sev: event.SevInfo, key: "psi", noProcess: true, target: h.psiTo,
				detail: map[string]any{"condition": "psi", "value": v, "threshold": h.psiMax, "fired_id": h.psi.firedID, "duration_s": round(s.TS.Sub(h.psi.firedAt).Seconds(), 3)},
				msg:    fmt.Sprintf("Host %s memory pressure is down to %.1f%% (PSI some avg10).", hostName(o.T), v)})
		}
	}
}

// memBase is what a percentage --mem-max is of: the process's cgroup memory
// limit when it has one below host memory (the limit the kernel enforces on
// it), else host memory.
func memBase(s *Sample) (opt[uint64], string) {
	if s.CgroupMax.OK && s.CgroupMax.V > 0 && (!s.MemTotal.OK || s.CgroupMax.V < s.MemTotal.V) {
		return s.CgroupMax, "cgroup"
	}
	return s.MemTotal, "host"
}

func hostName(t *Target) string {
	if t.Host == "" {
		return "(unnamed)"
	}
	return t.Host
}
