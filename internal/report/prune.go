package report

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/ndjson"
)

// NoticeArchiveRotated is the notice code of the first line of an archive
// started by a rotation: the file the old one became, and what it held.
const NoticeArchiveRotated = "archive_rotated"

// DefaultArchiveKeep is how many rotated archives a rotation keeps.
const DefaultArchiveKeep = 5

// Policy is a retention policy: which incidents go, and when the archive
// rotates. An incident (a report, its context report and the evidence a
// heal action kept for it) goes when any of MaxAge, KeepReports and MaxSize
// says so; the incident holding the chain's newest report never goes, so
// the next report still links to one on disk.
type Policy struct {
	MaxAge      time.Duration // incidents older than this go (by the event's time); 0: no bound
	KeepReports int           // only the newest this many incidents stay; 0: no bound
	MaxSize     int64         // the oldest incidents go until the rest take at most this many bytes; 0: no bound

	// ArchiveMaxSize rotates events.ndjson when it is larger: it becomes
	// events.ndjson.1.gz (the older ones shift to .2.gz …) and a new
	// archive starts with an archive_rotated notice. 0: no rotation.
	ArchiveMaxSize int64
	// ArchiveKeep is how many rotated archives stay (DefaultArchiveKeep
	// when 0); the oldest beyond it are removed, and named.
	ArchiveKeep int

	DryRun bool
	Now    time.Time
	Host   string // for the notices
	Src    string // the notices' src
}

// Pruned is one incident the policy removed (or, dry, would remove).
type Pruned struct {
	Name     string // the report
	SHA256   string
	ReportID string
	EventID  string
	Target   string
	Type     string
	Severity string
	Time     time.Time // the event's time
	What     string    // the report's What: line
	Context  *Link     // its context report, when it has one
	Evidence []string  // the evidence files kept for it, by a heal action or by the report itself (names in the directory)
	Bytes    int64     // of every file removed for it
	Why      string    // the policy that removed it
}

// Files is every file of the incident, the report first.
func (p *Pruned) Files() []string {
	out := []string{p.Name}
	if p.Context != nil {
		out = append(out, p.Context.Name)
	}
	return append(out, p.Evidence...)
}

// Rotation is what a rotation of the archive did (or, dry, would do).
type Rotation struct {
	From, To  string // events.ndjson, events.ndjson.1.gz
	Lines     int64
	Bytes     int64 // of the archive rotated
	GzipBytes int64 // of the file it became (0 when dry)
	Removed   []string
	// Kept are the rotated archives beyond ArchiveKeep that were kept,
	// each with why: they record reports still in the directory.
	Kept []string
}

// PruneResult is what Prune did.
type PruneResult struct {
	Pruned   []Pruned
	Freed    int64
	Reports  int   // incidents in the directory before
	Size     int64 // their bytes before
	Rotation *Rotation
	// ArchiveSize is the archive's size when it was not rotated.
	ArchiveSize int64
	Warnings    []string
}

// Prune applies p to the directory under its exclusive lock, so that no
// writer is mid-chain: it records each incident it removes in the archive
// (a report_pruned notice with its summary and its files' SHA-256, fsync'd
// before any file goes, so Verify accepts the links to it and the archive
// keeps what was lost), removes its files, and then rotates the archive
// when p says so. With p.DryRun it changes nothing and tells what would go.
func (d *Dir) Prune(p Policy) (*PruneResult, error) {
	if p.Now.IsZero() {
		p.Now = time.Now()
	}
	if p.ArchiveKeep <= 0 {
		p.ArchiveKeep = DefaultArchiveKeep
	}
	if p.Src == "" {
		p.Src = "sre-report"
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	unlock, err := d.flock()
	if err != nil {
		return nil, err
	}
	defer unlock()

	chain, err := ReadChain(d.Path)
	if err != nil {
		return nil, err
	}
	ledger, err := readPruneLedger(d.Path)
	if err != nil {
		return nil, err
	}
	incs := incidents(chain, d.Path, ledger)
	res := &PruneResult{Reports: len(incs)}
	for _, in := range incs {
		res.Size += in.Bytes
	}
	gone := choose(incs, p)
	for _, in := range gone {
		res.Pruned = append(res.Pruned, in.Pruned)
		res.Freed += in.Bytes
	}

	if !p.DryRun && len(gone) > 0 {
		// The notices first, durable, then the files: a prune cut short
		// leaves files the archive already says are pruned (verify passes,
		// the next prune removes them), never files gone unsaid.
		for _, in := range gone {
			if ledger.pruned[in.Name] == in.SHA256 {
				continue // a prune cut short recorded it already
			}
			line := prunedNotice(&in.Pruned, p)
			if err := d.appendLocked(line, false); err != nil {
				return nil, fmt.Errorf("archive: the pruning of %s could not be recorded, so nothing was removed: %w", in.Name, err)
			}
		}
		if _, err := d.flushQueued(); err != nil {
			return nil, err
		}
		if d.archive != nil {
			// One fsync for them all, before the first file goes.
			if err := d.archive.Sync(); err != nil {
				return nil, fmt.Errorf("archive: fsync: the pruning could not be recorded, so nothing was removed: %w", unwrap(err))
			}
		}
		for _, in := range gone {
			for _, f := range in.Files() {
				if err := os.Remove(filepath.Join(d.Path, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					res.Warnings = append(res.Warnings, fmt.Sprintf("%s: not removed: %v", f, unwrap(err)))
				}
			}
			for _, f := range in.names {
				delete(chain.Entries, f)
			}
		}
		if err := syncDir(d.Path); err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("fsync %s: %v", d.Path, err))
		}
	} else if p.DryRun {
		for _, in := range gone {
			for _, f := range in.names {
				delete(chain.Entries, f)
			}
		}
	}

	if p.ArchiveMaxSize > 0 {
		rot, size, err := d.rotateLocked(p, chain)
		if err != nil {
			return res, err
		}
		res.Rotation, res.ArchiveSize = rot, size
		if rot != nil {
			res.Warnings = append(res.Warnings, rot.Kept...)
		}
	}
	return res, nil
}

// flushQueued writes what waits in memory; Prune's own notices must be in
// the archive before a file goes.
func (d *Dir) flushQueued() (int, error) {
	if len(d.queue) == 0 {
		return 0, nil
	}
	err := d.flushLocked()
	if err != nil {
		return len(d.queue), fmt.Errorf("archive: the pruning could not be recorded, so nothing was removed: %w", err)
	}
	return 0, nil
}

// incident is a report with its context report and evidence files.
type incident struct {
	Pruned
	names []string // its chain entries
}

// pruneLedger is what Prune reads from the archives: the reports already
// recorded as pruned, and the evidence files named by actions, by event.
type pruneLedger struct {
	pruned   map[string]string
	evidence map[string][]string
}

func readPruneLedger(dir string) (*pruneLedger, error) {
	l := &pruneLedger{pruned: map[string]string{}, evidence: map[string][]string{}}
	files, err := ArchiveFiles(dir)
	if err != nil {
		return nil, err
	}
	for _, path := range files {
		err := readArchive(path, func(rec ndjson.Record) {
			switch rec.Kind {
			case event.KindAction:
				var a struct {
					EventID  string   `json:"event_id"`
					Evidence []string `json:"evidence"`
				}
				if json.Unmarshal(rec.Raw, &a) == nil && a.EventID != "" && len(a.Evidence) > 0 {
					l.evidence[a.EventID] = append(l.evidence[a.EventID], a.Evidence...)
				}
			case event.KindNotice:
				var n struct {
					Code   string `json:"code"`
					Detail struct {
						Name   string `json:"name"`
						SHA256 string `json:"sha256"`
					} `json:"detail"`
				}
				if json.Unmarshal(rec.Raw, &n) == nil && n.Code == NoticeReportPruned && n.Detail.Name != "" {
					l.pruned[n.Detail.Name] = n.Detail.SHA256
				}
			}
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return l, nil
}

// incidents groups the chain's reports, oldest first (by the chain's
// order): each report with the context report that completes it and the
// evidence files the archive's actions name for its event.
func incidents(c *Chain, dir string, l *pruneLedger) []*incident {
	var out []*incident
	byName := map[string]*incident{}
	for _, e := range c.Order {
		if owner, ok := byName[e.ContextFor]; ok && e.ContextFor != "" && owner.Context == nil {
			owner.Context = &Link{Name: e.Name, SHA256: e.SHA256}
			owner.names = append(owner.names, e.Name)
			owner.Bytes += fileSize(filepath.Join(dir, e.Name))
			continue
		}
		in := &incident{Pruned: Pruned{Name: e.Name, SHA256: e.SHA256, ReportID: e.ID, EventID: e.EventID}, names: []string{e.Name}}
		in.Bytes = fileSize(filepath.Join(dir, e.Name))
		readSummary(filepath.Join(dir, e.Name), &in.Pruned)
		if in.Time.IsZero() {
			in.Time, _ = time.Parse("20060102T150405Z", e.Name[:16])
		}
		byName[e.Name] = in
		out = append(out, in)
	}
	seen := map[string]bool{}
	for _, in := range out {
		kept := keptEvidence(filepath.Join(dir, in.Name))
		if in.Context != nil {
			kept = append(kept, keptEvidence(filepath.Join(dir, in.Context.Name))...)
		}
		for _, ev := range append(kept, l.evidence[in.EventID]...) {
			name := filepath.Base(ev)
			if !isEvidenceName(name) || seen[name] {
				continue
			}
			fi, err := os.Lstat(filepath.Join(dir, name))
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			seen[name] = true
			in.Evidence = append(in.Evidence, name)
			in.Bytes += fi.Size()
		}
	}
	return out
}

// keptEvidence is the files a report says it kept in its directory: the
// "Kept:" lines of its "Kubernetes pod evidence" section (sre-kube
// evidence's files: the previous container's logs, the pod's events).
func keptEvidence(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	in := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "== ") {
			in = l == "== Kubernetes pod evidence =="
			continue
		}
		v, ok := strings.CutPrefix(l, "Kept:")
		if !in || !ok {
			continue
		}
		// "Kept:   DIR/NAME (what, N bytes)"; "Kept: nothing"
		if file, _, ok := strings.Cut(strings.TrimSpace(v), " ("); ok {
			out = append(out, file)
		}
	}
	return out
}

// isEvidenceName keeps Prune to the files a heal action writes into the
// directory (TIME_…_inspect.json, …_logs.log): never a report, an archive,
// the lock or a temp file, whatever an action record says.
func isEvidenceName(name string) bool {
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, ".") || IsReportName(name) ||
		name == ArchiveName || IsRotatedArchive(name) || len(name) < 17 {
		return false
	}
	_, err := time.Parse("20060102T150405Z", name[:16])
	return err == nil && name[16] == '_'
}

func fileSize(path string) int64 {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readSummary reads a report's header lines into p.
func readSummary(path string, p *Pruned) {
	e, err := readEntry(path)
	if err != nil {
		return
	}
	p.What, p.Type, p.Target, p.Severity = e.What, e.Type, e.Target, e.Severity
	if !e.When.IsZero() {
		p.Time = e.When
	}
}

// choose returns the incidents p removes, oldest first, with why.
func choose(incs []*incident, p Policy) []*incident {
	if len(incs) == 0 {
		return nil
	}
	why := make([]string, len(incs))
	say := func(i int, w string) {
		if why[i] == "" {
			why[i] = w
		}
	}
	if p.MaxAge > 0 {
		cut := p.Now.Add(-p.MaxAge)
		for i, in := range incs {
			if in.Time.Before(cut) {
				say(i, "older than "+days(p.MaxAge))
			}
		}
	}
	if p.KeepReports > 0 {
		for i := 0; i < len(incs)-p.KeepReports; i++ {
			say(i, fmt.Sprintf("beyond the newest %d", p.KeepReports))
		}
	}
	if p.MaxSize > 0 {
		var total int64
		for _, in := range incs {
			total += in.Bytes
		}
		for i := 0; i < len(incs) && total > p.MaxSize; i++ {
			say(i, "over "+HumanBytes(p.MaxSize))
			total -= incs[i].Bytes
		}
	}
	var out []*incident
	for i, in := range incs[:len(incs)-1] { // the chain's head stays
		if why[i] != "" {
			in.Why = why[i]
			out = append(out, in)
		}
	}
	return out
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		n := int(d / (24 * time.Hour))
		if n == 1 {
			return "1 day"
		}
		return strconv.Itoa(n) + " days"
	}
	return d.String()
}

// prunedNotice is the report_pruned notice of one incident.
func prunedNotice(in *Pruned, p Policy) []byte {
	detail := map[string]any{
		"name": in.Name, "sha256": in.SHA256, "report_id": in.ReportID, "event_id": in.EventID,
		"target": in.Target, "type": in.Type, "severity": in.Severity, "what": in.What,
		"bytes": in.Bytes, "why": in.Why,
	}
	if !in.Time.IsZero() {
		detail["time"] = event.At(in.Time)
	}
	if in.Context != nil {
		detail["context"] = map[string]string{"name": in.Context.Name, "sha256": in.Context.SHA256}
	}
	if len(in.Evidence) > 0 {
		detail["evidence"] = in.Evidence
	}
	n := event.Notice{
		Header: event.NewHeader(event.KindNotice, p.Src, p.Host, p.Now),
		Code:   NoticeReportPruned,
		Msg:    fmt.Sprintf("report %s pruned (%s): %s of %s: %s", in.Name, in.Why, in.Type, in.Target, in.What),
		Detail: detail,
	}
	raw, _ := json.Marshal(&n)
	return raw
}

// rotateLocked rotates the archive when it is larger than p.ArchiveMaxSize:
// events.ndjson.N[.gz] become N+1 (beyond p.ArchiveKeep they are removed,
// unless they record reports still in the directory), events.ndjson
// becomes events.ndjson.1, compressed to events.ndjson.1.gz with its
// mtime, and a new events.ndjson starts with an archive_rotated notice.
// Writers holding the directory write into the new file: each append
// checks, under the lock, that its open archive is still events.ndjson.
// It returns the archive's size when it was not rotated.
func (d *Dir) rotateLocked(p Policy, chain *Chain) (*Rotation, int64, error) {
	live := filepath.Join(d.Path, ArchiveName)
	fi, err := os.Stat(live)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("archive %s: %w", live, unwrap(err))
	}
	if fi.Size() <= p.ArchiveMaxSize {
		return nil, fi.Size(), nil
	}
	rot := &Rotation{From: ArchiveName, To: ArchiveName + ".1.gz", Bytes: fi.Size()}

	// The numbered archives, highest first, each shifted by one.
	ents, err := os.ReadDir(d.Path)
	if err != nil {
		return nil, 0, fmt.Errorf("report directory %s: %w", d.Path, unwrap(err))
	}
	type numbered struct {
		name string
		n    int
	}
	var nums []numbered
	for _, de := range ents {
		if n, ok := rotatedNumber(de.Name()); ok && !de.IsDir() {
			nums = append(nums, numbered{de.Name(), n})
		}
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i].n > nums[j].n })
	needs := chainNeeds(chain)
	type move struct{ from, to string }
	var moves []move
	var drops []string
	for _, x := range nums {
		if x.n+1 > p.ArchiveKeep {
			if why := recordsNeeded(filepath.Join(d.Path, x.name), needs); why != "" {
				rot.Kept = append(rot.Kept, fmt.Sprintf("kept %s beyond --archive-keep %d: %s", x.name, p.ArchiveKeep, why))
			} else {
				drops = append(drops, x.name)
				continue
			}
		}
		to := ArchiveName + "." + strconv.Itoa(x.n+1)
		if strings.HasSuffix(x.name, ".gz") {
			to += ".gz"
		}
		moves = append(moves, move{x.name, to})
	}
	rot.Removed = drops
	if p.DryRun {
		rot.Lines = countLines(live)
		return rot, 0, nil
	}
	for _, name := range drops {
		if err := os.Remove(filepath.Join(d.Path, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, 0, fmt.Errorf("rotate: remove %s: %w", name, unwrap(err))
		}
	}
	for _, m := range moves {
		if err := os.Rename(filepath.Join(d.Path, m.from), filepath.Join(d.Path, m.to)); err != nil {
			return nil, 0, fmt.Errorf("rotate: %s → %s: %w", m.from, m.to, unwrap(err))
		}
	}
	// The open handle (Prune's notices) is the file being rotated.
	if d.archive != nil {
		_ = d.archive.Sync()
		_ = d.archive.Close()
		d.archive = nil
	}
	one := filepath.Join(d.Path, ArchiveName+".1")
	if err := os.Rename(live, one); err != nil {
		return nil, 0, fmt.Errorf("rotate: %s → %s: %w", ArchiveName, ArchiveName+".1", unwrap(err))
	}
	// From here the archive is events.ndjson.1 whatever else fails: a
	// reader takes it as a rotated archive.
	lines, gzBytes, err := compress(d.Path, one, one+".gz", fi.ModTime())
	if err != nil {
		rot.To = ArchiveName + ".1"
		rot.Lines = countLines(one)
		rot.Kept = append(rot.Kept, fmt.Sprintf("%s not compressed: %v", rot.To, err))
	} else {
		rot.Lines, rot.GzipBytes = lines, gzBytes
		_ = os.Remove(one)
	}
	detail := map[string]any{"from": rot.From, "to": rot.To, "lines": rot.Lines, "bytes": rot.Bytes}
	if rot.GzipBytes > 0 {
		detail["gzip_bytes"] = rot.GzipBytes
	}
	if len(rot.Removed) > 0 {
		detail["removed"] = rot.Removed
	}
	n := event.Notice{
		Header: event.NewHeader(event.KindNotice, p.Src, p.Host, p.Now),
		Code:   NoticeArchiveRotated,
		Msg:    fmt.Sprintf("archive rotated: %s (%d lines, %s) is now %s", rot.From, rot.Lines, HumanBytes(rot.Bytes), rot.To),
		Detail: detail,
	}
	if len(rot.Removed) > 0 {
		n.Msg += "; removed " + strings.Join(rot.Removed, ", ")
	}
	raw, _ := json.Marshal(&n)
	if err := d.writeArchive(withNewline(raw), true); err != nil {
		return rot, 0, fmt.Errorf("rotate: the new %s: %w", ArchiveName, err)
	}
	if err := syncDir(d.Path); err != nil {
		return rot, 0, fmt.Errorf("rotate: fsync %s: %w", d.Path, err)
	}
	return rot, 0, nil
}

// compress writes src as dst (gzip) through a temp file, fsync'd, with
// src's mtime (readers order rotated archives by it), and returns src's
// line count and dst's size.
func compress(dir, src, dst string, mtime time.Time) (int64, int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, 0, err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(dir, tmpPattern)
	if err != nil {
		return 0, 0, err
	}
	fail := func(err error) (int64, int64, error) {
		tmp.Close()
		os.Remove(tmp.Name())
		return 0, 0, err
	}
	zw := gzip.NewWriter(tmp)
	zw.Name = filepath.Base(src)
	zw.ModTime = mtime
	lc := &lineCounter{w: zw}
	if _, err := io.Copy(lc, in); err != nil {
		return fail(err)
	}
	if err := zw.Close(); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	size := int64(0)
	if st, err := tmp.Stat(); err == nil {
		size = st.Size()
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Chtimes(tmp.Name(), mtime, mtime); err != nil {
		os.Remove(tmp.Name())
		return 0, 0, err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		os.Remove(tmp.Name())
		return 0, 0, err
	}
	return lc.n, size, nil
}

type lineCounter struct {
	w io.Writer
	n int64
}

func (c *lineCounter) Write(b []byte) (int, error) {
	for _, x := range b {
		if x == '\n' {
			c.n++
		}
	}
	return c.w.Write(b)
}

func countLines(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	lc := &lineCounter{w: io.Discard}
	_, _ = io.Copy(lc, f)
	return lc.n
}

// chainNeeds is what Verify needs from the archives for the reports still
// in the directory: their report_written notices (by name), and the
// report_pruned notices of the reports they link to that are gone.
func chainNeeds(c *Chain) map[string]bool {
	out := map[string]bool{}
	for name, e := range c.Entries {
		out[NoticeReportWritten+"\x00"+name] = true
		if _, ok := c.Entries[e.Prev]; e.Prev != "" && !ok {
			out[NoticeReportPruned+"\x00"+e.Prev] = true
		}
	}
	return out
}

// recordsNeeded says why an archive cannot go ("" when it can): it holds
// records Verify needs.
func recordsNeeded(path string, needs map[string]bool) string {
	written, pruned := 0, 0
	err := readArchive(path, func(rec ndjson.Record) {
		if rec.Kind != event.KindNotice {
			return
		}
		var n struct {
			Code   string `json:"code"`
			Detail struct {
				Name string `json:"name"`
			} `json:"detail"`
		}
		if json.Unmarshal(rec.Raw, &n) != nil || !needs[n.Code+"\x00"+n.Detail.Name] {
			return
		}
		if n.Code == NoticeReportWritten {
			written++
		} else {
			pruned++
		}
	})
	switch {
	case err != nil:
		return fmt.Sprintf("could not be read to tell whether verify needs it: %v", err)
	case written > 0:
		return fmt.Sprintf("it records the writing of %d report(s) still in the directory (prune them first, e.g. --keep-days)", written)
	case pruned > 0:
		return "it records the pruning of the report the oldest one left links to"
	}
	return ""
}

// HumanBytes is n in B, KiB, MiB … with one decimal.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
