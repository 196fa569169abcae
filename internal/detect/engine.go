package detect

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// Why a sample was skipped.
const (
	SkipBadSample  = "bad_sample"
	SkipOutOfOrder = "out_of_order"
	SkipDuplicate  = "duplicate"
	SkipStale      = "stale" // a sample of a process already ended
)

// SkipError says a sample was not used, and why; the caller counts it.
type SkipError struct {
	Reason string
	Err    error
}

func (e *SkipError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *SkipError) Unwrap() error { return e.Err }

func skip(reason, format string, a ...any) error {
	return &SkipError{Reason: reason, Err: fmt.Errorf(format, a...)}
}

// Emit receives each record the engine makes: *event.Event,
// *event.Summary or *event.Notice. An error stops the engine and is returned as is.
type Emit func(rec any) error

// Engine turns samples into events. It is not safe for concurrent use.
type Engine struct {
	cfg     Config
	dets    []Detector
	names   []string
	targets map[targetKey]*Target
	order   []*Target // in order of first sight, for summaries
	in      *event.Interner
	cur     Sample
	ob      Obs // reused: observations never nest
	emit    Emit
	err     error
	clock   time.Time // the newest sample time seen
	sum     *summaries
	decoded *event.Sample // cur decoded in full, on demand
	decErr  error
	prior   map[targetKey]Sighting // Config.Prior, until each target's first sample
	changes uint64                 // processes begun or ended: Sightings changed
	podDet  Detector               // the pod detector, nil when disabled
}

type targetKey struct{ host, target string }

// Target is what the engine knows of one target on one host.
type Target struct {
	Host, Name string
	up         map[event.Identity]*Proc
	everUp     bool
	down       bool
	downSince  time.Time
	firstSeen  time.Time
	pending    []Crash // crashes not yet answered by a recovery
	// A container target: Docker's restart count as last seen, and the
	// run its restart policy is bringing back (its exit sample's facts).
	restarts opt[int]
	policy   *policyEnd
	// oomTold holds, by cgroup, when a crash of this target told an OOM
	// kill as its own (the kernel's log named it) while its exit sample
	// still held the cgroup's counter as last seen: when a process still
	// in that cgroup shows the rise soon after, it is not told again as an
	// oom_kill. Kept for oomToldFor, then forgotten.
	oomTold map[string][]time.Time
	ended   []event.Identity
	group   group
	slots   []any
	// pod is set for a pod target (a Kubernetes pod, sre-sample --pod):
	// its samples take the pod path, not the process life cycle.
	pod *podTrack
}

// group is one tick of a target: the samples sharing a ts.
type group struct {
	active, done bool
	ts           time.Time
	matches      int
	seen         []event.Identity
	fresh        []*Proc // new identities whose beginning is decided at the end of the tick
}

// policyEnd is a container's run that ended while Docker's restart policy
// brings it back: no crash, and the next run is a restart.
type policyEnd struct {
	TS        time.Time
	Proc      *Proc
	Exit      event.ExitView
	Container event.ContainerView
}

// Crash is a crash the target has not recovered from yet.
type Crash struct {
	ID   string
	TS   time.Time
	Proc *Proc
}

// Proc is one process identity under a target.
type Proc struct {
	ID        event.Identity
	Name      string
	Start     time.Time
	FirstTS   time.Time
	LastTS    time.Time
	Last      point
	lastRaw   []byte
	hostOOM   opt[uint64]
	cgroupOOM opt[uint64]
	memMax    opt[uint64]
	hist      []point // ring of the last History points
	histN     int
	slots     []any
	mapped    bool   // an up sample showed an address space (vms_bytes > 0)
	teardown  *point // a reading taken while the kernel tore the process down
	tornState string
	tornVMS   opt[uint64]
	tornExit  bool // the teardown reading said process.exiting
}

// Point is a compact sample for crash history: what the run-up looked like.
type Point struct {
	TS      event.Time `json:"ts"`
	CPUPct  *float64   `json:"cpu_pct,omitempty"`
	RSS     uint64     `json:"rss_bytes"`
	Threads int        `json:"threads"`
	FDs     *int       `json:"fds,omitempty"`
}

// point is a Point as kept in memory: no pointers, so keeping one per
// sample allocates nothing.
type point struct {
	ts      time.Time
	cpu     opt[float64]
	rss     uint64
	threads int
	fds     opt[int]
}

func (pt point) export() Point {
	out := Point{TS: event.At(pt.ts), RSS: pt.rss, Threads: pt.threads}
	if pt.cpu.OK {
		v := pt.cpu.V
		out.CPUPct = &v
	}
	if pt.fds.OK {
		v := pt.fds.V
		out.FDs = &v
	}
	return out
}

// Teardown returns the reading taken while the kernel tore p down, with
// its state, if the sampler caught one.
func (p *Proc) Teardown() (pt Point, state string, ok bool) {
	if p.teardown == nil {
		return Point{}, "", false
	}
	return p.teardown.export(), p.tornState, true
}

// TeardownSigns is what marked p's teardown reading: its vms_bytes (when
// the sample had it) and whether the sampler saw the kernel ending it.
func (p *Proc) TeardownSigns() (vms opt[uint64], exiting bool) {
	return p.tornVMS, p.tornExit
}

// LastLive is the time of p's last reading of the live process.
func (p *Proc) LastLive() time.Time { return p.Last.ts }

// History returns the last points, oldest first.
func (p *Proc) History() []Point {
	n := len(p.hist)
	if n == 0 {
		return nil
	}
	out := make([]Point, 0, min(p.histN, n))
	start := 0
	if p.histN > n {
		start = p.histN % n
	}
	for i := range min(p.histN, n) {
		out = append(out, p.hist[(start+i)%n].export())
	}
	return out
}

func (p *Proc) push(pt point) {
	if len(p.hist) == 0 {
		return
	}
	p.hist[p.histN%len(p.hist)] = pt
	p.histN++
}

// New returns an engine that emits to emit.
func New(cfg Config, emit Emit) (*Engine, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if cfg.Warnf == nil {
		cfg.Warnf = func(string, ...any) {}
	}
	e := &Engine{cfg: cfg, targets: map[targetKey]*Target{}, in: event.NewInterner(), emit: emit, prior: map[targetKey]Sighting{}}
	for _, sg := range cfg.Prior {
		e.prior[targetKey{sg.Host, sg.Target}] = sg
	}
	for _, r := range registry {
		if slices.Contains(cfg.Disabled, r.name) {
			continue
		}
		if r.name == "custom" && len(cfg.Whens) == 0 {
			continue
		}
		e.names = append(e.names, r.name)
		if r.name == "pod" {
			// Only pod targets' samples reach it (usePod): the process
			// path does not call it.
			e.podDet = r.new(&e.cfg)
			continue
		}
		e.dets = append(e.dets, r.new(&e.cfg))
	}
	if cfg.Summary > 0 {
		e.sum = newSummaries(cfg.Summary)
	}
	return e, nil
}

// Detectors lists the names of the detectors that run, in order.
func (e *Engine) Detectors() []string { return e.names }

// Sample processes one sample line. It returns a *SkipError for a sample it
// did not use, and emit's error if emit failed.
func (e *Engine) Sample(raw []byte) error {
	if err := e.Decode(raw); err != nil {
		return err
	}
	return e.Use()
}

// Decode reads one sample line for Use, which must follow before the next
// Decode; raw must stay unchanged until then. It returns a *SkipError for
// a line that is not a usable sample.
func (e *Engine) Decode(raw []byte) error {
	e.decoded, e.decErr = nil, nil
	if err := event.ParseSample(raw, &e.cur, e.in); err != nil {
		return &SkipError{Reason: SkipBadSample, Err: err}
	}
	return nil
}

// Decoder reads sample lines apart from an Engine, with strings of its
// own, so that decoding can run in another goroutine than the detectors.
// Its Check is the line check of an ndjson.Reader (ndjson.WithCheck): it
// decodes a sample as it checks the line, which is then scanned once.
type Decoder struct {
	in   *event.Interner
	last Sample
	err  error
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder { return &Decoder{in: event.NewInterner()} }

// Check is event.ReadSample for ndjson.WithCheck: a sample the detectors
// cannot use is still a record, and Last says why.
func (d *Decoder) Check(line []byte) (event.Head, error) {
	h, err := event.ReadSample(line, &d.last, d.in)
	d.err = nil
	if errors.Is(err, event.ErrBadSample) {
		d.err = &SkipError{Reason: SkipBadSample, Err: err}
		return h, nil
	}
	return h, err
}

// Last returns the sample the last Check read, when that line was a
// sample record, and a *SkipError when the detectors cannot use it. Its
// Raw is the line Check was given.
func (d *Decoder) Last() (*Sample, error) { return &d.last, d.err }

// UseSample runs the detectors on a sample a Decoder read, as Use does;
// s.Raw must stay unchanged until the next call.
func (e *Engine) UseSample(s *Sample) error {
	e.cur = *s
	e.decoded, e.decErr = nil, nil
	return e.Use()
}

// Use runs the detectors on the sample Decode read. It returns a
// *SkipError for a sample it did not use, and emit's error if emit failed.
func (e *Engine) Use() error {
	s := &e.cur
	key := targetKey{s.Host, s.Target}
	t := e.targets[key]
	if t == nil {
		t = &Target{Host: s.Host, Name: s.Target, up: map[event.Identity]*Proc{}, firstSeen: s.TS, slots: make([]any, len(e.dets))}
		e.targets[key] = t
		e.order = append(e.order, t)
		if was, ok := e.prior[key]; ok {
			delete(e.prior, key)
			if prev := priorPod(was); s.Pod != nil || prev != nil {
				t.pod = &podTrack{prior: prev, priorTS: was.TS}
			} else if !s.HasExit {
				e.unwatched(t, s, was)
				if e.err != nil {
					return e.err
				}
			}
		}
	}
	if s.TS.After(e.clock) {
		e.clock = s.TS
	}
	if e.sum != nil {
		e.sum.flushBefore(e, s.TS)
	}
	if s.Pod != nil || t.pod != nil {
		// A pod's containers are known by what the cluster's API says of
		// them, not by pids: they have a path of their own (pod.go).
		return e.usePod(t, s)
	}
	var err error
	if s.HasExit {
		err = e.exit(t, s)
	} else {
		err = e.tick(t, s)
	}
	if err != nil {
		return err
	}
	if e.sum != nil && !torn(t, s) {
		e.sum.add(t, s)
	}
	e.observe(Obs{Kind: KindSample, S: s, T: t})
	return e.err
}

// Flush ends the input: the summaries of the periods in progress go out.
// A tick still open is left open: a stream that stops says nothing of the
// processes it watched.
func (e *Engine) Flush() error {
	if e.sum != nil {
		e.sum.flushAll(e)
	}
	return e.err
}

func (e *Engine) exit(t *Target, s *Sample) error {
	var p *Proc
	if s.HasProc {
		p = t.up[s.ID()]
	} else {
		for _, q := range t.up {
			if q.ID.PID == s.Exit.PID && (p == nil || q.FirstTS.After(p.FirstTS)) {
				p = q
			}
		}
	}
	if p == nil {
		if s.HasProc && slices.Contains(t.ended, s.ID()) {
			return skip(SkipDuplicate, "exit of pid %d already seen", s.Exit.PID)
		}
		return nil // the exit of a process this stream never showed up: nothing to say
	}
	if s.TS.Before(p.LastTS) {
		return skip(SkipOutOfOrder, "exit of pid %d at %s is older than its last sample", s.Exit.PID, s.TS.Format(time.RFC3339Nano))
	}
	if policyRestart(t, s) {
		t.policy = &policyEnd{TS: s.TS, Proc: p, Exit: s.Exit, Container: s.Container}
		t.restarts = event.Some(s.Container.RestartCount)
		e.end(t, p, s, CausePolicy, nil)
		return e.err
	}
	e.end(t, p, s, CauseExit, nil)
	return e.err
}

// policyRestart reports a container death that Docker's restart policy
// answers: the daemon says it is restarting, or its restart count rose
// (Docker counts the restart as it decides it, before the die event).
func policyRestart(t *Target, s *Sample) bool {
	if !s.HasContainer {
		return false
	}
	c := &s.Container
	return c.State == "restarting" || t.restarts.OK && c.RestartCount > t.restarts.V
}

func (e *Engine) tick(t *Target, s *Sample) error {
	g := &t.group
	switch {
	case g.active && s.TS.Before(g.ts):
		return skip(SkipOutOfOrder, "sample of %q at %s is older than %s", s.Target, s.TS.Format(time.RFC3339Nano), g.ts.Format(time.RFC3339Nano))
	case g.active && s.TS.Equal(g.ts):
		if !s.Up && !s.HasProc || s.HasProc && slices.Contains(g.seen, s.ID()) {
			return skip(SkipDuplicate, "sample of %q at %s seen twice", s.Target, s.TS.Format(time.RFC3339Nano))
		}
	default:
		if g.active && !g.done {
			e.finish(t, s, len(g.seen) >= g.matches)
		}
		*g = group{active: true, ts: s.TS, matches: s.Matches, seen: g.seen[:0], fresh: g.fresh[:0]}
	}
	if !s.Up {
		g.matches = 0
		e.finish(t, s, true)
		if pe := t.policy; pe != nil && s.HasContainer && s.Container.State != "restarting" {
			// Docker's restart policy did not bring it back (it gave up,
			// or someone stopped it meanwhile): the death is a crash.
			t.policy = nil
			e.policyCrash(t, pe, s)
		}
		if !t.everUp && !t.down {
			t.down, t.downSince = true, t.firstSeen
		}
		e.observe(Obs{Kind: KindDown, S: s, T: t})
		return e.err
	}
	id := s.ID()
	if slices.Contains(t.ended, id) {
		return skip(SkipStale, "sample of pid %d of %q after it ended", s.PID, s.Target)
	}
	restarts := t.restarts
	if s.HasContainer {
		t.restarts = event.Some(s.Container.RestartCount)
	}
	g.seen = append(g.seen, id)
	p := t.up[id]
	if p == nil {
		p = e.newProc(t, s)
		alone := len(t.up) == 0
		t.up[id] = p
		e.update(p, s)
		t.down = false
		switch {
		case !t.everUp:
			t.everUp = true
			e.begin(t, p, s, CauseFirst, nil, nil)
		case alone && t.policy != nil:
			prev := t.policy.Proc
			e.begin(t, p, s, CausePolicy, prev, nil)
			t.policy = nil
		case alone && s.HasContainer && restarts.OK && s.Container.RestartCount > restarts.V && len(t.pending) == 0:
			// Docker restarted it between two samples, its death unseen.
			e.begin(t, p, s, CausePolicy, nil, nil)
		case alone:
			e.begin(t, p, s, CauseAfterCrash, nil, e.answer(t))
		case g.done: // more processes than the tick announced
			e.begin(t, p, s, e.memberCause(t), nil, e.answer(t))
		default:
			// Others are up: whether this one replaced one of them, came
			// back after a crash or joined them is known at the tick's end.
			g.fresh = append(g.fresh, p)
		}
	} else {
		e.update(p, s)
	}
	if p.teardown == nil { // a dying process's figures are not news
		e.observe(Obs{Kind: KindUp, S: s, T: t, P: p})
	}
	if g.matches >= 0 && len(g.seen) >= g.matches && !g.done {
		e.finish(t, s, true)
	}
	return e.err
}

// finish closes the tick: an identity that was up and is not in it has
// gone; one that came in its place restarted it.
func (e *Engine) finish(t *Target, s *Sample, complete bool) {
	g := &t.group
	g.done = true
	var gone []*Proc
	if complete || g.matches < 0 {
		for id, p := range t.up {
			if !slices.Contains(g.seen, id) {
				gone = append(gone, p)
			}
		}
	}
	slices.SortFunc(gone, func(a, b *Proc) int {
		return cmp.Or(cmp.Compare(a.ID.PID, b.ID.PID), cmp.Compare(a.ID.StartTicks, b.ID.StartTicks))
	})
	fresh := g.fresh
	g.fresh = g.fresh[:0]
	for i, old := range gone {
		if i < len(fresh) {
			e.end(t, old, s, CauseReplaced, fresh[i])
			e.begin(t, fresh[i], s, CauseReplaced, old, nil)
			continue
		}
		e.end(t, old, s, CauseAbsent, nil)
	}
	for i := len(gone); i < len(fresh); i++ {
		e.begin(t, fresh[i], s, e.memberCause(t), nil, e.answer(t))
	}
}

// answer takes the oldest crash a new process answers, if any.
func (e *Engine) answer(t *Target) *Crash {
	if len(t.pending) == 0 {
		return nil
	}
	c := t.pending[0]
	t.pending = t.pending[1:]
	return &c
}

// memberCause is why one more process joined a target that is up: it
// replaces a crashed one, or simply joined.
func (e *Engine) memberCause(t *Target) string {
	if len(t.pending) > 0 {
		return CauseAfterCrash
	}
	return CauseMember
}

func (e *Engine) newProc(t *Target, s *Sample) *Proc {
	p := &Proc{ID: s.ID(), Name: s.Name, Start: s.Start, FirstTS: s.TS, slots: make([]any, len(e.dets))}
	if e.cfg.History > 0 {
		p.hist = make([]point, e.cfg.History)
	}
	return p
}

// torn reports whether s is a teardown reading (see update): not the
// process at work, so not in its summary either.
func torn(t *Target, s *Sample) bool {
	if !s.Up || !s.HasProc {
		return false
	}
	p := t.up[s.ID()]
	return p != nil && p.teardown != nil
}

// update records an up sample of p. A reading the sampler marked
// process.exiting (the kernel is ending the process: a SIGKILL pending, or
// its main thread in do_exit) is of its teardown: its threads are ending
// and its memory going while it is taken. So is one of a process that had
// an address space and shows none (vms_bytes 0: its main thread's memory
// released at exit), which is how a sample stream without exiting tells
// it. Such a reading, and every reading after it, is kept apart
// (Proc.Teardown), so that p's last reading, history and the crash to come
// show the live process. A process first seen exiting has no live reading
// to keep: that one stands for it.
func (e *Engine) update(p *Proc, s *Sample) {
	if s.Exiting && !p.Last.ts.IsZero() || s.VMS.OK && s.VMS.V == 0 && p.mapped || p.teardown != nil {
		p.teardown = &point{ts: s.TS, cpu: s.CPU, rss: s.RSS, threads: s.Threads, fds: s.FDs}
		p.tornState, p.tornVMS, p.tornExit, p.LastTS = s.State, s.VMS, s.Exiting, s.TS
		return
	}
	if s.VMS.OK && s.VMS.V > 0 {
		p.mapped = true
	}
	pt := point{ts: s.TS, cpu: s.CPU, rss: s.RSS, threads: s.Threads, fds: s.FDs}
	p.Last, p.LastTS, p.Name = pt, s.TS, s.Name
	p.push(pt)
	p.lastRaw = append(p.lastRaw[:0], s.Raw...)
	if s.OOMKills.OK {
		p.hostOOM = s.OOMKills
	}
	if s.CgroupOOMs.OK {
		p.cgroupOOM = s.CgroupOOMs
	}
	p.memMax = s.CgroupMax
}

func (e *Engine) end(t *Target, p *Proc, s *Sample, cause string, next *Proc) {
	e.changes++
	delete(t.up, p.ID)
	t.ended = append(t.ended, p.ID)
	if len(t.ended) > 64 {
		t.ended = slices.Delete(t.ended, 0, len(t.ended)-64)
	}
	o := Obs{Kind: KindEnd, S: s, T: t, P: p, Cause: cause, Other: next}
	if cause == CausePolicy {
		if len(t.up) == 0 {
			t.down, t.downSince = true, s.TS
		}
	} else if cause != CauseReplaced {
		c := Crash{ID: e.id(s.TS, t, "crash", "", p.ID), TS: s.TS, Proc: p}
		o.Crash = &c
		t.pending = append(t.pending, c)
		if len(t.pending) > 64 {
			t.pending = t.pending[1:]
		}
		if len(t.up) == 0 {
			t.down, t.downSince = true, s.TS
		}
	}
	e.observe(o)
}

// policyCrash reports the death of a container's run that its restart
// policy was to bring back and did not: a crash dated when it died, told by
// the sample that shows it will not come back.
func (e *Engine) policyCrash(t *Target, pe *policyEnd, s *Sample) {
	at := *s
	at.TS, at.HasExit, at.Exit, at.Container = pe.TS, true, pe.Exit, pe.Container
	c := Crash{ID: e.id(pe.TS, t, "crash", "", pe.Proc.ID), TS: pe.TS, Proc: pe.Proc}
	t.pending = append(t.pending, c)
	if len(t.pending) > 64 {
		t.pending = t.pending[1:]
	}
	e.observe(Obs{Kind: KindEnd, S: &at, T: t, P: pe.Proc, Cause: CauseExit, Crash: &c})
}

func (e *Engine) begin(t *Target, p *Proc, s *Sample, cause string, prev *Proc, c *Crash) {
	e.changes++
	e.observe(Obs{Kind: KindBegin, S: s, T: t, P: p, Cause: cause, Other: prev, Crash: c})
}

func (e *Engine) observe(ob Obs) {
	if e.err != nil {
		return
	}
	e.ob = ob
	o := &e.ob
	o.e = e
	for i, d := range e.dets {
		o.slot = i
		d.Observe(o)
		if e.err != nil {
			return
		}
	}
}

// id makes an event id that is the same for the same input: the sample
// time (so ids sort in time order as text) and a hash of what the event is.
func (e *Engine) id(ts time.Time, t *Target, typ, key string, id event.Identity) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%d\x00%d\x00%d", t.Host, t.Name, typ, key, id.PID, id.StartTicks, ts.UnixNano())
	var sum [sha256.Size]byte
	return ts.UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(h.Sum(sum[:0])[:8])
}

// full decodes the current sample completely, once, for an event's process
// and system.
func (e *Engine) full() *event.Sample {
	if e.decoded == nil && e.decErr == nil {
		var s event.Sample
		if err := json.Unmarshal(e.cur.Raw, &s); err != nil {
			e.decErr = err
		} else {
			e.decoded = &s
		}
	}
	return e.decoded
}

// lastProcess is p's process as its last up sample showed it.
func lastProcess(p *Proc) (*event.Process, *event.System) {
	if p == nil || len(p.lastRaw) == 0 {
		return nil, nil
	}
	var s event.Sample
	if json.Unmarshal(p.lastRaw, &s) != nil {
		return nil, nil
	}
	return s.Process, s.System
}

func (e *Engine) send(rec any) {
	if e.err != nil {
		return
	}
	if err := e.emit(rec); err != nil {
		e.err = err
	}
}
