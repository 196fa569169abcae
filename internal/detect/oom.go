package detect

import (
	"fmt"

	"github.com/localsre/sre-agent/internal/event"
)

// oom: the kernel's OOM killer fired — the host's oom_kill counter
// (system.oom_kills) or a process cgroup's (process.cgroup_oom_kills) went
// up between two samples. The first value of each counter is the baseline.
// A host-wide kill is told once, under the target whose sample showed it.
type oom struct {
	// The last value of each counter, by pointer, so that a sample costs
	// one map lookup per counter.
	host   map[string]*uint64
	cgroup map[cgroupKey]*uint64
}

var _ Detector = (*oom)(nil)

type cgroupKey struct{ host, cgroup string }

func newOOM(*Config) Detector {
	return &oom{host: map[string]*uint64{}, cgroup: map[cgroupKey]*uint64{}}
}

func (d *oom) Observe(o *Obs) {
	if o.Kind != KindSample {
		return
	}
	s := o.S
	if s.OOMKills.OK {
		last, seen := swap(d.host, o.T.Host, s.OOMKills.V)
		if seen && s.OOMKills.V > last {
			n := s.OOMKills.V - last
			o.emit(ev{typ: "oom_kill", sev: event.SevWarning, key: "host", noProcess: true,
				detail: map[string]any{"scope": "host", "kills": n, "oom_kills": s.OOMKills.V},
				msg:    fmt.Sprintf("The kernel OOM killer ended %d process(es) on host %s.", n, hostName(o.T))})
		}
	}
	if s.HasProc && s.CgroupOOMs.OK && !s.HasExit {
		k := cgroupKey{o.T.Host, s.Cgroup}
		last, seen := swap(d.cgroup, k, s.CgroupOOMs.V)
		if seen && s.CgroupOOMs.V > last {
			n := s.CgroupOOMs.V - last
			p := o.T.up[s.ID()]
			o.emit(ev{typ: "oom_kill", sev: event.SevCritical, key: "cgroup:" + s.Cgroup, proc: p,
				detail: map[string]any{"scope": "cgroup", "cgroup": s.Cgroup, "kills": n, "cgroup_oom_kills": s.CgroupOOMs.V},
				msg:    fmt.Sprintf("The kernel OOM killer ended %d process(es) in cgroup %s of %s.", n, s.Cgroup, o.T.Name)})
		}
	}
}

// swap stores v as k's counter and returns the one it replaces, if any.
func swap[K comparable](m map[K]*uint64, k K, v uint64) (last uint64, seen bool) {
	p := m[k]
	if p == nil {
		m[k] = &v
		return 0, false
	}
	last, *p = *p, v
	return last, true
}
