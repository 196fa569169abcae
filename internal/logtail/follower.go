package logtail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nxadm/tail"
)

// Defaults for New.
const (
	DefaultLines        = 100
	DefaultMaxLineBytes = 4 << 10
	DefaultPoll         = time.Second
	DefaultOldFileGrace = time.Minute
	maxEvents           = 32
	stopWait            = 2 * time.Second
	stallAfter          = time.Second
	awaitPoll           = 100 * time.Millisecond
)

// EventKind is what happened to a followed file.
type EventKind string

// What can happen to a followed file.
const (
	Missing     EventKind = "missing"     // the path does not exist (yet)
	Unreadable  EventKind = "unreadable"  // it exists but cannot be followed; Detail says why
	Opened      EventKind = "opened"      // following (again) after missing or unreadable
	Rotated     EventKind = "rotated"     // renamed away; a new file is, or will be, created
	Deleted     EventKind = "deleted"     // unlinked; what writers still append is read
	Recreated   EventKind = "recreated"   // a new file appeared after rotated or deleted
	Truncated   EventKind = "truncated"   // same file cut to empty (copytruncate)
	Overwritten EventKind = "overwritten" // same file cut short and rewritten
)

// Event is one thing that happened to the file since Start.
type Event struct {
	At     time.Time
	Kind   EventKind
	Detail string
}

// String renders an event for a report: "rotated at 03:12:44Z (renamed, new
// file created)".
func (e Event) String() string {
	return fmt.Sprintf("%s at %s (%s)", e.Kind, e.At.UTC().Format("15:04:05Z"), e.Detail)
}

// Snapshot is a copy of what a Follower holds.
type Snapshot struct {
	Path          string
	Lines         []string // the last lines, oldest first
	Events        []Event  // the last 32 events, oldest first
	EventsDropped int      // older events not kept
	Seen          uint64   // lines read since Start, backfill included
	Dropped       uint64   // lines pushed out of the ring by newer ones
	Cut           uint64   // lines cut to the maximum length
	Pending       int      // lines of Lines read by Snapshot itself (see Snapshot)
	BackfillBytes int64    // bytes read by backfills (bounded by lines × max)
}

// Option configures a Follower.
type Option func(*config)

type config struct {
	maxLine int
	poll    time.Duration
	grace   time.Duration
	now     func() time.Time
	polling bool
}

// WithMaxLineBytes sets the length beyond which a line is cut (default 4 KiB).
func WithMaxLineBytes(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxLine = n
		}
	}
}

// WithPollInterval sets how often the follower checks a path it cannot
// follow yet (missing, unreadable, not a regular file) and reads a rotated
// file that writers may still append to (default 1 s). Following itself is
// driven by inotify.
func WithPollInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.poll = d
		}
	}
}

// WithOldFileGrace sets how long a rotated or deleted file is kept open and
// read after nothing more was appended to it (default 1 minute): a writer
// keeps appending to the old file until it reopens its log (logrotate's
// postrotate), and those lines belong in the tail.
func WithOldFileGrace(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.grace = d
		}
	}
}

// WithClock sets the clock that stamps events.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithPolling makes nxadm/tail poll the file (every 250 ms, its package-wide
// setting) instead of using inotify, for file systems inotify does not see
// (NFS, some FUSE mounts). The follower also polls when this process cannot
// create an inotify instance.
func WithPolling() Option { return func(c *config) { c.polling = true } }

// Follower keeps the last lines of one log file in memory from Start on,
// through rotation, truncation, deletion and overwriting. Its methods are
// safe for concurrent use.
type Follower struct {
	path  string
	cfg   config
	lines int

	mu            sync.Mutex
	ring          ring
	events        []Event
	eventsDropped int
	seen, cut     uint64
	backfillBytes int64
	cur           *current // the file tail reads, through our own descriptor
	old           *retired // a rotated or deleted file still being drained
	last          *resume  // where following stopped, to resume without repeating
	problem       string   // the last problem recorded, so it is recorded once
	awaitingNew   bool     // rotated or deleted with no new file yet
	started       bool
	stopped       bool
	cancel        context.CancelFunc
	done          chan struct{}
}

// current is the file nxadm/tail follows. We hold a descriptor on the same
// file so that, when tail lets go of it, we can still read what it missed.
type current struct {
	f   *os.File
	fi  fs.FileInfo
	off int64 // just past the last line delivered from this file

	lastOff    int64     // off at the last tick
	stuckSince time.Time // since when tail has not acted on a change
}

// retired is a rotated or deleted file, read until it has been quiet for
// the grace period.
type retired struct {
	f          *os.File
	off        int64
	sp         *splitter
	lastGrowth time.Time
}

type resume struct {
	fi  fs.FileInfo
	off int64
}

// New returns a Follower for path keeping the last lines lines (default
// 100). Nothing is read before Start.
func New(path string, lines int, opts ...Option) *Follower {
	cfg := config{maxLine: DefaultMaxLineBytes, poll: DefaultPoll, grace: DefaultOldFileGrace, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if lines <= 0 {
		lines = DefaultLines
	}
	return &Follower{path: path, cfg: cfg, lines: lines, ring: newRing(lines)}
}

// Path is the path being followed, as given.
func (f *Follower) Path() string { return f.path }

// budget is the most a backfill reads: enough for lines lines of the
// maximum length, each with its newline.
func (f *Follower) budget() int64 { return int64(f.lines) * int64(f.cfg.maxLine+1) }

// ErrStarted is returned by a second Start.
var ErrStarted = errors.New("logtail: follower already started")

// Start begins following. If the file exists and is a regular file, its
// last lines are read at once (a bounded read from the end) and following
// continues from there; if it is missing, unreadable or not a regular file,
// that is recorded and the path is checked every poll interval. Start never
// blocks on the file: a FIFO or a device is refused, not opened.
func (f *Follower) Start(ctx context.Context) error {
	f.mu.Lock()
	if f.started {
		f.mu.Unlock()
		return ErrStarted
	}
	f.started = true
	ctx, f.cancel = context.WithCancel(ctx)
	f.done = make(chan struct{})
	f.mu.Unlock()
	s := f.attach()
	go f.run(ctx, s)
	return nil
}

// Stop ends following and releases the files. The lines kept stay
// readable through Snapshot. Stop is idempotent.
func (f *Follower) Stop() {
	f.mu.Lock()
	if !f.started || f.stopped {
		f.stopped = true
		f.mu.Unlock()
		return
	}
	f.stopped = true
	cancel, done := f.cancel, f.done
	f.mu.Unlock()
	cancel()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retireOldLocked()
	if c := f.cur; c != nil {
		// Read what tail had not delivered yet, so the final snapshot holds it.
		end, _, _ := readLines(c.f, c.off, f.size(c.f), 0, f.cfg.maxLine, f.addLocked)
		c.off = end
		c.f.Close()
		f.cur = nil
	}
}

// Snapshot returns a copy of the kept lines and the file's history. It
// first reads what writers appended to a rotated or deleted file, then
// adds, without consuming them, the complete lines the current file holds
// beyond what tail has delivered (counted in Pending): the report of a crash
// a few milliseconds ago holds its last lines even if inotify has not woken
// tail yet, or tail has stalled. Snapshot reads at most lines × max bytes.
func (f *Follower) Snapshot() Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snapshotLocked()
}

func (f *Follower) snapshotLocked() Snapshot {
	if f.old != nil {
		f.drainOldLocked(false)
	}
	s := Snapshot{
		Path:          f.path,
		Lines:         f.ring.lines(),
		Events:        append([]Event(nil), f.events...),
		EventsDropped: f.eventsDropped,
		Seen:          f.seen,
		Dropped:       f.ring.dropped,
		Cut:           f.cut,
		BackfillBytes: f.backfillBytes,
	}
	if c := f.cur; c != nil {
		var pending []string
		readLines(c.f, c.off, f.size(c.f), f.budget(), f.cfg.maxLine, func(l string, cut int) {
			pending = append(pending, markCut(l, cut))
		})
		s.Pending = len(pending)
		s.Lines = append(s.Lines, pending...)
		if n := len(s.Lines) - f.lines; n > 0 {
			s.Lines = s.Lines[n:]
			s.Pending = min(s.Pending, f.lines)
		}
	}
	return s
}

func (f *Follower) size(file *os.File) int64 {
	fi, err := file.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}

// addLocked keeps one line.
func (f *Follower) addLocked(line string, cut int) {
	f.seen++
	if cut > 0 {
		f.cut++
	}
	f.ring.push(markCut(line, cut))
}

func (f *Follower) recordLocked(kind EventKind, format string, args ...any) {
	if len(f.events) == maxEvents {
		copy(f.events, f.events[1:])
		f.events = f.events[:maxEvents-1]
		f.eventsDropped++
	}
	f.events = append(f.events, Event{At: f.cfg.now().UTC(), Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

// problemLocked records why the path cannot be followed, once per reason.
func (f *Follower) problemLocked(err error) {
	kind, detail := Unreadable, errText(err)
	if errors.Is(err, fs.ErrNotExist) {
		if f.awaitingNew {
			return // the rotated or deleted event says we wait
		}
		kind, detail = Missing, "does not exist; waiting for it"
	}
	if p := string(kind) + detail; p != f.problem {
		f.problem = p
		f.recordLocked(kind, "%s", detail)
	}
}

// errText drops the "open PATH: " a PathError repeats: the report names the
// file already.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// session is one run of nxadm/tail on the file.
type session struct {
	t     *tail.Tail
	notes chan note
	quit  chan struct{}
}

// attach opens the file, reads what it holds that is new to us (a bounded
// backfill, or nothing when resuming the same file), and starts nxadm/tail
// where that read ended. It returns nil when the file cannot be followed
// now; the reason is recorded.
func (f *Follower) attach() *session {
	file, fi, err := openRegular(f.path)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.problemLocked(err)
		return nil
	}
	if f.old != nil {
		f.drainOldLocked(false) // its lines come before the new file's
	}
	start := int64(0)
	l := f.last
	if l != nil && os.SameFile(l.fi, fi) && fi.Size() < l.off {
		f.shrunkLocked(l.off, fi.Size()) // while no session watched
		l = nil
	}
	if l != nil && os.SameFile(l.fi, fi) {
		start = l.off
	} else {
		end, read, err := readLines(file, 0, fi.Size(), f.budget(), f.cfg.maxLine, f.addLocked)
		f.backfillBytes += read
		start = end
		if err != nil {
			file.Close()
			f.problemLocked(err)
			return nil
		}
	}
	f.last = &resume{fi: fi, off: start}
	s := &session{notes: make(chan note), quit: make(chan struct{})}
	t, err := tail.TailFile(f.path, tail.Config{
		Location:      &tail.SeekInfo{Offset: start, Whence: io.SeekStart},
		ReOpen:        false, // the follower reopens, knowing which file it holds
		Follow:        true,
		MustExist:     true,
		CompleteLines: true,
		Poll:          f.cfg.polling || !inotifyWorks(),
		Logger:        &tailLogger{notes: s.notes, quit: s.quit},
	})
	if err != nil {
		file.Close()
		f.problemLocked(err)
		return nil
	}
	s.t = t
	// tail opened the path itself: if the path no longer names the file we
	// opened just before, tail may hold another; start over, keeping ours
	// as a rotated file.
	if now, err := os.Stat(f.path); err != nil || !os.SameFile(fi, now) {
		go stopSession(s)
		f.goneLocked(&current{f: file, fi: fi, off: start}, now, err)
		return nil
	}
	if f.awaitingNew {
		f.recordLocked(Recreated, "new file created")
		f.awaitingNew = false
		f.problem = ""
	}
	if f.problem != "" {
		detail := "readable again"
		if strings.HasPrefix(f.problem, string(Missing)) {
			detail = "file appeared"
		}
		f.recordLocked(Opened, "%s", detail)
		f.problem = ""
	}
	f.cur = &current{f: file, fi: fi, off: start}
	return s
}

// stopSession stops tail, waiting a bounded time: tail's goroutine can only
// be stuck where nothing can reach it (an open(2) of a FIFO swapped in at
// rotation), and Stop must not hang on it.
func stopSession(s *session) {
	close(s.quit)
	stopped := make(chan struct{})
	go func() {
		s.t.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(stopWait):
	}
}

func (f *Follower) run(ctx context.Context, s *session) {
	defer close(f.done)
	tick := time.NewTicker(f.cfg.poll)
	defer tick.Stop()
	for {
		if s == nil {
			wait := f.cfg.poll
			f.mu.Lock()
			if f.awaitingNew {
				// logrotate creates the new file at once: look often, so the
				// gap in which its lines are not in a Snapshot stays short.
				wait = min(wait, awaitPoll)
			}
			f.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			f.mu.Lock()
			f.tickLocked()
			f.mu.Unlock()
			s = f.attach()
			continue
		}
		s = f.follow(ctx, s, tick.C)
		if ctx.Err() != nil {
			return
		}
	}
}

// follow handles one tail session until it ends; it returns nil.
func (f *Follower) follow(ctx context.Context, s *session, tick <-chan time.Time) *session {
	for {
		select {
		case l, ok := <-s.t.Lines:
			if !ok {
				err := s.t.Wait()
				f.mu.Lock()
				f.endLocked(err)
				f.mu.Unlock()
				return nil
			}
			f.mu.Lock()
			f.deliverLocked(l)
			f.mu.Unlock()
		case n := <-s.notes:
			// tail is about to reopen the path: look at the file while tail
			// waits, then stop it before it does.
			f.mu.Lock()
			f.noteLocked(n)
			f.mu.Unlock()
			stopSession(s)
			close(n.done)
			f.mu.Lock()
			f.endLocked(nil)
			f.mu.Unlock()
			return nil
		case <-tick:
			f.mu.Lock()
			restart := f.tickLocked()
			f.mu.Unlock()
			if restart {
				stopSession(s)
				f.mu.Lock()
				f.endLocked(nil)
				f.mu.Unlock()
				return nil
			}
		case <-ctx.Done():
			stopSession(s)
			return nil
		}
	}
}

// deliverLocked keeps a line from tail. A rotated file still being written
// is read first: its writer wrote there before it switched to the new file.
func (f *Follower) deliverLocked(l *tail.Line) {
	if f.old != nil {
		f.drainOldLocked(false)
	}
	if c := f.cur; c != nil {
		c.off = l.SeekInfo.Offset
	}
	kept, cut := cutLine(strings.TrimSuffix(l.Text, "\r"), f.cfg.maxLine)
	f.addLocked(kept, cut)
}

// noteLocked decides what happened when tail reports a truncation or a
// vanished file: its guess is not trusted (it stats the path, which after a
// rename may name the new, smaller file and look truncated). Same file and
// shorter: truncated or overwritten, read again from the start. Another file
// or none: rotated or deleted.
func (f *Follower) noteLocked(n note) {
	c := f.cur
	if c == nil {
		return
	}
	pfi, perr := os.Stat(f.path)
	if perr != nil || !os.SameFile(c.fi, pfi) {
		f.goneLocked(c, pfi, perr)
		return
	}
	switch size := pfi.Size(); {
	case size < c.off:
		f.shrunkLocked(c.off, size)
	case n.truncated:
		f.recordLocked(Overwritten, "cut short and rewritten (now %d bytes); reading from the start", size)
	default:
		return // tail saw a change that is not there any more: resume
	}
	c.off = 0
}

// shrunkLocked records that the file, read up to was, is now size bytes:
// emptied (copytruncate), or cut and already rewritten (a restarted
// instance opening it with O_TRUNC). Either way it is read from the start.
func (f *Follower) shrunkLocked(was, size int64) {
	if size == 0 {
		f.recordLocked(Truncated, "cut from %d bytes to empty; reading from the start", was)
		return
	}
	f.recordLocked(Overwritten, "cut from %d to %d bytes and rewritten; reading from the start", was, size)
}

// goneLocked records that the path no longer names c's file (pfi and perr
// are what it names now): renamed or deleted, with or without a new file in
// its place. c is retired: read for as long as writers still append to it.
func (f *Follower) goneLocked(c *current, pfi fs.FileInfo, perr error) {
	cfi, err := c.f.Stat()
	if err != nil {
		cfi = c.fi
	}
	gone := perr != nil
	switch {
	case linkCount(cfi) == 0 && gone:
		f.recordLocked(Deleted, "unlinked; still reading what is appended to it")
	case linkCount(cfi) == 0:
		f.recordLocked(Recreated, "deleted and created anew")
	case gone:
		f.recordLocked(Rotated, "renamed away; waiting for a new file")
	default:
		f.recordLocked(Rotated, "renamed, new file created")
	}
	if perr != nil && !errors.Is(perr, fs.ErrNotExist) {
		f.problemLocked(perr)
	}
	f.awaitingNew = gone
	f.retireLocked(c)
	f.cur = nil
	f.last = nil
}

// retireLocked makes c the old file, draining and closing an older one.
func (f *Follower) retireLocked(c *current) {
	f.retireOldLocked()
	f.old = &retired{f: c.f, off: c.off, sp: newSplitter(f.cfg.maxLine), lastGrowth: f.cfg.now()}
	f.drainOldLocked(false)
}

// retireOldLocked reads the old file to its end, its last unterminated line
// included, and closes it.
func (f *Follower) retireOldLocked() {
	if f.old == nil {
		return
	}
	f.drainOldLocked(true)
	if f.old != nil {
		f.old.f.Close()
		f.old = nil
	}
}

// drainOldLocked reads what was appended to the old file since last time.
// Its reads are not bounded by the backfill budget: every line appended to
// it belongs between the lines already kept and those of the new file.
func (f *Follower) drainOldLocked(final bool) {
	o := f.old
	buf := make([]byte, readChunk)
	for {
		n, err := o.f.ReadAt(buf, o.off)
		if n > 0 {
			o.off += int64(n)
			o.lastGrowth = f.cfg.now()
			o.sp.write(buf[:n], f.addLocked)
		}
		if err == io.EOF || n == 0 {
			break
		}
		if err != nil {
			f.problemLocked(fmt.Errorf("reading the rotated file: %w", err))
			o.sp.flush(f.addLocked)
			o.f.Close()
			f.old = nil
			return
		}
	}
	if final {
		o.sp.flush(f.addLocked)
	}
}

// tickLocked reads the old file, lets it go once it has been quiet for the
// grace period, and watches tail. It returns true when the session must be
// restarted because tail has not acted on a change: nxadm/tail reads to the
// end and only then adds its inotify watch, so a truncation, rename or write
// in between goes unseen. A restart resumes where the last delivered line
// ended (or at the start of a truncated file), so nothing is lost or read
// twice; only the ring's freshness suffers, and Snapshot reads ahead anyway.
func (f *Follower) tickLocked() bool {
	if f.old != nil {
		f.drainOldLocked(false)
		if f.old != nil && f.cfg.now().Sub(f.old.lastGrowth) >= f.cfg.grace {
			f.retireOldLocked()
		}
	}
	c := f.cur
	if c == nil {
		return false
	}
	pos, size := c.off, f.size(c.f)
	if size < pos {
		// Cut short under tail, which did not notice (it was not watching
		// yet): tail would wait at its offset forever.
		f.shrunkLocked(pos, size)
		c.off = 0
		return true
	}
	if pfi, err := os.Stat(f.path); err != nil || !os.SameFile(c.fi, pfi) {
		return true // rotated or deleted and tail did not notice; endLocked tells
	}
	if size == pos || c.off != c.lastOff || !hasNewline(c.f, pos, size) {
		c.lastOff, c.stuckSince = c.off, time.Time{}
		return false
	}
	// Complete lines wait and tail delivers none: it missed the write that
	// came between its last read and its inotify watch. Give it time first.
	now := time.Now()
	if c.stuckSince.IsZero() {
		c.stuckSince = now
	}
	return now.Sub(c.stuckSince) >= max(2*f.cfg.poll, stallAfter)
}

// hasNewline reports whether the file holds a complete line from pos on
// (a partial line is tail waiting, not tail stuck).
func hasNewline(r io.ReaderAt, pos, size int64) bool {
	buf := make([]byte, min(size-pos, readChunk))
	n, _ := r.ReadAt(buf, pos)
	return bytes.IndexByte(buf[:n], '\n') >= 0
}

// endLocked is called when a tail session ended: by an error (the file
// became unreadable, or a directory), or by a restart. The current file is
// read to its last complete line and let go; the next attach resumes there
// if the path still names it.
func (f *Follower) endLocked(err error) {
	if c := f.cur; c != nil {
		// tail dies when the file goes before it could watch it (inotify
		// add on a removed path): that is a rotation or deletion, not an
		// error.
		if pfi, perr := os.Stat(f.path); perr != nil || !os.SameFile(c.fi, pfi) {
			f.goneLocked(c, pfi, perr)
			return
		}
	}
	if err != nil && !errors.Is(err, tail.ErrStop) {
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EMFILE) {
			f.cfg.polling = true // out of inotify watches: poll from now on
		}
		f.problemLocked(err)
	}
	if c := f.cur; c != nil {
		end, _, _ := readLines(c.f, c.off, f.size(c.f), 0, f.cfg.maxLine, f.addLocked)
		f.last = &resume{fi: c.fi, off: end}
		c.f.Close()
		f.cur = nil
	}
}
