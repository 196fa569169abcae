package detect

import (
	"fmt"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// NoticeHostOOMKill is the code of the notice told when the host's OOM kill
// counter rose: a fact about the host, charged to no target.
const NoticeHostOOMKill = "host_oom_kill"

// oom: the kernel's OOM killer fired. A kill is charged to a target only
// with evidence that it was the target's: its cgroup's oom_kill counter
// (process.cgroup_oom_kills) went up between two samples. The host's
// counter (system.oom_kills) going up says only that the kernel killed
// something somewhere: that is told once per host as a host_oom_kill
// notice, which names no target, so no report is written and no score
// counts it. A process of the target that was itself killed is a crash,
// whose oom_evidence weighs the same counters (crash.go). The first value
// of each counter is the baseline.
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
			o.hostOOM(s.OOMKills.V - last)
		}
	}
	if s.HasProc && s.CgroupOOMs.OK && ownCgroup(s.Cgroup) {
		k := cgroupKey{o.T.Host, s.Cgroup}
		last, seen := swap(d.cgroup, k, s.CgroupOOMs.V)
		// A rise seen in an exit sample is the dead process's crash to
		// weigh (crash.go), not told again here.
		if seen && s.CgroupOOMs.V > last && !s.HasExit {
			n := s.CgroupOOMs.V - last
			// Kills a crash of this target already told as its own (the
			// OOM killer's victim, whose exit sample held its counter as
			// last seen) are not told again: one kill, counted once.
			n -= o.T.takeOOMTold(s.Cgroup, s.TS, n)
			if n == 0 {
				return
			}
			p := o.T.up[s.ID()]
			o.emit(ev{typ: "oom_kill", sev: event.SevCritical, key: "cgroup:" + s.Cgroup, proc: p,
				detail: map[string]any{"scope": "cgroup", "cgroup": s.Cgroup, "kills": n, "cgroup_oom_kills": s.CgroupOOMs.V},
				msg:    fmt.Sprintf("The kernel OOM killer ended %d process(es) in cgroup %s of %s.", n, s.Cgroup, o.T.Name)})
		}
	}
}

// oomToldFor is how long a crash's own OOM kill waits for its cgroup's
// counter to show it in a sibling's sample: a few ticks.
const oomToldFor = 30 * time.Second

// tellOOM keeps that a crash at ts told an OOM kill in cgroup cg as its
// own, forgetting those older than oomToldFor (at most 64 are kept).
func (t *Target) tellOOM(cg string, ts time.Time) {
	if t.oomTold == nil {
		t.oomTold = map[string][]time.Time{}
	}
	told := t.oomTold[cg]
	for len(told) > 0 && (ts.Sub(told[0]) > oomToldFor || len(told) >= 64) {
		told = told[1:]
	}
	t.oomTold[cg] = append(told, ts)
}

// takeOOMTold takes up to n of the OOM kills in cgroup cg that crashes of
// t told as their own in the oomToldFor before ts, and says how many.
func (t *Target) takeOOMTold(cg string, ts time.Time, n uint64) uint64 {
	told := t.oomTold[cg]
	var taken uint64
	keep := told[:0]
	for _, at := range told {
		switch {
		case ts.Sub(at) > oomToldFor:
			// too old: forgotten
		case taken < n:
			taken++
		default:
			keep = append(keep, at)
		}
	}
	if len(keep) == 0 {
		delete(t.oomTold, cg)
	} else {
		t.oomTold[cg] = keep
	}
	return taken
}

// ownCgroup says whether a cgroup's OOM counter is evidence about the
// processes in it: not the root cgroup, which on cgroup v1 holds every
// process not put elsewhere, so that its counter moves with a kill of any
// of them.
func ownCgroup(cg string) bool { return cg != "" && cg != "/" }

// hostOOM tells that the host's OOM kill counter rose by n: a notice
// about the host, with no target.
func (o *Obs) hostOOM(n uint64) {
	s := o.S
	out := &event.Notice{
		Header: event.NewHeader(event.KindNotice, Src, o.T.Host, s.TS),
		Code:   NoticeHostOOMKill,
		Msg:    fmt.Sprintf("The kernel OOM killer ended %d process(es) on host %s.", n, hostName(o.T)),
		Detail: map[string]any{"scope": "host", "kills": n, "oom_kills": s.OOMKills.V},
	}
	o.e.send(out)
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
