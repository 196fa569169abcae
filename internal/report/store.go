package report

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// ArchiveName is the append-only event archive inside a report directory.
const ArchiveName = "events.ndjson"

// Dir is a report directory: the reports, their chain, and the archive.
type Dir struct {
	Path string

	mu      sync.Mutex
	head    Link // the newest report
	loaded  bool
	archive *os.File
}

// Open prepares a report directory, creating it (0755) when missing.
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
	return &Dir{Path: path}, nil
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
	if err := d.loadHead(); err != nil {
		return Link{}, err
	}
	return d.head, nil
}

func (d *Dir) loadHead() error {
	if d.loaded {
		return nil
	}
	chain, err := ReadChain(d.Path)
	if err != nil {
		return err
	}
	if n := len(chain.Order); n > 0 {
		last := chain.Order[n-1]
		d.head = Link{Name: last.Name, SHA256: last.SHA256}
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
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.loadHead(); err != nil {
		return "", "", err
	}
	r.Prev = d.head
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
	if err := syncDir(d.Path); err != nil {
		return final, hexsum, fmt.Errorf("report %s: fsync directory: %w", r.Name, err)
	}
	d.head = Link{Name: filepath.Base(final), SHA256: hexsum}
	return final, hexsum, nil
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
// fsyncs it when sync is set (critical records).
func (d *Dir) AppendArchive(line []byte, sync bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.archive == nil {
		f, err := os.OpenFile(filepath.Join(d.Path, ArchiveName), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("archive %s: %w", filepath.Join(d.Path, ArchiveName), unwrap(err))
		}
		d.archive = f
	}
	buf := make([]byte, 0, len(line)+1)
	buf = append(append(buf, line...), '\n')
	var size int64 = -1
	if fi, err := d.archive.Stat(); err == nil {
		size = fi.Size()
	}
	if _, err := d.archive.Write(buf); err != nil {
		// A short write (ENOSPC) may have left half a line: cut it off so
		// the archive holds whole records only.
		if size >= 0 {
			_ = d.archive.Truncate(size)
		}
		return fmt.Errorf("archive: write: %w", unwrap(err))
	}
	if sync {
		if err := d.archive.Sync(); err != nil {
			return fmt.Errorf("archive: fsync: %w", unwrap(err))
		}
	}
	return nil
}

// Close releases the archive.
func (d *Dir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
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
