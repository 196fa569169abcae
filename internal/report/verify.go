package report

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/ndjson"
)

// NoticeReportWritten is the notice code the archive records for each
// report, with its name and SHA-256: what Verify checks the files against.
const NoticeReportWritten = "report_written"

// NoticeReportPruned is the notice code the archive records for each
// incident the retention policy removed (sre-report prune): its report's
// name and SHA-256 (and its context report's), and the incident's summary.
// Verify accepts a link to a report so recorded.
const NoticeReportPruned = "report_pruned"

// Problem is one way the directory differs from what was written.
type Problem struct {
	Kind string // altered, removed, inserted
	Name string // the report file concerned
	Why  string
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s: %s", p.Kind, p.Name, p.Why) }

// Verification is the outcome of Verify.
type Verification struct {
	Reports  int
	Recorded int // reports the archive records
	Problems []Problem
	// Vouched are reports the archive has no record of, written while it
	// could not be (a full disk), each proven by a later report that the
	// archive records: that report holds its SHA-256 in its link.
	Vouched []Problem
	// Pruned is how many reports the archive records as removed by the
	// retention policy (report_pruned notices).
	Pruned int
}

// Verify checks every report against the chain of SHA-256 links and against
// the archive's record of what was written. It names every file altered,
// removed or inserted. err is for a directory it could not read at all.
//
// It holds the directory's lock shared, so a report being written is not
// seen half-recorded.
func Verify(dir string) (*Verification, error) {
	if f, err := os.Open(filepath.Join(dir, LockName)); err == nil {
		defer f.Close()
		for unix.Flock(int(f.Fd()), unix.LOCK_SH) == unix.EINTR {
		}
	}
	chain, err := ReadChain(dir)
	if err != nil {
		return nil, err
	}
	v := &Verification{Reports: len(chain.Entries)}
	add := func(kind, name, format string, args ...any) {
		v.Problems = append(v.Problems, Problem{kind, name, fmt.Sprintf(format, args...)})
	}
	written, pruned, err := readLedger(dir)
	if err != nil {
		return nil, err
	}
	v.Pruned = len(pruned)

	// 1. The chain: each report names its predecessor and that file's hash.
	// Only one report may be the first: the one the archive knows (or, with
	// no archive, the oldest).
	var roots []*Entry
	follows := map[string][]string{}
	for _, e := range sortedEntries(chain) {
		if e.Prev == "" {
			roots = append(roots, e)
			continue
		}
		follows[e.Prev] = append(follows[e.Prev], e.Name)
		prev, ok := chain.Entries[e.Prev]
		psum, wasPruned := pruned[e.Prev]
		switch {
		case !ok && wasPruned && psum == e.PrevSHA:
			// Pruned by the retention policy, and recorded with the
			// SHA-256 this report links to: the link holds.
		case !ok && wasPruned:
			add("altered", e.Prev, "pruned with SHA-256 %s, but %s recorded %s", short(psum), e.Name, short(e.PrevSHA))
		case !ok:
			add("removed", e.Prev, "missing, but %s follows it", e.Name)
		case prev.SHA256 != e.PrevSHA:
			add("altered", e.Prev, "its SHA-256 is %s, but %s recorded %s", short(prev.SHA256), e.Name, short(e.PrevSHA))
		}
	}
	if len(roots) > 1 {
		first := roots[0]
		for _, r := range roots {
			if _, ok := written[r.Name]; ok {
				first = r
				break
			}
		}
		for _, r := range roots {
			if r != first {
				add("inserted", r.Name, "claims to be the first report, but %s is", first.Name)
			}
		}
	}
	for prev, names := range follows {
		if len(names) < 2 {
			continue
		}
		sort.Strings(names)
		// The one the archive records is the report written; without
		// such a record, the later name is the intruder.
		var kept []string
		for _, n := range names {
			if sum, ok := written[n]; ok && sum == chain.Entries[n].SHA256 {
				kept = append(kept, n)
			}
		}
		if len(kept) != 1 {
			kept = names[:1]
		}
		for _, n := range names {
			if n != kept[0] {
				add("inserted", n, "it and %s both claim to follow %s", kept[0], prev)
			}
		}
	}

	// 2. The archive: what was written, with its hash. This also covers the
	// newest report, which no later report vouches for.
	v.Recorded = len(written)
	if written != nil {
		for name, sum := range written {
			e, ok := chain.Entries[name]
			psum, wasPruned := pruned[name]
			switch {
			case !ok && wasPruned && psum == sum:
				// Pruned, and the archive says so with the same SHA-256.
			case !ok && wasPruned:
				add("altered", name, "the archive recorded %s, but it was pruned as %s", short(sum), short(psum))
			case !ok:
				add("removed", name, "the archive records it, but the file is gone")
			case e.SHA256 != sum:
				add("altered", name, "its SHA-256 is %s, but the archive recorded %s", short(e.SHA256), short(sum))
			}
		}
		proof := vouchers(chain, written)
		for _, e := range sortedEntries(chain) {
			if _, ok := written[e.Name]; ok {
				continue
			}
			switch by, ok := proof[e.Name]; {
			case ok && by != "":
				v.Vouched = append(v.Vouched, Problem{"unrecorded", e.Name,
					fmt.Sprintf("written while the archive could not record it; %s, which the archive records, holds its SHA-256", by)})
			case len(follows[e.Name]) == 0 && len(follows[e.Prev]) <= 1 && headLinked(e, proof, pruned, len(written)):
				add("unrecorded", e.Name, "the archive has no record of it and no later report vouches for it yet: "+
					"written while the archive could not be (sre-report named its event as lost), or inserted")
			default:
				add("inserted", e.Name, "the archive has no record of writing it")
			}
		}
	}
	v.Problems = dedupe(v.Problems)
	return v, nil
}

// vouchers maps each report that is proven by the archive to the recorded
// report that proves it: "" for one the archive records itself with its
// SHA-256, else the nearest later report so recorded whose chain of
// Previous-SHA256 links leads back to it unbroken.
func vouchers(c *Chain, written map[string]string) map[string]string {
	next := map[string][]*Entry{}
	for _, e := range c.Entries {
		if e.Prev != "" {
			next[e.Prev] = append(next[e.Prev], e)
		}
	}
	out := map[string]string{}
	busy := map[string]bool{}
	var proven func(e *Entry) (string, bool)
	proven = func(e *Entry) (string, bool) {
		if by, ok := out[e.Name]; ok {
			return by, true
		}
		if sum, ok := written[e.Name]; ok {
			if sum != e.SHA256 {
				return "", false
			}
			out[e.Name] = ""
			return "", true
		}
		if busy[e.Name] { // a loop of links proves nothing
			return "", false
		}
		busy[e.Name] = true
		defer delete(busy, e.Name)
		for _, n := range next[e.Name] {
			if n.PrevSHA != e.SHA256 {
				continue
			}
			if by, ok := proven(n); ok {
				if by == "" {
					by = n.Name
				}
				out[e.Name] = by
				return by, true
			}
		}
		return "", false
	}
	for _, e := range c.Entries {
		proven(e)
	}
	return out
}

// headLinked tells whether an unrecorded newest report follows a proven
// one (or is the first report of a directory whose archive records none).
func headLinked(e *Entry, proof, pruned map[string]string, recorded int) bool {
	if e.Prev == "" {
		return recorded == 0
	}
	if sum, ok := pruned[e.Prev]; ok {
		return sum == e.PrevSHA
	}
	_, ok := proof[e.Prev]
	return ok
}

func sortedEntries(c *Chain) []*Entry {
	out := make([]*Entry, 0, len(c.Entries))
	for _, e := range c.Entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func short(sum string) string {
	if len(sum) > 16 {
		return sum[:16] + "…"
	}
	return sum
}

func dedupe(ps []Problem) []Problem {
	seen := map[string]bool{}
	var out []Problem
	for _, p := range ps {
		k := p.Kind + "\x00" + p.Name
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// readLedger reads every archive of dir (the rotated ones, gzip too, then
// events.ndjson) and returns name → SHA-256 of every report_written notice
// (nil when there is no archive at all), and of every report_pruned one
// (a report and its context report, each with its SHA-256).
func readLedger(dir string) (written, pruned map[string]string, err error) {
	files, err := ArchiveFiles(dir)
	if err != nil {
		return nil, nil, err
	}
	pruned = map[string]string{}
	for _, path := range files {
		err := readArchive(path, func(rec ndjson.Record) {
			if rec.Kind != "notice" {
				return
			}
			var n struct {
				Code   string `json:"code"`
				Detail struct {
					Name    string `json:"name"`
					SHA256  string `json:"sha256"`
					Context *struct {
						Name   string `json:"name"`
						SHA256 string `json:"sha256"`
					} `json:"context"`
				} `json:"detail"`
			}
			if json.Unmarshal(rec.Raw, &n) != nil || n.Detail.Name == "" {
				return
			}
			switch n.Code {
			case NoticeReportWritten:
				if written == nil {
					written = map[string]string{}
				}
				written[n.Detail.Name] = n.Detail.SHA256
			case NoticeReportPruned:
				pruned[n.Detail.Name] = n.Detail.SHA256
				if c := n.Detail.Context; c != nil && c.Name != "" {
					pruned[c.Name] = c.SHA256
				}
			}
		})
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if written == nil {
			written = map[string]string{}
		}
	}
	return written, pruned, nil
}

// readArchive calls fn for each record of one archive file, plain or gzip.
func readArchive(path string, fn func(ndjson.Record)) error {
	rc, err := OpenArchive(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return err
		}
		return fmt.Errorf("archive %s: %w", path, unwrap(err))
	}
	defer rc.Close()
	r := ndjson.NewReader(rc)
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("archive %s: %w", path, err)
		}
		fn(rec)
	}
}

// IsRotatedArchive reports whether name is a rotated archive beside
// events.ndjson: numbered (events.ndjson.1, events.ndjson.2.gz, as
// sre-report prune and logrotate name them) or dated
// (events.ndjson-20261206[.gz]).
func IsRotatedArchive(name string) bool {
	rest, ok := strings.CutPrefix(name, ArchiveName)
	return ok && len(rest) > 1 && (rest[0] == '.' || rest[0] == '-') && !strings.HasSuffix(name, ".tmp")
}

// ArchiveFiles returns the paths of dir's archives, oldest first: the
// rotated ones (by modification time, then the higher number first), then
// events.ndjson, whether or not it exists.
func ArchiveFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("report directory %s: %w", dir, unwrap(err))
	}
	type rot struct {
		name  string
		mtime time.Time
		num   int
	}
	var rs []rot
	for _, de := range ents {
		if de.IsDir() || !IsRotatedArchive(de.Name()) {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue // gone since the listing
		}
		num, _ := rotatedNumber(de.Name())
		rs = append(rs, rot{de.Name(), fi.ModTime(), num})
	}
	sort.Slice(rs, func(i, j int) bool {
		if !rs[i].mtime.Equal(rs[j].mtime) {
			return rs[i].mtime.Before(rs[j].mtime)
		}
		if rs[i].num != rs[j].num {
			return rs[i].num > rs[j].num
		}
		return rs[i].name < rs[j].name
	})
	out := make([]string, 0, len(rs)+1)
	for _, r := range rs {
		out = append(out, filepath.Join(dir, r.name))
	}
	return append(out, filepath.Join(dir, ArchiveName)), nil
}

// rotatedNumber is N of events.ndjson.N or events.ndjson.N.gz, and whether
// name is such a numbered archive.
func rotatedNumber(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, ArchiveName+".")
	if !ok {
		return 0, false
	}
	rest = strings.TrimSuffix(rest, ".gz")
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

// OpenArchive opens one archive file for reading, decompressing it when it
// is gzip (by its magic bytes, whatever its name).
func OpenArchive(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 256<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return &gzFile{zr, f}, nil
	}
	return &plainFile{br, f}, nil
}

type gzFile struct {
	*gzip.Reader
	f *os.File
}

func (g *gzFile) Close() error {
	g.Reader.Close()
	return g.f.Close()
}

type plainFile struct {
	*bufio.Reader
	f *os.File
}

func (p *plainFile) Close() error { return p.f.Close() }
