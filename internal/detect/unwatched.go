package detect

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// Sighting is the last a watch knew of a target: what an sre-detect
// started after a gap (its watch was down: a stage lost, the host
// rebooted) compares its first sample of that target with, so that what
// happened meanwhile is still told. sre-detect --state keeps them in a
// file.
type Sighting struct {
	Host   string `json:"host"`
	Target string `json:"target"`
	Up     bool   `json:"up"`
	// PID and StartTicks name the process when the target had exactly one.
	PID        int       `json:"pid,omitempty"`
	StartTicks uint64    `json:"start_ticks,omitempty"`
	TS         time.Time `json:"ts"` // the last sample
	// Sample is the last up sample, whose process a crash found after the
	// gap carries; for a pod target, its last sample with a pod, whose
	// containers' restart counts the next run counts restarts from.
	Sample json.RawMessage `json:"sample,omitempty"`
}

// Changes counts the processes begun and ended so far: when it moved,
// Sightings say something new (not only a later time).
func (e *Engine) Changes() uint64 { return e.changes }

// Sightings returns the last sighting of every target, in order of first
// sight.
func (e *Engine) Sightings() []Sighting {
	out := make([]Sighting, 0, len(e.order))
	for _, t := range e.order {
		if pt := t.pod; pt != nil {
			out = append(out, pt.sighting(t))
			continue
		}
		sg := Sighting{Host: t.Host, Target: t.Name, Up: len(t.up) > 0, TS: t.group.ts}
		for _, p := range t.up {
			if p.LastTS.After(sg.TS) {
				sg.TS = p.LastTS
			}
			if len(t.up) == 1 {
				sg.PID, sg.StartTicks = p.ID.PID, p.ID.StartTicks
				sg.Sample = append(json.RawMessage(nil), p.lastRaw...)
			}
		}
		out = append(out, sg)
	}
	// Targets of the earlier run not seen yet in this one keep their
	// sighting, for the run after this one.
	for _, sg := range e.cfg.Prior {
		if _, waiting := e.prior[targetKey{sg.Host, sg.Target}]; waiting {
			out = append(out, sg)
		}
	}
	return out
}

// unwatched compares the first sample of target t in this run with its
// last sighting before: a target up then and down now ended while nothing
// watched (a crash, with the process as last seen); one up with another
// process was restarted meanwhile.
func (e *Engine) unwatched(t *Target, s *Sample, was Sighting) {
	if !was.Up || !s.TS.After(was.TS) {
		return
	}
	detail := map[string]any{"unwatched": true, "last_seen": event.At(was.TS)}
	gap := s.TS.Sub(was.TS).Round(time.Second)
	out := &event.Event{Header: event.NewHeader(event.KindEvent, Src, t.Host, s.TS), Target: t.Name}
	var prev *event.Process
	if len(was.Sample) > 0 {
		var ls event.Sample
		if json.Unmarshal(was.Sample, &ls) == nil {
			prev = ls.Process
		}
	}
	name := t.Name
	if prev != nil {
		name = fmt.Sprintf("%s (pid %d)", prev.Name, prev.PID)
		if prev.Name != t.Name {
			name += " of " + t.Name
		}
	}
	switch {
	case !s.Up:
		out.Type, out.Severity, out.Process = event.TypeCrash, event.SevCritical, prev
		out.Msg = fmt.Sprintf("%s ended while unwatched: up when last seen at %s, down at this watch's start (%s later); how it ended is not known.",
			name, was.TS.UTC().Format(time.RFC3339), gap)
	case s.HasProc && was.PID != 0 && s.ID() != (event.Identity{PID: was.PID, StartTicks: was.StartTicks}):
		out.Type, out.Severity = event.TypeRestarted, event.SevWarning
		detail["previous_pid"] = was.PID
		if !s.Start.IsZero() {
			detail["process_start"] = event.At(s.Start)
		}
		out.Msg = fmt.Sprintf("%s was restarted while unwatched: pid %d (last seen at %s) gave way to pid %d.",
			t.Name, was.PID, was.TS.UTC().Format(time.RFC3339), s.PID)
		if full := e.full(); full != nil {
			out.Process = full.Process
		}
	default:
		return // the same process, still up
	}
	if full := e.full(); full != nil {
		out.System = full.System
	}
	out.Detail = detail
	out.ID = e.id(s.TS, t, out.Type, "unwatched", event.Identity{PID: was.PID, StartTicks: was.StartTicks})
	e.send(out)
}
