package heal

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// Event types that say a target is down, or up again.
var (
	downTypes = []string{"crash", "absent", "oom_kill"}
	upTypes   = []string{"recovered", "started", "restarted"}
)

// IsDown reports whether ev says its process is gone. A host-scoped
// oom_kill (an older sre-detect's way of telling a kill somewhere on the
// host, under whichever target's sample showed it) says nothing of the
// process it carries.
func IsDown(ev *event.Event) bool { return slices.Contains(downTypes, ev.Type) && !hostScoped(ev) }

// Round rounds d for people: milliseconds under a second, tenths under a
// minute, whole seconds above. Records keep the exact value.
func Round(d time.Duration) time.Duration {
	switch {
	case d < time.Second && d > -time.Second:
		return d.Round(time.Millisecond)
	case d < time.Minute && d > -time.Minute:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// DefaultMaxEventAge is how old an event may be and still be acted on.
const DefaultMaxEventAge = 2 * time.Minute

// Engine turns events into decisions: what to run, when, or why not. It
// does no I/O of its own except through its function fields, so a test
// drives it with a fake clock.
type Engine struct {
	Rules *Rules
	State *State
	// Now is the clock; Rand returns [0, 1) for jitter.
	Now  func() time.Time
	Rand func() float64
	// Exists reports whether a report file is on disk.
	Exists          func(path string) bool
	Apply           bool
	AllowUnreported bool
	MaxEventAge     time.Duration

	// Old counts events ignored for their age.
	Old int
	// Warn receives `when` evaluation errors.
	Warn func(format string, args ...any)
}

// Decision is one action record to be: an action to run (or plan) after
// Delay, or a gave_up/skipped result with no action.
type Decision struct {
	Rule        *Rule
	Event       *event.Event
	Attempt     int
	MaxAttempts int
	Delay       time.Duration
	// Result is empty for an action to run (or plan), else skipped or gave_up.
	Result string
	Err    string
	// Escalation marks the run of an escalation rule (it holds no budget).
	Escalation bool
}

// Job returns the job that carries the decision out.
func (d *Decision) Job(apply bool, environ []string, procRoot string) *Job {
	return &Job{Rule: d.Rule, Event: d.Event, Attempt: d.Attempt, Apply: apply, Environ: environ, ProcRoot: procRoot}
}

// Done tells the engine a scheduled action of d is starting, so the next
// trigger for that rule and target may schedule another.
func (e *Engine) Done(d *Decision) {
	if d.Escalation || d.Event == nil {
		return
	}
	if b := e.State.Lookup(d.Rule.Name, d.Event.Target); b != nil {
		b.pending = false
	}
}

// Sample lets samples (sre-detect --pass) keep the up/down view current.
func (e *Engine) Sample(s *event.Sample) bool {
	changed := false
	for _, r := range e.Rules.Rules {
		if r.Target != "" && r.Target != s.Target {
			continue
		}
		b := e.State.Lookup(r.Name, s.Target)
		if b == nil {
			continue
		}
		switch {
		case s.Up:
			changed = e.up(r, b, s.TS.Time) || changed
		case !b.UpSince.IsZero():
			e.checkReset(r, b, s.TS.Time)
			b.UpSince, changed = time.Time{}, true
		}
	}
	return changed
}

func (e *Engine) up(r *Rule, b *Budget, at time.Time) bool {
	if b.UpSince.IsZero() {
		b.UpSince = at
		return true
	}
	return e.checkReset(r, b, at)
}

// checkReset clears the budget once the target has been up ResetAfter.
func (e *Engine) checkReset(r *Rule, b *Budget, at time.Time) bool {
	if b.UpSince.IsZero() || at.Sub(b.UpSince) < r.Backoff.ResetAfter {
		return false
	}
	if b.Attempt == 0 && len(b.Attempts) == 0 && !b.GaveUp {
		return false
	}
	b.reset()
	return true
}

// Handle decides what ev calls for. changed says the state must be saved.
func (e *Engine) Handle(ev *event.Event) (ds []Decision, changed bool) {
	now := e.Now()
	if e.MaxEventAge > 0 && now.Sub(ev.TS.Time) > e.MaxEventAge {
		e.Old++
		return nil, false
	}
	if hostScoped(ev) {
		return nil, false
	}
	changed = e.observe(ev)
	var asMap any
	for _, r := range e.Rules.Rules {
		if !slices.Contains(r.On, ev.Type) || (r.Target != "" && r.Target != ev.Target) {
			continue
		}
		if r.when != nil {
			if asMap == nil {
				b, _ := json.Marshal(ev)
				_ = json.Unmarshal(b, &asMap)
			}
			ok, err := truthy(r, asMap)
			if err != nil && e.Warn != nil {
				e.Warn("rule %q: when: %v", r.Name, err)
			}
			if !ok {
				continue
			}
		}
		base := Decision{Rule: r, Event: ev, MaxAttempts: r.MaxRetries}
		if ev.Type == "crash" && !e.AllowUnreported && (ev.Report == "" || e.Exists == nil || !e.Exists(ev.Report)) {
			base.Result = event.ResultSkipped
			base.Err = "no report on disk for this crash (never without artifacts; run sre-report upstream or pass --allow-unreported)"
			if ev.Report != "" {
				base.Err = fmt.Sprintf("report %s is not on disk (never without artifacts)", ev.Report)
			}
			ds = append(ds, base)
			continue
		}
		b := e.State.Budget(r.Name, ev.Target)
		changed = true
		base.Attempt = b.Attempt
		switch {
		case b.GaveUp:
			base.Result = event.ResultSkipped
			base.Err = fmt.Sprintf("gave up after %d attempts; waiting for the target to stay up %v", b.Attempt, r.Backoff.ResetAfter)
			ds = append(ds, base)
			continue
		case b.pending:
			base.Result = event.ResultSkipped
			base.Err = "an action is already scheduled for this target"
			ds = append(ds, base)
			continue
		}
		b.Attempts = slices.DeleteFunc(b.Attempts, func(t time.Time) bool { return now.Sub(t) >= r.RetryWindow })
		if r.MaxRetries > 0 && len(b.Attempts) >= r.MaxRetries {
			b.GaveUp = true
			base.Result = event.ResultGaveUp
			base.Err = fmt.Sprintf("%d attempts within %v spent", len(b.Attempts), r.RetryWindow)
			ds = append(ds, base)
			if esc := e.Rules.Get(r.Escalate); esc != nil {
				ds = append(ds, Decision{Rule: esc, Event: ev, Attempt: b.Attempt, MaxAttempts: r.MaxRetries, Escalation: true})
			}
			continue
		}
		b.Attempt++
		delay := r.Backoff.Delay(b.Attempt, e.Rand)
		if !b.Next.IsZero() && r.Cooldown > 0 {
			if earliest := b.Next.Add(r.Cooldown); now.Add(delay).Before(earliest) {
				delay = earliest.Sub(now)
			}
		}
		b.Attempts = append(b.Attempts, now)
		b.Next = now.Add(delay)
		b.pending = e.Apply
		base.Attempt, base.Delay = b.Attempt, delay
		ds = append(ds, base)
	}
	return ds, changed
}

// hostScoped reports an oom_kill about the host, not its target: what
// sre-detect builds before the host_oom_kill notice told under whichever
// target's sample showed the host's counter rise. It is no sign that the
// target is down, and no rule acts on it.
func hostScoped(ev *event.Event) bool {
	return ev.Type == "oom_kill" && ev.Detail["scope"] == "host"
}

// observe keeps each budget's view of whether its target is up.
func (e *Engine) observe(ev *event.Event) bool {
	changed := false
	at := ev.TS.Time
	for _, r := range e.Rules.Rules {
		if r.Target != "" && r.Target != ev.Target {
			continue
		}
		b := e.State.Lookup(r.Name, ev.Target)
		if b == nil {
			continue
		}
		switch {
		case slices.Contains(upTypes, ev.Type):
			changed = e.up(r, b, at) || changed
		case slices.Contains(downTypes, ev.Type):
			changed = e.checkReset(r, b, at) || changed
			if !b.UpSince.IsZero() {
				b.UpSince, changed = time.Time{}, true
			}
		default:
			changed = e.checkReset(r, b, at) || changed
		}
	}
	return changed
}

func truthy(r *Rule, v any) (bool, error) {
	it := r.when.Run(v)
	x, ok := it.Next()
	if !ok {
		return false, nil
	}
	if err, isErr := x.(error); isErr {
		return false, err
	}
	return x != nil && x != false, nil
}
