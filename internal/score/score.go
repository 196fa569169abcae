package score

import (
	"math"
	"sort"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// Formula is the stability score, as docs/score.md explains it.
const Formula = "100 × availability × 1/(1 + failures/max(observed_days, 1))"

// fact is one dated thing that counts inside a window.
type fact struct {
	ts    time.Time
	crash bool // for failures: a crash (true) or a restarted (false)
}

// interval is one incident: a target down from start to end.
type interval struct{ start, end time.Time }

// sighting is a started event: at ts a (new) sre-detect saw the target up,
// with a process that came up at back.
type sighting struct{ ts, back time.Time }

// ActionKey is what sre_heal_actions_total is counted by.
type ActionKey struct{ Rule, Action, Result string }

type target struct {
	firstSeen, lastSeen time.Time // events only; zero until one is seen
	gone                time.Time // a pod target's deletion (deleted); zero while it exists
	crashesTotal        int
	oomTotal            int
	lastCrash           time.Time
	failures            []fact
	restarts            []time.Time
	ooms                []time.Time
	incidents           []interval
	open                map[string]time.Time // crash id → ts: not yet answered by a recovered
	answered            map[string]bool      // crash ids answered before their crash was read
	ups                 []sighting           // started events: the target seen up by a fresh sre-detect
	actions             map[ActionKey]int
	memTS               time.Time
	rss, slope          *float64
}

// Aggregator folds archive records into per-target facts. Sums do not
// depend on the order records arrive in: a window is computed from the
// records' timestamps, and a recovered carries its own incident
// (down_since + downtime_s), so out-of-order archives score the same as
// sorted ones. Memory holds one entry per failure, heal action and OOM kill
// inside the longest window, per unanswered crash, and a few counters per
// target — never the archive.
type Aggregator struct {
	windows []Window
	longest time.Duration
	until   time.Time // records after this are not counted (zero: none cut)
	targets map[string]*target
	added   int // facts since the last prune
}

// New returns an Aggregator for windows. until, when not zero, is the
// scoring time --at: records after it are ignored and facts older than the
// longest window before it are not kept.
func New(windows []Window, until time.Time) *Aggregator {
	a := &Aggregator{windows: windows, until: until, targets: map[string]*target{}}
	for _, w := range windows {
		a.longest = max(a.longest, w.Dur)
	}
	return a
}

// Windows returns the windows the Aggregator scores.
func (a *Aggregator) Windows() []Window { return a.windows }

func (a *Aggregator) target(name string) *target {
	t := a.targets[name]
	if t == nil {
		t = &target{open: map[string]time.Time{}, answered: map[string]bool{}, actions: map[ActionKey]int{}}
		a.targets[name] = t
	}
	return t
}

func (a *Aggregator) after(ts time.Time) bool { return !a.until.IsZero() && ts.After(a.until) }

// old reports whether ts is before every window, so only totals need it.
func (a *Aggregator) old(ts time.Time) bool {
	return !a.until.IsZero() && ts.Before(a.until.Add(-a.longest))
}

// Event types the score reads (docs/detect.md).
const (
	TypeCrash        = event.TypeCrash
	TypeRecovered    = event.TypeRecovered
	TypeRestarted    = event.TypeRestarted
	TypeOOMKill      = event.TypeOOMKill
	TypeStabilityLow = event.TypeStabilityLow
	TypeStarted      = event.TypeStarted
	TypeDeleted      = event.TypeDeleted
)

// ScopeHost is the detail.scope of an oom_kill event that names no
// process of its target (written by sre-detect before host OOM kills
// became host_oom_kill notices).
const ScopeHost = "host"

// AddEvent folds one event in.
func (a *Aggregator) AddEvent(r *Rec) {
	if r.Target == "" || r.TS.IsZero() || r.Type == TypeStabilityLow {
		return // our own alerts fed back must not keep a target "present"
	}
	if r.Type == TypeRecovered {
		a.addRecovered(r)
		return
	}
	if r.Type == TypeOOMKill && r.Scope == ScopeHost {
		return // a kill somewhere on the host: no target's failure
	}
	if r.Type == TypeStarted {
		a.addStarted(r)
		return
	}
	if r.Type == TypeDeleted {
		a.addDeleted(r)
		return
	}
	if a.after(r.TS) {
		return
	}
	t := a.target(r.Target)
	a.seen(t, r.TS)
	old := a.old(r.TS)
	switch r.Type {
	case TypeCrash:
		if r.OOMKilled { // the OOM killer's, on the evidence sre-detect weighed
			t.oomTotal++
			if !old {
				t.ooms = append(t.ooms, r.TS)
				a.added++
			}
		}
		t.crashesTotal++
		if r.TS.After(t.lastCrash) {
			t.lastCrash = r.TS
		}
		if !old {
			t.failures = append(t.failures, fact{ts: r.TS, crash: true})
			a.added++
		}
		id := r.ID
		if id == "" {
			id = "@" + r.TS.String()
		}
		if t.answered[id] {
			delete(t.answered, id)
		} else {
			t.open[id] = r.TS
		}
	case TypeRestarted:
		if !old {
			t.failures = append(t.failures, fact{ts: r.TS})
			a.added++
		}
	case TypeOOMKill:
		t.oomTotal++
		if !old {
			t.ooms = append(t.ooms, r.TS)
			a.added++
		}
	}
	a.maybePrune()
}

func (a *Aggregator) seen(t *target, ts time.Time) {
	if t.firstSeen.IsZero() || ts.Before(t.firstSeen) {
		t.firstSeen = ts
	}
	if ts.After(t.lastSeen) {
		t.lastSeen = ts
	}
}

// addRecovered closes the incident a recovered answers. The incident runs
// from detail.down_since (the crash) for detail.downtime_s; a recovery after
// --at leaves the incident open at --at (windows clip it there). One with a
// crash_id and neither figure closes that crash without an incident.
func (a *Aggregator) addRecovered(r *Rec) {
	start, end := r.TS, r.TS
	switch {
	case r.DownSince != nil && r.DowntimeS != nil:
		start = *r.DownSince
		end = start.Add(seconds(*r.DowntimeS))
	case r.DownSince != nil:
		start = *r.DownSince
	case r.DowntimeS != nil:
		start = r.TS.Add(-seconds(*r.DowntimeS))
	}
	if end.Before(start) {
		end = start
	}
	if a.after(start) {
		return // the crash it answers is after --at too
	}
	t := a.target(r.Target)
	if !a.after(r.TS) {
		a.seen(t, r.TS)
	}
	switch {
	case r.CrashID != "":
		if _, ok := t.open[r.CrashID]; ok {
			delete(t.open, r.CrashID)
		} else {
			t.answered[r.CrashID] = true
		}
	default:
		// No crash_id: the target is up again, so no crash before is
		// still down.
		for id, ts := range t.open {
			if !ts.After(start) {
				delete(t.open, id)
			}
		}
	}
	if r.CrashID != "" && r.DownSince == nil && r.DowntimeS == nil {
		// It answers a crash whose downtime no one saw (a pod's container
		// restarted more than once between two samples): the crash counts
		// as a failure, and no incident of a made-up length is added.
		a.maybePrune()
		return
	}
	if !a.old(end) {
		t.incidents = append(t.incidents, interval{start, end})
		a.added++
	}
	a.maybePrune()
}

// addDeleted reads a pod target's deletion: the target is gone, so it is
// observed no more after it (a pod recreated under the same name, seen
// later, is observed again), and a crash it answers (crash_id, with
// down_since and downtime_s: down until the deletion) is over.
func (a *Aggregator) addDeleted(r *Rec) {
	if r.CrashID != "" {
		a.addRecovered(r)
	} else if !a.after(r.TS) {
		a.seen(a.target(r.Target), r.TS)
	}
	if a.after(r.TS) {
		return
	}
	t := a.target(r.Target)
	if r.TS.After(t.gone) {
		t.gone = r.TS
	}
}

// addStarted reads a started event: the first sight of a target by an
// sre-detect, which after a crash means the watcher itself was restarted and
// cannot know the crash it answers. The target is up, so a crash before it
// that no recovered answers is over: down from the crash until the process
// seen came up (detail.process_start, when that falls before the sighting),
// else until the sighting. Which crashes it ends is decided when a window
// is computed (see ended), so that a recovered read later still wins and
// the order of the archive does not matter.
func (a *Aggregator) addStarted(r *Rec) {
	if a.after(r.TS) {
		return
	}
	t := a.target(r.Target)
	a.seen(t, r.TS)
	// Kept even when it is before every window: a crash before it, left
	// open, would otherwise count as down into the windows. Prune drops it
	// once the crashes it ends are gone.
	sg := sighting{ts: r.TS, back: r.TS}
	if r.UpSince != nil && r.UpSince.Before(r.TS) {
		sg.back = *r.UpSince
	}
	t.ups = append(t.ups, sg)
	a.added++
	a.maybePrune()
}

// ended is when an unanswered crash at ts ended: the first sighting at or
// after it, if any. A process that was up before the crash ends it at once.
func (t *target) ended(ts time.Time) (time.Time, bool) {
	var first *sighting
	for i := range t.ups {
		if sg := &t.ups[i]; !sg.ts.Before(ts) && (first == nil || sg.ts.Before(first.ts)) {
			first = sg
		}
	}
	if first == nil {
		return time.Time{}, false
	}
	if first.back.Before(ts) {
		return ts, true
	}
	return first.back, true
}

// AddAction folds one sre-heal action in. Actions without a target are not
// attributed to any.
func (a *Aggregator) AddAction(r *Rec) {
	if r.Target == "" || r.TS.IsZero() || a.after(r.TS) {
		return
	}
	t := a.target(r.Target)
	t.actions[ActionKey{Rule: r.Rule, Action: r.Action, Result: r.Result}]++
	if r.Result == event.ResultOK && !r.DryRun && !a.old(r.TS) {
		t.restarts = append(t.restarts, r.TS)
		a.added++
	}
	a.maybePrune()
}

// AddSummary keeps the latest summary of a target (memory gauges).
func (a *Aggregator) AddSummary(r *Rec) {
	if r.Target == "" || r.TS.IsZero() || a.after(r.TS) {
		return
	}
	t := a.target(r.Target)
	if r.TS.Before(t.memTS) {
		return
	}
	t.memTS = r.TS
	t.rss, t.slope = r.RSSAvg, r.Slope
}

// Add folds in any record Decode returned.
func (a *Aggregator) Add(r *Rec) {
	switch r.Kind {
	case event.KindEvent:
		a.AddEvent(r)
	case event.KindAction:
		a.AddAction(r)
	case event.KindSummary:
		a.AddSummary(r)
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// maybePrune drops facts older than every window once enough have come in,
// so a fixed --at keeps memory to the longest window.
func (a *Aggregator) maybePrune() {
	if a.until.IsZero() || a.added < 1<<16 {
		return
	}
	a.added = 0
	a.Prune(a.until)
}

// Prune drops facts that no window ending at or after at can see. The
// exporter calls it as time moves on.
func (a *Aggregator) Prune(at time.Time) {
	h := at.Add(-a.longest)
	for _, t := range a.targets {
		t.failures = keep(t.failures, func(f fact) bool { return !f.ts.Before(h) })
		t.restarts = keep(t.restarts, func(ts time.Time) bool { return !ts.Before(h) })
		t.ooms = keep(t.ooms, func(ts time.Time) bool { return !ts.Before(h) })
		t.incidents = keep(t.incidents, func(iv interval) bool { return !iv.end.Before(h) })
		for id, ts := range t.open {
			if end, ok := t.ended(ts); ok && end.Before(h) {
				delete(t.open, id) // ended before any window: nothing left to count
			}
		}
		t.ups = keep(t.ups, func(sg sighting) bool { return !sg.ts.Before(h) })
	}
}

func keep[T any](s []T, ok func(T) bool) []T {
	out := s[:0]
	for _, v := range s {
		if ok(v) {
			out = append(out, v)
		}
	}
	clear(s[len(out):])
	return out
}

// Result is one target's stability over one window.
type Result struct {
	Target    string
	Window    string
	WindowS   float64
	Crashes   int // crash events
	Failures  int // crash + restarted events
	Restarts  int // heal actions that ran and succeeded
	OOMKills  int
	Incidents int // incidents overlapping the window, open ones included
	ObservedS float64
	UptimeS   float64
	DowntimeS float64
	// MTBFS, MTTRS and Availability are nil when undefined (no failure, no
	// incident).
	MTBFS        *float64
	MTTRS        *float64
	Availability float64
	Score        float64
	Explain      Explain
}

// Explain is each term of the score, in points, so a person can redo it.
type Explain struct {
	Formula        string  `json:"formula"`
	Availability   float64 `json:"availability"`
	Failures       int     `json:"failures"`
	ObservedDays   float64 `json:"observed_days"`
	FailuresPerDay float64 `json:"failures_per_day"`
	FailureFactor  float64 `json:"failure_factor"`
	LostDowntime   float64 `json:"points_lost_to_downtime"`
	LostFailures   float64 `json:"points_lost_to_failures"`
	Capped         bool    `json:"capped_below_100,omitempty"`
}

// Map returns e as the explain object of a score record.
func (e Explain) Map() map[string]any {
	m := map[string]any{
		"formula":                 e.Formula,
		"availability":            e.Availability,
		"failures":                e.Failures,
		"observed_days":           e.ObservedDays,
		"failures_per_day":        e.FailuresPerDay,
		"failure_factor":          e.FailureFactor,
		"points_lost_to_downtime": e.LostDowntime,
		"points_lost_to_failures": e.LostFailures,
	}
	if e.Capped {
		m["capped_below_100"] = true
	}
	return m
}

// Totals are a target's all-time figures (up to --at) for the counters.
type Totals struct {
	Target    string
	Crashes   int
	OOMKills  int
	LastCrash time.Time // zero: none
	Actions   map[ActionKey]int
	// RSSBytes and RSSSlope come from the latest summary (nil: none seen).
	RSSBytes, RSSSlope *float64
}

// Snapshot is every result at one time, sorted by target then window.
type Snapshot struct {
	At      time.Time
	Results []Result
	Totals  []Totals
}

// Snapshot computes every target × window ending at at. A target with no
// event and no incident in a window gets no result for it.
func (a *Aggregator) Snapshot(at time.Time) Snapshot {
	names := make([]string, 0, len(a.targets))
	for n := range a.targets {
		names = append(names, n)
	}
	sort.Strings(names)
	s := Snapshot{At: at}
	for _, n := range names {
		t := a.targets[n]
		tot := Totals{Target: n, Crashes: t.crashesTotal, OOMKills: t.oomTotal, LastCrash: t.lastCrash,
			Actions: map[ActionKey]int{}, RSSBytes: t.rss, RSSSlope: t.slope}
		for k, v := range t.actions {
			tot.Actions[k] = v
		}
		s.Totals = append(s.Totals, tot)
		for _, w := range a.windows {
			if r, ok := t.window(n, w, at); ok {
				s.Results = append(s.Results, r)
			}
		}
	}
	return s
}

// overlap is the length of [s,e] ∩ [lo,hi] in seconds.
func overlap(s, e, lo, hi time.Time) (float64, bool) {
	if s.Before(lo) {
		s = lo
	}
	if e.After(hi) {
		e = hi
	}
	if e.Before(s) {
		return 0, false
	}
	return e.Sub(s).Seconds(), true
}

func (t *target) window(name string, w Window, at time.Time) (Result, bool) {
	ws := at.Add(-w.Dur)
	if !t.gone.IsZero() && t.gone.Before(at) && !t.lastSeen.After(t.gone) {
		at = t.gone // a deleted pod: observed until it was deleted
	}
	if t.firstSeen.IsZero() || t.firstSeen.After(at) {
		return Result{}, false
	}
	start := ws
	if t.firstSeen.After(start) {
		start = t.firstSeen
	}
	r := Result{Target: name, Window: w.Label, WindowS: w.Dur.Seconds(), ObservedS: at.Sub(start).Seconds()}
	in := func(ts time.Time) bool { return !ts.Before(ws) && !ts.After(at) }
	events := !t.lastSeen.Before(ws)
	for _, f := range t.failures {
		if in(f.ts) {
			r.Failures++
			if f.crash {
				r.Crashes++
			}
		}
	}
	for _, ts := range t.restarts {
		if in(ts) {
			r.Restarts++
		}
	}
	for _, ts := range t.ooms {
		if in(ts) {
			r.OOMKills++
		}
	}
	add := func(s, e time.Time) {
		if d, ok := overlap(s, e, start, at); ok {
			r.DowntimeS += d
			r.Incidents++
		}
	}
	for _, iv := range t.incidents {
		add(iv.start, iv.end)
	}
	for _, ts := range t.open {
		end, ok := t.ended(ts)
		if !ok {
			end = at
		}
		add(ts, end)
	}
	if !events && r.Incidents == 0 || r.ObservedS <= 0 {
		return Result{}, false
	}
	r.DowntimeS = min(r.DowntimeS, r.ObservedS) // overlapping incidents cannot exceed the window
	r.UptimeS = r.ObservedS - r.DowntimeS
	r.Availability = r.UptimeS / r.ObservedS
	if r.Failures > 0 {
		v := r.UptimeS / float64(r.Failures)
		r.MTBFS = &v
	}
	if r.Incidents > 0 {
		v := r.DowntimeS / float64(r.Incidents)
		r.MTTRS = &v
	}
	r.Score, r.Explain = Compute(r.Availability, r.Failures, r.ObservedS, r.DowntimeS)
	return r, true
}

// Compute is the stability score of docs/score.md: 100 × availability ×
// 1/(1 + failures per day), where a day is the least observed time a rate
// is taken over. Any failure or downtime keeps it at or below 99.99.
func Compute(availability float64, failures int, observedS, downtimeS float64) (float64, Explain) {
	days := max(observedS/86400, 1)
	rate := float64(failures) / days
	ff := 1 / (1 + rate)
	score := 100 * availability * ff
	e := Explain{
		Formula:        Formula,
		Availability:   availability,
		Failures:       failures,
		ObservedDays:   observedS / 86400,
		FailuresPerDay: rate,
		FailureFactor:  ff,
		LostDowntime:   100 * (1 - availability),
		LostFailures:   100 * availability * (1 - ff),
	}
	score = math.Round(score*100) / 100
	if (failures > 0 || downtimeS > 0) && score > 99.99 {
		score, e.Capped = 99.99, true
	}
	return max(score, 0), e
}

// Interval is a time a target was down: from its crash to its recovery.
// Open is an incident still down at the end asked for.
type Interval struct {
	Start, End time.Time
	Open       bool
}

// Downtime returns the incidents of target that overlap [from, to], as a
// window ending at to counts them (the dashboard draws what sre-score
// counts): answered ones as recorded, unanswered ones until the sighting
// that ended them, or open until to. They are sorted by start and not
// clipped.
func (a *Aggregator) Downtime(target string, from, to time.Time) []Interval {
	t := a.targets[target]
	if t == nil {
		return nil
	}
	var out []Interval
	add := func(s, e time.Time, open bool) {
		if !e.Before(from) && !s.After(to) {
			out = append(out, Interval{Start: s, End: e, Open: open})
		}
	}
	for _, iv := range t.incidents {
		add(iv.start, iv.end, false)
	}
	for _, ts := range t.open {
		end, ok := t.ended(ts)
		if !ok {
			end = to
		}
		add(ts, end, !ok)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// Seen returns the first and last time an event of target was read (zero
// when none was).
func (a *Aggregator) Seen(target string) (first, last time.Time) {
	if t := a.targets[target]; t != nil {
		return t.firstSeen, t.lastSeen
	}
	return time.Time{}, time.Time{}
}

// Targets returns the names of every target read, sorted.
func (a *Aggregator) Targets() []string {
	names := make([]string, 0, len(a.targets))
	for n := range a.targets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
