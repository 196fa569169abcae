package dashboard

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/localsre/sre-agent/internal/report"
)

// Options say what a Dashboard reads.
type Options struct {
	Dir string           // the report directory (reports and events.ndjson)
	Now func() time.Time // nil: time.Now
	Err io.Writer        // diagnostics, one line each; nil: discarded
	// Poll is how often the directory is read again for what is new
	// (0: one second).
	Poll time.Duration
}

// Dashboard serves the pages of one report directory.
type Dashboard struct {
	o   Options
	mux *http.ServeMux

	mu    sync.RWMutex // guards m and files
	m     *model
	files []*archFile

	cmu     sync.Mutex
	changed chan struct{} // closed (and replaced) when m changes
	gen     uint64        // bumped with each change

	lastErr string // the last reading error said, so each is said once

	// read is closed once the directory was read a first time: a page
	// waits for it rather than show an archive of 100,000 events as empty.
	read     chan struct{}
	readOnce sync.Once

	chain chainCache

	followers atomic.Int32 // pages following /live now (maxLive)
}

// New returns a Dashboard of o.Dir; it reads nothing until Run or the
// first page.
func New(o Options) (*Dashboard, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Err == nil {
		o.Err = io.Discard
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	d := &Dashboard{o: o, mux: http.NewServeMux(), m: newModel(), changed: make(chan struct{}), read: make(chan struct{})}
	d.chain.dir = o.Dir
	d.routes()
	return d, nil
}

// Handler serves the pages, once the directory was read a first time (by
// Run or Refresh). It does not check methods, Host or credentials: wrap it
// in Guard.
func (d *Dashboard) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-d.read:
		case <-r.Context().Done():
			return
		}
		d.mux.ServeHTTP(w, r)
	})
}

// Run follows the directory until ctx is done.
func (d *Dashboard) Run(ctx context.Context) error {
	t := time.NewTicker(d.o.Poll)
	defer t.Stop()
	for {
		d.Refresh()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Refresh reads what the directory gained since the last call: new lines
// of the live archive, or everything again when an archive was rotated,
// truncated or rewritten.
func (d *Dashboard) Refresh() {
	defer d.readOnce.Do(func() { close(d.read) })
	files, err := listArchives(d.o.Dir)
	if err != nil {
		d.say(fmt.Sprintf("report directory %s cannot be read: %v; showing what was read before", d.o.Dir, err))
		return
	}
	d.mu.RLock()
	cur := d.files
	d.mu.RUnlock()
	rebuild := cur == nil || !sameRotated(cur, files)
	if !rebuild {
		lf, nf := cur[len(cur)-1], files[len(files)-1]
		if lf.offset > 0 && (nf.ino != lf.ino || nf.dev != lf.dev || nf.size < lf.offset || lf.rewritten()) {
			rebuild = true // rotated, truncated or rewritten: read it all again
		}
	}
	if rebuild {
		m := newModel()
		var errs []error
		for i, f := range files {
			if err := m.read(uint16(i), f); err != nil {
				errs = append(errs, err)
			}
		}
		m.sort()
		m.agg.Prune(d.o.Now())
		d.mu.Lock()
		d.m, d.files = m, files
		d.mu.Unlock()
		closeFiles(cur) // no page reads the old reading any more
		d.sayErrs(errs)
		if cur != nil || m.counts != (counts{}) {
			d.notify()
		}
		return
	}
	lf, nf := cur[len(cur)-1], files[len(files)-1]
	d.mu.Lock()
	if lf.offset == 0 {
		lf.ino, lf.dev = nf.ino, nf.dev
	}
	lf.size, lf.mtime = nf.size, nf.mtime
	before := d.m.counts
	err = d.m.read(uint16(len(cur)-1), lf)
	grew := d.m.counts != before
	d.m.sort()
	// Facts older than the longest window count in no figure: a server
	// that runs for months keeps only those a page can show.
	d.m.agg.Prune(d.o.Now())
	d.mu.Unlock()
	if err != nil {
		d.sayErrs([]error{err})
	} else {
		d.sayErrs(nil)
	}
	if grew {
		d.notify()
	}
}

// say writes msg once, until a different one (or none) comes.
func (d *Dashboard) say(msg string) {
	if msg != d.lastErr && msg != "" {
		fmt.Fprintf(d.o.Err, "sre-report: dashboard: %s\n", msg)
	}
	d.lastErr = msg
}

func (d *Dashboard) sayErrs(errs []error) {
	if len(errs) == 0 {
		if d.lastErr != "" {
			fmt.Fprintf(d.o.Err, "sre-report: dashboard: the archive is readable again\n")
		}
		d.lastErr = ""
		return
	}
	d.say(fmt.Sprintf("%v; showing what could be read", errs[0]))
}

// notify wakes every live page.
func (d *Dashboard) notify() {
	d.cmu.Lock()
	close(d.changed)
	d.changed = make(chan struct{})
	d.gen++
	d.cmu.Unlock()
}

// watch returns the current generation and the channel closed at the next.
func (d *Dashboard) watch() (uint64, <-chan struct{}) {
	d.cmu.Lock()
	defer d.cmu.Unlock()
	return d.gen, d.changed
}

// chainCache holds the last verify of the directory. Verifying reads and
// hashes every report (5,000 take most of a second), so a result is kept
// for chainMaxAge, and made again sooner only for a report written after
// it: reports never change, so an older one's result still holds, unless
// someone altered it since, which the next verify names.
type chainCache struct {
	dir string
	mu  sync.Mutex
	at  time.Time // when the kept result was made (zero: none)
	v   *report.Verification
	err error
	bad map[string]report.Problem // report name → its problem
}

const chainMaxAge = 30 * time.Second

// verify returns a verification of the directory made after written (the
// report's modification time: when it was written, or altered) and at most
// chainMaxAge old.
func (c *chainCache) verify(written time.Time) (*report.Verification, map[string]report.Problem, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// A file's time comes from the kernel's coarse clock, up to a tick
	// behind time.Now: a second of slack.
	if c.at.IsZero() || !c.at.After(written.Add(time.Second)) || time.Since(c.at) > chainMaxAge {
		c.at = time.Now()
		c.v, c.err = report.Verify(c.dir)
		c.bad = map[string]report.Problem{}
		if c.v != nil {
			for _, p := range c.v.Problems {
				c.bad[p.Name] = p
			}
		}
	}
	return c.v, c.bad, c.err
}
