package report

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/event"
)

// ArchiveName is the append-only event archive inside a report directory.
const ArchiveName = "events.ndjson"

// Dir is a report directory: the reports, their chain, and the archive.
//
// Several writers (sre-report processes) may share one directory: every
// step that reads the chain's head and extends it, and every append to the
// archive, holds an exclusive advisory lock (flock) on LockName, waiting
// for it, never failing for it. Verify holds it shared.
type Dir struct {
	Path string

	mu      sync.Mutex
	lock    *os.File
	head    Link              // the newest report
	known   map[string]*Entry // the reports read back or written, by name
	loaded  bool
	seenAt  time.Time // the directory's mtime when known was last complete
	archive *os.File

	// Archive records that could not be written yet, oldest first; a new
	// record waits behind them so the archive keeps the stream's order.
	queue      []queued
	queueBytes int
	dropped    []string // records given up because the queue was full (at most MaxDroppedNamed)
	moreDrops  int      // and how many more
}

type queued struct {
	line []byte // with its newline
	sync bool
}

// Bounds of the records kept in memory while the archive cannot be written.
const (
	MaxQueued      = 10000
	MaxQueuedBytes = 16 << 20
	// MaxDroppedNamed bounds the records given up that Unwritten names one
	// by one; it counts the rest.
	MaxDroppedNamed = 1000
)

// LockName is the lock file every writer of a directory takes (flock).
const LockName = ".lock"

// tmpPattern names a report being written; one seen while holding the lock
// was left by a writer that died mid-report.
const tmpPattern = ".writing-*.tmp"

// Open prepares a report directory, creating it (0755) when missing, and
// removes the temp files a writer killed mid-report left behind.
func Open(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("report directory %s: %w", path, unwrap(err))
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("report directory %s: %w", path, unwrap(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("report directory %s: not a directory", path)
	}
	d := &Dir{Path: path, known: map[string]*Entry{}}
	d.mu.Lock()
	defer d.mu.Unlock()
	// A directory that cannot be locked now (read-only) is tried again at
	// each write, which fails and is retried as before.
	if unlock, err := d.flock(); err == nil {
		d.removeStale()
		unlock()
	}
	return d, nil
}

// flock takes the directory's exclusive lock, waiting for it. Every temp
// file is created and renamed or removed under it.
func (d *Dir) flock() (func(), error) {
	if d.lock == nil {
		name := filepath.Join(d.Path, LockName)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			// flock works on a read-only descriptor too.
			if f, err = os.Open(name); err != nil {
				return nil, fmt.Errorf("lock %s: %w", name, unwrap(err))
			}
		}
		d.lock = f
	}
	fd := int(d.lock.Fd())
	for {
		err := unix.Flock(fd, unix.LOCK_EX)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EINTR) {
			return nil, fmt.Errorf("lock %s: %w", d.lock.Name(), err)
		}
	}
	return func() { _ = unix.Flock(fd, unix.LOCK_UN) }, nil
}

// removeStale removes the temp files of writers that died mid-report. It
// runs under the lock, while no live writer has a temp file.
func (d *Dir) removeStale() {
	names, _ := filepath.Glob(filepath.Join(d.Path, tmpPattern))
	for _, n := range names {
		_ = os.Remove(n)
	}
}

func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// Head returns the newest report of the chain (zero when there is none).
func (d *Dir) Head() (Link, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.refresh(); err != nil {
		return Link{}, err
	}
	return d.head, nil
}

// refresh finds the chain's head again, reading only the reports it has
// not seen (another writer's): reports never change once written.
func (d *Dir) refresh() error {
	// Unchanged since we last looked (another writer's rename would have
	// moved its mtime): nothing to read, so a large directory is not
	// listed for every report. An mtime only trusted once it is 2 s old,
	// so a filesystem with coarse timestamps cannot hide a change.
	fi, err := os.Stat(d.Path)
	if err == nil && d.loaded && !d.seenAt.IsZero() && fi.ModTime().Equal(d.seenAt) {
		return nil
	}
	d.seenAt = time.Time{}
	if err == nil && time.Since(fi.ModTime()) > 2*time.Second {
		d.seenAt = fi.ModTime()
	}
	ents, err := os.ReadDir(d.Path)
	if err != nil {
		return fmt.Errorf("report directory %s: %w", d.Path, unwrap(err))
	}
	changed := !d.loaded
	seen := 0
	for _, de := range ents {
		if de.IsDir() || !IsReportName(de.Name()) {
			continue
		}
		seen++
		if _, ok := d.known[de.Name()]; ok {
			continue
		}
		e, err := readEntry(filepath.Join(d.Path, de.Name()))
		if err != nil {
			return err
		}
		d.known[e.Name] = e
		changed = true
	}
	if seen != len(d.known) { // a report went away: forget it
		names := map[string]bool{}
		for _, de := range ents {
			names[de.Name()] = true
		}
		for n := range d.known {
			if !names[n] {
				delete(d.known, n)
			}
		}
		changed = true
	}
	if changed {
		c := &Chain{Entries: d.known}
		d.head = Link{}
		if order := c.order(); len(order) > 0 {
			last := order[len(order)-1]
			d.head = Link{Name: last.Name, SHA256: last.SHA256}
		}
	}
	d.loaded = true
	return nil
}

// WriteReport renders r (with Prev set to the chain head) and writes it
// atomically: a temp file in the directory, fsync, mode 0444, a rename that
// never replaces an existing file, and an fsync of the directory. On any
// failure nothing is left behind and the chain is unchanged. It returns the
// path written and the report's SHA-256.
func (d *Dir) WriteReport(r *Report) (string, string, error) {
	path, sum, _, err := d.Write(r, nil)
	return path, sum, err
}

// Write is WriteReport, and then appends the archive lines record returns
// for the report written (its report_written notice), fsync'd, under
// the same hold of the lock: a reader holding the lock never sees a report
// the archive has not recorded yet, unless the archive could not be
// written. archErr says so; those lines then wait in memory, in order, for
// Flush.
func (d *Dir) Write(r *Report, record func(path, sum string) [][]byte) (path, sum string, archErr, err error) {
	return d.write(r, record, true)
}

// WriteFirst is Write for a stage that passes the report's event on at
// once: the report is durable when it returns, and its archive lines are
// written (a reader holding the lock sees them) but not yet made durable.
// The caller passes the event on and then calls sync, which fsyncs the
// archive: the journal commit of the archive record is not between a
// failure and the next stage learning of it, the report's own are.
func (d *Dir) WriteFirst(r *Report, record func(path, sum string) [][]byte) (path, sum string, sync func() error, archErr, err error) {
	path, sum, archErr, err = d.write(r, record, false)
	return path, sum, d.syncArchive, archErr, err
}

// syncArchive makes the archive's written records durable.
func (d *Dir) syncArchive() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.archive == nil {
		return nil
	}
	if err := d.archive.Sync(); err != nil {
		return fmt.Errorf("archive: fsync: %w", unwrap(err))
	}
	return nil
}

func (d *Dir) write(r *Report, record func(path, sum string) [][]byte, durable bool) (path, sum string, archErr, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	unlock, err := d.flock()
	if err != nil {
		return "", "", nil, fmt.Errorf("report %s: %w", r.Name, err)
	}
	defer unlock()
	if err := d.refresh(); err != nil {
		return "", "", nil, err
	}
	path, sum, err = d.writeLocked(r)
	if err != nil {
		return "", "", nil, err
	}
	if record != nil {
		// One fsync for them all, after the last: a crash before it
		// loses them together, as it would lose one.
		lines := record(path, sum)
		for i, line := range lines {
			if e := d.appendLocked(line, durable && i == len(lines)-1); e != nil && archErr == nil {
				archErr = e
			}
		}
	}
	return path, sum, archErr, nil
}

func (d *Dir) writeLocked(r *Report) (string, string, error) {
	r.Prev = d.head
	// The name is chosen before the report is rendered, under the lock
	// every writer holds: a report that takes -2 (its name was taken)
	// names its own context report, NAME-2_context.txt.
	r.Name = d.freeName(r.Name)
	if r.ContextName != "" {
		r.ContextName = ContextName(r.Name)
	}
	data := Render(r)
	sum := sha256.Sum256(data)
	hexsum := hex.EncodeToString(sum[:])

	tmp, err := os.CreateTemp(d.Path, ".writing-*.tmp")
	if err != nil {
		return "", "", fmt.Errorf("report %s: create: %w", r.Name, unwrap(err))
	}
	tmpName := tmp.Name()
	fail := func(step string, err error) (string, string, error) {
		tmp.Close()
		os.Remove(tmpName)
		return "", "", fmt.Errorf("report %s: %s: %w", r.Name, step, unwrap(err))
	}
	if _, err := tmp.Write(data); err != nil {
		return fail("write", err)
	}
	if err := tmp.Sync(); err != nil {
		return fail("fsync", err)
	}
	if err := tmp.Chmod(0o444); err != nil {
		return fail("chmod", err)
	}
	if err := tmp.Close(); err != nil {
		return fail("close", err)
	}
	final := filepath.Join(d.Path, r.Name)
	for i := 2; ; i++ {
		err := unix.Renameat2(unix.AT_FDCWD, tmpName, unix.AT_FDCWD, final, unix.RENAME_NOREPLACE)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			// No RENAME_NOREPLACE on this filesystem: link fails on an
			// existing name, which is the same promise.
			if err = os.Link(tmpName, final); err == nil {
				os.Remove(tmpName)
			}
		}
		if err == nil {
			break
		}
		if errors.Is(err, unix.EEXIST) || errors.Is(err, fs.ErrExist) {
			final = filepath.Join(d.Path, strings.TrimSuffix(r.Name, ".txt")+fmt.Sprintf("-%d.txt", i))
			if i < 100 {
				continue
			}
		}
		os.Remove(tmpName)
		return "", "", fmt.Errorf("report %s: rename: %w", r.Name, unwrap(err))
	}
	// The file is in place: it is the head now, whether or not the
	// directory's fsync succeeds.
	name := filepath.Base(final)
	d.head = Link{Name: name, SHA256: hexsum}
	d.known[name] = &Entry{Name: name, SHA256: hexsum, ID: r.ShortID, EventID: r.Event.ID, Prev: r.Prev.Name, PrevSHA: r.Prev.SHA256,
		ContextFor: r.ContextFor.Name}
	if err := syncDir(d.Path); err != nil {
		return final, hexsum, fmt.Errorf("report %s: fsync directory: %w", r.Name, err)
	}
	return final, hexsum, nil
}

// freeName is name, or name-2.txt, -3 … when it is taken.
func (d *Dir) freeName(name string) string {
	free := name
	for i := 2; i < 100; i++ {
		if _, err := os.Lstat(filepath.Join(d.Path, free)); errors.Is(err, fs.ErrNotExist) {
			return free
		}
		free = strings.TrimSuffix(name, ".txt") + fmt.Sprintf("-%d.txt", i)
	}
	return free
}

func syncDir(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// AppendArchive appends one record line to events.ndjson in one write, and
// fsyncs it when sync is set (critical records). A record that cannot be
// written (disk full) is kept in memory, behind any others waiting, and
// written by a later append or Flush; the error says why it waits.
func (d *Dir) AppendArchive(line []byte, sync bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	unlock, err := d.flock()
	if err != nil {
		if qerr := d.enqueue(withNewline(line), sync); qerr != nil {
			return qerr
		}
		return fmt.Errorf("archive: %w", err)
	}
	defer unlock()
	return d.appendLocked(line, sync)
}

func withNewline(line []byte) []byte {
	buf := make([]byte, 0, len(line)+1)
	return append(append(buf, line...), '\n')
}

func (d *Dir) appendLocked(line []byte, sync bool) error {
	buf := withNewline(line)
	if len(d.queue) > 0 {
		if err := d.enqueue(buf, sync); err != nil {
			return err
		}
		return d.flushLocked()
	}
	if err := d.writeArchive(buf, sync); err != nil {
		if qerr := d.enqueue(buf, sync); qerr != nil {
			return qerr
		}
		return err
	}
	return nil
}

// enqueue keeps a record for later; past the bounds it is given up, and
// named.
func (d *Dir) enqueue(buf []byte, sync bool) error {
	if len(d.queue) >= MaxQueued || d.queueBytes+len(buf) > MaxQueuedBytes {
		label := RecordLabel(buf)
		if len(d.dropped) < MaxDroppedNamed {
			d.dropped = append(d.dropped, label)
		} else {
			d.moreDrops++
		}
		return fmt.Errorf("archive: %d records already wait to be written: %s is lost", len(d.queue), label)
	}
	d.queue = append(d.queue, queued{buf, sync})
	d.queueBytes += len(buf)
	return nil
}

// writeArchive writes one line; on failure the archive is as it was.
func (d *Dir) writeArchive(buf []byte, sync bool) error {
	if d.archive != nil && d.rotated() {
		// sre-report prune rotated the archive (under the lock, as this
		// write is): the handle is the renamed file, so the record goes to
		// the new one.
		_ = d.archive.Close()
		d.archive = nil
	}
	if d.archive == nil {
		f, err := os.OpenFile(filepath.Join(d.Path, ArchiveName), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("archive %s: %w", filepath.Join(d.Path, ArchiveName), unwrap(err))
		}
		d.archive = f
	}
	var size int64 = -1
	if fi, err := d.archive.Stat(); err == nil {
		size = fi.Size()
	}
	// A short write (ENOSPC), or one that could not be made durable, is
	// cut off, so the archive holds whole records only and the record can
	// be written again. The lock keeps other writers out meanwhile.
	cut := func() {
		if size >= 0 {
			_ = d.archive.Truncate(size)
		}
	}
	if _, err := d.archive.Write(buf); err != nil {
		cut()
		return fmt.Errorf("archive: write: %w", unwrap(err))
	}
	if sync {
		if err := d.archive.Sync(); err != nil {
			cut()
			return fmt.Errorf("archive: fsync: %w", unwrap(err))
		}
	}
	return nil
}

// rotated reports whether the open archive is no longer DIR/events.ndjson:
// another file has its name (a rotation renamed it and started a new one),
// or it was removed. An archive whose directory was moved away keeps
// being written where it is. Called under the lock.
func (d *Dir) rotated() bool {
	open, err := d.archive.Stat()
	if err != nil {
		return true
	}
	now, err := os.Stat(filepath.Join(d.Path, ArchiveName))
	if err == nil {
		return !os.SameFile(open, now)
	}
	st, ok := open.Sys().(*syscall.Stat_t)
	return ok && st.Nlink == 0
}

func (d *Dir) flushLocked() error {
	for len(d.queue) > 0 {
		q := d.queue[0]
		if err := d.writeArchive(q.line, q.sync); err != nil {
			return err
		}
		d.queue[0] = queued{}
		d.queue = d.queue[1:]
		d.queueBytes -= len(q.line)
	}
	d.queue = nil
	return nil
}

// Flush writes the records waiting in memory, oldest first, and returns
// how many still wait.
func (d *Dir) Flush() (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.queue) == 0 {
		return 0, nil
	}
	unlock, err := d.flock()
	if err != nil {
		return len(d.queue), fmt.Errorf("archive: %w", err)
	}
	defer unlock()
	err = d.flushLocked()
	return len(d.queue), err
}

// Unwritten names the records not in the archive: those waiting, then
// those given up because too many waited (the first MaxDroppedNamed of
// them); more is how many more were given up, unnamed.
func (d *Dir) Unwritten() (labels []string, more int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, q := range d.queue {
		labels = append(labels, RecordLabel(q.line))
	}
	return append(labels, d.dropped...), d.moreDrops
}

// RecordLabel names a record for a person: its kind and id, or for a
// notice or action the event it is about.
func RecordLabel(line []byte) string {
	var r struct {
		Kind    string `json:"kind"`
		ID      string `json:"id"`
		Code    string `json:"code"`
		EventID string `json:"event_id"`
		Detail  struct {
			EventID string `json:"event_id"`
		} `json:"detail"`
	}
	if json.Unmarshal(line, &r) != nil {
		return "an unreadable record"
	}
	switch {
	case r.ID != "":
		return r.Kind + " " + r.ID
	case r.Code != "" && r.Detail.EventID != "":
		return r.Kind + " " + r.Code + " of event " + r.Detail.EventID
	case r.EventID != "":
		return r.Kind + " of event " + r.EventID
	case r.Code != "":
		return r.Kind + " " + r.Code
	}
	return r.Kind + " without id"
}

// Close releases the archive and the lock.
func (d *Dir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lock != nil {
		d.lock.Close()
		d.lock = nil
	}
	if d.archive == nil {
		return nil
	}
	err := d.archive.Close()
	d.archive = nil
	return err
}

// Entry is one report file as read back.
type Entry struct {
	Name    string
	SHA256  string
	ID      string // Report-ID
	EventID string
	Prev    string // Previous-Report ("" for the first)
	PrevSHA string
	// ContextFor is, on a context report, the report it completes.
	ContextFor string
	// The incident as its header tells it (What:, When-UTC:, Type:,
	// Target:, Severity:): what a pruned report leaves in the archive.
	What, Type, Target, Severity string
	When                         time.Time
}

// Chain is the reports of a directory, read back.
type Chain struct {
	Entries map[string]*Entry
	Order   []*Entry // from the first report to the head, following the links
}

// ReadChain reads every report's header and hash.
func ReadChain(dir string) (*Chain, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("report directory %s: %w", dir, unwrap(err))
	}
	c := &Chain{Entries: map[string]*Entry{}}
	for _, de := range ents {
		if de.IsDir() || !IsReportName(de.Name()) {
			continue
		}
		e, err := readEntry(filepath.Join(dir, de.Name()))
		if err != nil {
			return nil, err
		}
		c.Entries[e.Name] = e
	}
	c.Order = c.order()
	return c, nil
}

func readEntry(path string) (*Entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", path, unwrap(err))
	}
	sum := sha256.Sum256(data)
	e := &Entry{Name: filepath.Base(path), SHA256: hex.EncodeToString(sum[:])}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 0; sc.Scan() && n < 40; n++ {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "What":
			e.What = v
		case "When-UTC":
			if t, err := time.Parse(event.TimeLayout, v); err == nil {
				e.When = t
			}
		case "Type":
			e.Type = v
		case "Target":
			e.Target = v
		case "Severity":
			e.Severity = v
		case keyReportID:
			e.ID = v
		case keyEventID:
			e.EventID = v
		case keyPrev:
			if v != none {
				e.Prev = v
			}
		case keyPrevSHA:
			if v != none {
				e.PrevSHA = v
			}
		case keyContext:
			e.ContextFor = v
		}
	}
	return e, nil
}

// order follows the links from the first report (no predecessor) to the
// head. With a damaged chain it returns what it can, oldest name first.
func (c *Chain) order() []*Entry {
	next := map[string][]*Entry{}
	var roots []*Entry
	for _, e := range c.Entries {
		if e.Prev == "" {
			roots = append(roots, e)
		} else {
			next[e.Prev] = append(next[e.Prev], e)
			if _, ok := c.Entries[e.Prev]; !ok {
				// Its predecessor is gone (pruned): the chain that is
				// left starts here.
				roots = append(roots, e)
			}
		}
	}
	sort.Slice(roots, func(i, j int) bool { return roots[i].Name < roots[j].Name })
	var out []*Entry
	seen := map[string]bool{}
	for _, r := range roots {
		for e := r; e != nil && !seen[e.Name]; {
			seen[e.Name] = true
			out = append(out, e)
			kids := next[e.Name]
			sort.Slice(kids, func(i, j int) bool { return kids[i].Name < kids[j].Name })
			if len(kids) == 0 {
				break
			}
			e = kids[0]
		}
	}
	// Reports reachable from no root (their predecessor is gone) follow,
	// by name, so the head is still the newest.
	var orphans []*Entry
	for _, e := range c.Entries {
		if !seen[e.Name] {
			orphans = append(orphans, e)
		}
	}
	sort.Slice(orphans, func(i, j int) bool { return orphans[i].Name < orphans[j].Name })
	return append(out, orphans...)
}
