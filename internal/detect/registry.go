package detect

import (
	"fmt"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// Detector turns observations into events. Each lives in its own file and
// is listed once in registry.
type Detector interface {
	Observe(o *Obs)
}

type entry struct {
	name  string
	about string
	new   func(cfg *Config) Detector
}

// registry is every detector, in the order they see each observation: the
// life cycle first (a crash goes out before anything else its sample says),
// then the conditions, then the host.
var registry = []entry{
	{"crash", "a process (or a container's main process) that was up is gone", newCrash},
	{"started", "first sight of a target", newStarted},
	{"recovered", "the target is up again after a crash", newRecovered},
	{"restarted", "a new process replaced the old one between two ticks, or Docker's restart policy restarted a container", newRestarted},
	{"pod", "a Kubernetes pod target: started, a container's restart (crash, recovered), crashloop, unready, evicted, deleted", newPod},
	{"unhealthy", "a container's health check turned unhealthy", newUnhealthy},
	{"flapping", "--flap-count deaths within --flap-window: a crash loop", newFlapping},
	{"absent", "no process for --absent-after", newAbsent},
	{"memory", "process RSS, host available memory, memory pressure", newMemory},
	{"leak", "RSS growing steadily over --leak-window", newLeak},
	{"threads", "thread count changed by --threads-delta", newThreads},
	{"fds", "open files near the limit", newFDs},
	{"cpu", "CPU use above --cpu-max for --cpu-for", newCPU},
	{"oom", "the kernel's OOM killer fired", newOOM},
	{"custom", "--when jq conditions", newCustom},
}

// Names lists the detectors, for --disable and the docs.
func Names() []string {
	out := make([]string, len(registry))
	for i, r := range registry {
		out[i] = r.name
	}
	return out
}

// About describes a detector.
func About(name string) string {
	for _, r := range registry {
		if r.name == name {
			return r.about
		}
	}
	return ""
}

// Kind is what an observation is about.
type Kind int

// Observation kinds, in the order a sample produces them.
const (
	KindEnd    Kind = iota // P ended (Cause: exit, absent, replaced)
	KindBegin              // P began (Cause: first, after_crash, replaced, member)
	KindUp                 // an up sample of P
	KindDown               // a tick found the target without any process
	KindSample             // every sample used, last: host-wide conditions
	// KindPod is a sample of a pod target (one with a pod, or of a target
	// that had one): no process life cycle, no P. The pod detector reads
	// it first (pod.go), then the others (custom conditions); it comes
	// before the sample's KindSample.
	KindPod
)

// Causes of a beginning or an end.
const (
	CauseExit       = "exit"        // the sampler reported the exit
	CauseAbsent     = "absent"      // missing from a complete tick
	CauseReplaced   = "replaced"    // another identity took its place in one tick
	CauseFirst      = "first"       // the target's first process
	CauseAfterCrash = "after_crash" // back after a crash
	CauseMember     = "member"      // one more process of a target already up
	// CausePolicy: a container's run that Docker's restart policy ends
	// and begins again (End: the run that died; Begin: the next run).
	CausePolicy = "restart_policy"
)

// Obs is one observation handed to each detector in turn.
type Obs struct {
	Kind  Kind
	S     *Sample
	T     *Target
	P     *Proc
	Cause string
	Other *Proc  // End by replacement: the new one; Begin by replacement: the old one
	Crash *Crash // End: the crash it makes; Begin after a crash: the crash it answers
	e     *Engine
	slot  int
}

// procState returns the detector's state for o.P, made on first use.
func procState[T any](o *Obs) *T {
	s := &o.P.slots[o.slot]
	if *s == nil {
		*s = new(T)
	}
	return (*s).(*T)
}

// targetState returns the detector's state for o.T.
func targetState[T any](o *Obs) *T {
	s := &o.T.slots[o.slot]
	if *s == nil {
		*s = new(T)
	}
	return (*s).(*T)
}

// ev is an event under construction.
type ev struct {
	typ, sev, key string
	msg           string
	detail        map[string]any
	proc          *Proc // the process it is about, if any
	noProcess     bool  // a host-wide event: no process
	live          bool  // process is proc's last live reading, not the sample's
	target        *Target
	// ts, when set, dates the event instead of the sample: a pod
	// container's crash is dated by the kubelet's finished_at.
	ts time.Time
}

// emit sends an event made from o's sample and returns its id.
func (o *Obs) emit(v ev) string {
	e := o.e
	t := v.target
	if t == nil {
		t = o.T
	}
	var id event.Identity
	if v.proc != nil {
		id = v.proc.ID
	}
	ts := o.S.TS
	if !v.ts.IsZero() {
		ts = v.ts
	}
	out := &event.Event{
		Header:   event.NewHeader(event.KindEvent, Src, t.Host, ts),
		ID:       e.id(ts, t, v.typ, v.key, id),
		Type:     v.typ,
		Severity: v.sev,
		Target:   t.Name,
		Msg:      v.msg,
		Detail:   v.detail,
	}
	if full := e.full(); full != nil {
		out.System = full.System
		if !v.noProcess && !v.live && full.Process != nil && (v.proc == nil || full.Process.ID() == v.proc.ID) {
			out.Process = full.Process
		}
	}
	if !v.noProcess && out.Process == nil && v.proc != nil {
		p, sys := lastProcess(v.proc)
		out.Process = p
		if out.System == nil {
			out.System = sys
		}
	}
	e.send(out)
	return out.ID
}

// cond is an edge-triggered condition with a for-duration, hysteresis (the
// caller's on/off tests) and a cooldown, all on sample time.
type cond struct {
	pending  bool
	since    time.Time
	firing   bool
	firedAt  time.Time
	firedID  string
	lastFire time.Time
	fired    bool
}

// step feeds one observation at ts: on is the entry test, off the exit
// test (on implies !off); between them is the hysteresis band. A pending
// condition stays pending inside the band, so a value flapping across the
// threshold fires once, after forDur, instead of never or often. It reports
// whether the condition just fired or just cleared.
func (c *cond) step(ts time.Time, on, off bool, forDur, cooldown time.Duration) (fire, clear bool) {
	if c.firing {
		if off {
			c.firing, c.pending = false, false
			return false, true
		}
		return false, false
	}
	if off || !c.pending && !on {
		c.pending = false
		return false, false
	}
	if !c.pending {
		c.pending, c.since = true, ts
	}
	if !on || ts.Sub(c.since) < forDur {
		return false, false
	}
	if c.fired && ts.Sub(c.lastFire) < cooldown {
		return false, false
	}
	c.firing, c.firedAt, c.lastFire, c.fired = true, ts, ts, true
	return true, false
}

// who names a process in messages: "nginx (pid 42)".
func who(p *Proc) string {
	if p == nil {
		return "the process"
	}
	if p.Name == "" {
		return fmt.Sprintf("pid %d", p.ID.PID)
	}
	return fmt.Sprintf("%s (pid %d)", p.Name, p.ID.PID)
}

// round keeps n decimals, so events do not carry float noise.
func round(v float64, n int) float64 {
	p := 1.0
	for range n {
		p *= 10
	}
	if v < 0 {
		return -float64(int64(-v*p+0.5)) / p
	}
	return float64(int64(v*p+0.5)) / p
}

// subject names a process and its target: "nginx (pid 42)", or
// "worker (pid 42) of api" when the target is named otherwise.
func subject(t *Target, p *Proc) string {
	if p != nil && p.Name == t.Name {
		return who(p)
	}
	return who(p) + " of " + t.Name
}
