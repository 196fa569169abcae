// Package forensics gathers the evidence a crash report holds beyond the
// event itself: the application's log tail, the host's health, the kernel's
// OOM traces, the container's and the pod's story, and the operator tools
// at hand. Each source is a Collector in one file, listed in one registry
// table; they run in parallel, each under its own timeout, and a failing or
// slow one is noted in the report without holding it up.
package forensics

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// Incident is what a collector knows of the failure it documents.
type Incident struct {
	Event   *event.Event   // the event being reported
	Process *event.Process // the last known process (Event.Process), may be nil
	Target  string
	At      time.Time // when the event happened (its ts)
	Now     time.Time // when the report is being written
}

// Section is one part of a report: a title, then "Key: value" fields in
// order, then free lines (log lines, tables). Note says what was tried and
// why something is missing, e.g. "dmesg: kernel.dmesg_restrict=1".
type Section struct {
	Title  string
	Fields []Field
	Lines  []string
	Notes  []string
}

// Field is one "Key: value" line.
type Field struct{ Key, Value string }

// Add appends a field.
func (s *Section) Add(key, value string) { s.Fields = append(s.Fields, Field{key, value}) }

// Addf appends a formatted field.
func (s *Section) Addf(key, format string, args ...any) {
	s.Add(key, fmt.Sprintf(format, args...))
}

// Note appends a note.
func (s *Section) Note(format string, args ...any) {
	s.Notes = append(s.Notes, fmt.Sprintf(format, args...))
}

// ErrNotApplicable means the collector has nothing to say about this
// incident (no container, no Kubernetes): its section is left out.
var ErrNotApplicable = errors.New("not applicable")

// Collector gathers one section. It must return when ctx ends.
type Collector interface {
	Collect(ctx context.Context, inc *Incident) (Section, error)
}

// Entry is a named collector in the registry, with its order in the report.
type Entry struct {
	Name      string
	Order     int
	Collector Collector
}

// Result is a collector's outcome.
type Result struct {
	Name     string
	Order    int
	Section  Section
	Err      error
	Duration time.Duration
	TimedOut bool
}

// Run runs every entry in parallel, each under timeout, and returns the
// results in report order. A collector that does not return in time is left
// running in the background (its result is discarded) and reported as
// timed out; a failing one carries its error.
func Run(ctx context.Context, entries []Entry, inc *Incident, timeout time.Duration) []Result {
	results := make([]Result, len(entries))
	var wg sync.WaitGroup
	for i, e := range entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runOne(ctx, e, inc, timeout)
		}()
	}
	wg.Wait()
	sort.SliceStable(results, func(a, b int) bool { return results[a].Order < results[b].Order })
	return results
}

func runOne(ctx context.Context, e Entry, inc *Incident, timeout time.Duration) Result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	type out struct {
		s   Section
		err error
	}
	ch := make(chan out, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- out{err: fmt.Errorf("collector %s panicked: %v", e.Name, r)}
			}
		}()
		s, err := e.Collector.Collect(ctx, inc)
		ch <- out{s, err}
	}()
	select {
	case o := <-ch:
		return Result{Name: e.Name, Order: e.Order, Section: o.s, Err: o.err, Duration: time.Since(start)}
	case <-ctx.Done():
		return Result{Name: e.Name, Order: e.Order, Err: fmt.Errorf("no answer within %v", timeout),
			Duration: time.Since(start), TimedOut: true}
	}
}
