package logtail

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/localsre/sre-agent/internal/forensics"
)

// logCollector is the report's "Application log" section.
type logCollector struct {
	followers []*Follower
	specs     []Spec
}

var _ forensics.Collector = (*logCollector)(nil)

// NewCollector returns the collector of the application log tails: for an
// incident it takes the specs whose Target is empty or the incident's
// target, and the follower of each spec's file (matched by cleaned path, so
// one follower may serve several specs; see NewFollowers).
//
// It writes one section, "Application log", for all the files that apply,
// in spec order: per file the fields File, Lines kept and Events, and, in
// Lines, a "==> FILE <==" header (tail(1)'s) followed by the kept lines, so
// the report stays one section per collector and grep-friendly. No file
// applies: forensics.ErrNotApplicable.
func NewCollector(followers []*Follower, specs []Spec) forensics.Collector {
	return &logCollector{followers: followers, specs: specs}
}

func (c *logCollector) Collect(ctx context.Context, inc *forensics.Incident) (forensics.Section, error) {
	sec := forensics.Section{Title: "Application log"}
	done := make(map[string]bool)
	for _, s := range c.specs {
		if s.Target != "" && s.Target != inc.Target {
			continue
		}
		p := filepath.Clean(s.Path)
		if done[p] {
			continue
		}
		done[p] = true
		if err := ctx.Err(); err != nil {
			sec.Note("%s: not read: %v", s.Path, err)
			continue
		}
		f := c.follower(p)
		if f == nil {
			sec.Note("%s: not followed", s.Path)
			continue
		}
		addSnapshot(&sec, f.Snapshot(), inc.Now)
	}
	if len(done) == 0 {
		return forensics.Section{}, forensics.ErrNotApplicable
	}
	return sec, nil
}

func (c *logCollector) follower(clean string) *Follower {
	for _, f := range c.followers {
		if filepath.Clean(f.Path()) == clean {
			return f
		}
	}
	return nil
}

func addSnapshot(sec *forensics.Section, s Snapshot, now time.Time) {
	sec.Add("File", s.Path)
	kept := fmt.Sprintf("%d (read %d since start-up, %d pushed out, %d cut to length)",
		len(s.Lines), s.Seen+uint64(s.Pending), s.Dropped, s.Cut)
	sec.Add("Lines kept", kept)
	sec.Add("Events", eventsText(s, now))
	sec.Lines = append(sec.Lines, "==> "+s.Path+" <==")
	sec.Lines = append(sec.Lines, s.Lines...)
}

// eventsText renders the file's history on one line; an event of another
// day than now carries its date.
func eventsText(s Snapshot, now time.Time) string {
	if len(s.Events) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(s.Events)+1)
	if s.EventsDropped > 0 {
		parts = append(parts, fmt.Sprintf("%d earlier events not kept", s.EventsDropped))
	}
	day := now.UTC().Format(time.DateOnly)
	for _, e := range s.Events {
		if at := e.At.UTC(); !now.IsZero() && at.Format(time.DateOnly) != day {
			parts = append(parts, fmt.Sprintf("%s at %s (%s)", e.Kind, at.Format(time.RFC3339), e.Detail))
			continue
		}
		parts = append(parts, e.String())
	}
	return strings.Join(parts, "; ")
}
