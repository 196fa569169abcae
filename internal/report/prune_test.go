package report

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/forensics"
	"github.com/localsre/sre-agent/internal/ndjson"
)

// incidentAt writes the report of a crash at ts, recorded in the archive
// as sre-report records it, and its context report when withContext.
func incidentAt(t *testing.T, d *Dir, ts time.Time, id string, withContext bool) (report, context string) {
	t.Helper()
	ev := fixtureEvent()
	ev.TS = event.At(ts)
	ev.ID = "ev-" + id
	ev.Msg = "api crashed (" + id + ")"
	r := &Report{Event: ev, ShortID: id, Name: FileName(ts, ev.Target, ev.Type, id), WrittenAt: ts}
	if withContext {
		r.ContextName = ContextName(r.Name)
	}
	rec := func(extra string) func(path, sum string) [][]byte {
		return func(path, sum string) [][]byte {
			return [][]byte{[]byte(`{"v":1,"kind":"notice","ts":"2026-11-27T00:00:00.000000000Z","host":"h","src":"sre-report","code":"report_written","msg":"m","detail":{"name":"` +
				filepath.Base(path) + `","sha256":"` + sum + `","event_id":"` + ev.ID + `"` + extra + `}}`)}
		}
	}
	path, sum, archErr, err := d.Write(r, rec(""))
	if err != nil || archErr != nil {
		t.Fatal(err, archErr)
	}
	report = filepath.Base(path)
	if withContext {
		cr := &Report{Event: ev, ShortID: id, Name: r.ContextName, WrittenAt: ts, ContextFor: Link{Name: report, SHA256: sum}}
		cpath, _, archErr, err := d.Write(cr, rec(`,"context_for":"`+report+`"`))
		if err != nil || archErr != nil {
			t.Fatal(err, archErr)
		}
		context = filepath.Base(cpath)
	}
	return report, context
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func archiveNotices(t *testing.T, path, code string) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := readArchive(path, func(rec ndjson.Record) {
		var n struct {
			Code   string         `json:"code"`
			Detail map[string]any `json:"detail"`
		}
		if json.Unmarshal(rec.Raw, &n) == nil && n.Code == code {
			out = append(out, n.Detail)
		}
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func verifyOK(t *testing.T, dir string) *Verification {
	t.Helper()
	v, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Problems) != 0 {
		t.Fatalf("verify: %v", v.Problems)
	}
	return v
}

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// Five incidents a day apart, each with its context report.
func fiveIncidents(t *testing.T) (string, *Dir, [][2]string) {
	t.Helper()
	dir := t.TempDir()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	var incs [][2]string
	for i := range 5 {
		r, c := incidentAt(t, d, t0.Add(time.Duration(i)*24*time.Hour), fmt.Sprintf("0000000%d", i), true)
		incs = append(incs, [2]string{r, c})
	}
	return dir, d, incs
}

func prune(t *testing.T, dir string, p Policy) *PruneResult {
	t.Helper()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if p.Now.IsZero() {
		p.Now = t0.Add(5 * 24 * time.Hour)
	}
	res, err := d.Prune(p)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func prunedNames(res *PruneResult) []string {
	var out []string
	for _, p := range res.Pruned {
		out = append(out, p.Name)
	}
	return out
}

func TestPruneKeepReports(t *testing.T) {
	dir, _, incs := fiveIncidents(t)
	res := prune(t, dir, Policy{KeepReports: 2, Host: "h"})
	want := []string{incs[0][0], incs[1][0], incs[2][0]}
	if got := prunedNames(res); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("pruned %v, want the three oldest %v", got, want)
	}
	// The reports and their context reports are gone; the rest stay.
	left := strings.Join(listDir(t, dir), " ")
	for i, in := range incs {
		for _, f := range in {
			if gone := !strings.Contains(left, f); gone != (i < 3) {
				t.Errorf("%s: gone %v, want %v (left: %s)", f, gone, i < 3, left)
			}
		}
	}
	if res.Freed <= 0 || res.Pruned[0].Bytes <= 0 || res.Pruned[0].Context == nil || res.Pruned[0].Context.Name != incs[0][1] {
		t.Errorf("result: freed %d, first %+v", res.Freed, res.Pruned[0])
	}
	// Each pruned incident is in the archive, with its summary.
	ns := archiveNotices(t, filepath.Join(dir, ArchiveName), NoticeReportPruned)
	if len(ns) != 3 {
		t.Fatalf("%d report_pruned notices, want 3: %v", len(ns), ns)
	}
	n := ns[0]
	if n["name"] != incs[0][0] || n["event_id"] != "ev-00000000" || n["target"] != "api" || n["type"] != "crash" ||
		n["what"] != "api crashed (00000000)" || n["time"] != "2026-11-01T12:00:00.000000000Z" ||
		n["why"] != "beyond the newest 2" || len(n["sha256"].(string)) != 64 {
		t.Errorf("notice detail %v", n)
	}
	if c, _ := n["context"].(map[string]any); c == nil || c["name"] != incs[0][1] || len(c["sha256"].(string)) != 64 {
		t.Errorf("notice context %v", n["context"])
	}
	v := verifyOK(t, dir)
	if v.Reports != 4 || v.Pruned != 6 {
		t.Errorf("verify: %d reports, %d pruned; want 4, 6", v.Reports, v.Pruned)
	}
	// Again: nothing more to do.
	if res := prune(t, dir, Policy{KeepReports: 2}); len(res.Pruned) != 0 {
		t.Errorf("second prune removed %v", prunedNames(res))
	}
}

func TestPruneByAgeAndSize(t *testing.T) {
	t.Run("age", func(t *testing.T) {
		dir, _, incs := fiveIncidents(t)
		// now = day 5: days 0 and 1 are older than 3.5 days.
		res := prune(t, dir, Policy{MaxAge: 84 * time.Hour})
		if got, want := prunedNames(res), []string{incs[0][0], incs[1][0]}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("pruned %v, want %v", got, want)
		}
		if res.Pruned[0].Why != "older than 84h0m0s" {
			t.Errorf("why %q", res.Pruned[0].Why)
		}
		verifyOK(t, dir)
	})
	t.Run("days", func(t *testing.T) {
		dir, _, _ := fiveIncidents(t)
		res := prune(t, dir, Policy{MaxAge: 2 * 24 * time.Hour})
		if len(res.Pruned) != 3 || res.Pruned[0].Why != "older than 2 days" {
			t.Errorf("pruned %v (%q)", prunedNames(res), res.Pruned[0].Why)
		}
	})
	t.Run("size", func(t *testing.T) {
		dir, _, incs := fiveIncidents(t)
		var two int64
		for _, in := range incs[3:] {
			two += fileSize(filepath.Join(dir, in[0])) + fileSize(filepath.Join(dir, in[1]))
		}
		res := prune(t, dir, Policy{MaxSize: two})
		if got, want := prunedNames(res), []string{incs[0][0], incs[1][0], incs[2][0]}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("pruned %v, want %v", got, want)
		}
		if res.Size-res.Freed != two {
			t.Errorf("left %d bytes, want %d", res.Size-res.Freed, two)
		}
		// One byte less: one more goes.
		res = prune(t, dir, Policy{MaxSize: two - 1})
		if got := prunedNames(res); len(got) != 1 || got[0] != incs[3][0] {
			t.Errorf("pruned %v, want %s", got, incs[3][0])
		}
		verifyOK(t, dir)
	})
	t.Run("any policy", func(t *testing.T) {
		dir, _, _ := fiveIncidents(t)
		res := prune(t, dir, Policy{MaxAge: 4 * 24 * time.Hour, KeepReports: 3})
		if len(res.Pruned) != 2 || res.Pruned[0].Why != "older than 4 days" || res.Pruned[1].Why != "beyond the newest 3" {
			t.Errorf("pruned %+v", res.Pruned)
		}
	})
	t.Run("the newest stays", func(t *testing.T) {
		dir, _, incs := fiveIncidents(t)
		res := prune(t, dir, Policy{MaxAge: time.Hour, MaxSize: 1})
		if len(res.Pruned) != 4 {
			t.Errorf("pruned %v, want all but %s", prunedNames(res), incs[4][0])
		}
		if _, err := os.Stat(filepath.Join(dir, incs[4][0])); err != nil {
			t.Error(err)
		}
		verifyOK(t, dir)
	})
}

func TestPruneDryRunChangesNothing(t *testing.T) {
	dir, _, incs := fiveIncidents(t)
	before := listDir(t, dir)
	arch, _ := os.ReadFile(filepath.Join(dir, ArchiveName))
	res := prune(t, dir, Policy{KeepReports: 1, ArchiveMaxSize: 10, DryRun: true})
	if len(res.Pruned) != 4 || res.Pruned[0].Name != incs[0][0] || res.Freed <= 0 {
		t.Errorf("dry run: %+v", res)
	}
	if res.Rotation == nil || res.Rotation.To != "events.ndjson.1.gz" || res.Rotation.Lines != 10 {
		t.Errorf("dry run rotation %+v", res.Rotation)
	}
	after := listDir(t, dir)
	arch2, _ := os.ReadFile(filepath.Join(dir, ArchiveName))
	if fmt.Sprint(before) != fmt.Sprint(after) || !bytes.Equal(arch, arch2) {
		t.Errorf("dry run changed the directory:\n%v\n%v", before, after)
	}
}

// A report pruned from the middle of the chain: the next one's link to it
// holds through the notice; by hand it would not.
func TestVerifyAfterPruneInTheMiddle(t *testing.T) {
	dir := t.TempDir()
	d, _ := Open(dir)
	defer d.Close()
	a, _ := incidentAt(t, d, t0.Add(48*time.Hour), "0000000a", false)
	b, _ := incidentAt(t, d, t0, "0000000b", false) // an old event, reported late
	c, _ := incidentAt(t, d, t0.Add(72*time.Hour), "0000000c", false)
	res := prune(t, dir, Policy{MaxAge: 24 * time.Hour, Now: t0.Add(50 * time.Hour)})
	if got := prunedNames(res); len(got) != 1 || got[0] != b {
		t.Fatalf("pruned %v, want %s", got, b)
	}
	verifyOK(t, dir)

	t.Run("a tampered notice", func(t *testing.T) {
		arch := filepath.Join(dir, ArchiveName)
		data, _ := os.ReadFile(arch)
		sum := res.Pruned[0].SHA256
		forged := bytes.Replace(data, []byte(`"sha256":"`+sum+`","target"`), []byte(`"sha256":"`+strings.Repeat("0", 64)+`","target"`), 1)
		if bytes.Equal(forged, data) {
			t.Fatal("notice not found")
		}
		os.WriteFile(arch, forged, 0o644)
		defer os.WriteFile(arch, data, 0o644)
		v, _ := Verify(dir)
		if len(v.Problems) == 0 || v.Problems[0].Kind != "altered" || v.Problems[0].Name != b {
			t.Errorf("problems %v", v.Problems)
		}
	})
	t.Run("by hand", func(t *testing.T) {
		os.Chmod(filepath.Join(dir, a), 0o644)
		data, _ := os.ReadFile(filepath.Join(dir, a))
		os.Remove(filepath.Join(dir, a))
		defer os.WriteFile(filepath.Join(dir, a), data, 0o444)
		v, _ := Verify(dir)
		if len(v.Problems) != 1 || v.Problems[0].Kind != "removed" || v.Problems[0].Name != a {
			t.Errorf("problems %v", v.Problems)
		}
	})
	t.Run("inserted", func(t *testing.T) {
		fake := filepath.Join(dir, "20261127T000000Z_api_crash_deadbeef.txt")
		data, _ := os.ReadFile(filepath.Join(dir, c))
		os.WriteFile(fake, data, 0o444)
		defer os.Remove(fake)
		v, _ := Verify(dir)
		if len(v.Problems) != 1 || v.Problems[0].Kind != "inserted" || v.Problems[0].Name != filepath.Base(fake) {
			t.Errorf("problems %v", v.Problems)
		}
	})
	verifyOK(t, dir)
}

// A writer that held the directory through a prune links its next report
// to the newest one left, even when the names (the events' times) are out
// of the chain's order.
func TestWriterAfterPruneLinksTheNewest(t *testing.T) {
	dir := t.TempDir()
	w, _ := Open(dir)
	defer w.Close()
	for i, h := range []int{10, 20, 30, 15} {
		incidentAt(t, w, t0.Add(time.Duration(h)*time.Hour), fmt.Sprintf("0000000%d", i), false)
	}
	prune(t, dir, Policy{KeepReports: 2})
	last, _ := incidentAt(t, w, t0.Add(40*time.Hour), "00000009", false)
	data, _ := os.ReadFile(filepath.Join(dir, last))
	if !strings.Contains(string(data), "Previous-Report: "+FileName(t0.Add(15*time.Hour), "api", "crash", "00000003")) {
		t.Errorf("the next report does not follow the newest:\n%s", data)
	}
	verifyOK(t, dir)
}

func TestPruneEvidence(t *testing.T) {
	dir, d, incs := fiveIncidents(t)
	kept := []string{
		"20261101T120000Z_web_restart_container_1_ev-00000_inspect.json",
		"20261101T120000Z_web_restart_container_1_ev-00000_logs.log",
	}
	for _, f := range append(kept, "notes.json") {
		os.WriteFile(filepath.Join(dir, f), []byte("evidence\n"), 0o644)
	}
	ev := func(files ...string) []byte {
		b, _ := json.Marshal(map[string]any{"v": 1, "kind": "action", "ts": "2026-11-01T12:00:01Z", "host": "h", "src": "sre-heal",
			"rule": "r", "action": "restart_container", "event_id": "ev-00000000", "result": "ok", "evidence": files})
		return b
	}
	// Named as sre-heal names them (relative to its working directory);
	// names that are not evidence files are never touched.
	d.AppendArchive(ev("reports/"+kept[0], "/elsewhere/"+kept[1], "reports/notes.json", "../"+incs[4][0], ArchiveName), true)
	res := prune(t, dir, Policy{KeepReports: 4})
	if len(res.Pruned) != 1 || fmt.Sprint(res.Pruned[0].Evidence) != fmt.Sprint(kept) {
		t.Fatalf("pruned %+v", res.Pruned)
	}
	left := listDir(t, dir)
	for _, f := range kept {
		if strings.Contains(strings.Join(left, " "), f) {
			t.Errorf("%s left", f)
		}
	}
	for _, f := range []string{"notes.json", incs[4][0], ArchiveName} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	n := archiveNotices(t, filepath.Join(dir, ArchiveName), NoticeReportPruned)
	if len(n) != 1 || fmt.Sprint(n[0]["evidence"]) != fmt.Sprint([]any{kept[0], kept[1]}) {
		t.Errorf("notice %v", n)
	}
	verifyOK(t, dir)
}

func gunzipLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// Rotation: events.ndjson becomes events.ndjson.1.gz, a running writer
// writes into the new one, verify reads both.
func TestRotateArchive(t *testing.T) {
	dir, w, _ := fiveIncidents(t) // w holds the archive open, as a running sre-report does
	arch := filepath.Join(dir, ArchiveName)
	old, _ := os.ReadFile(arch)
	res := prune(t, dir, Policy{ArchiveMaxSize: 100, Host: "h"})
	rot := res.Rotation
	if rot == nil || rot.From != ArchiveName || rot.To != "events.ndjson.1.gz" || rot.Lines != 10 || rot.Bytes != int64(len(old)) || rot.GzipBytes <= 0 {
		t.Fatalf("rotation %+v", rot)
	}
	if got := strings.Join(gunzipLines(t, filepath.Join(dir, "events.ndjson.1.gz")), "\n") + "\n"; got != string(old) {
		t.Errorf("events.ndjson.1.gz holds\n%s\nwant\n%s", got, old)
	}
	n := archiveNotices(t, arch, NoticeArchiveRotated)
	if len(n) != 1 || n[0]["to"] != "events.ndjson.1.gz" || n[0]["lines"] != 10.0 {
		t.Fatalf("the new archive's notice: %v", n)
	}
	// The running writer's next records go to the new file.
	r, _ := incidentAt(t, w, t0.Add(6*24*time.Hour), "00000006", false)
	lines := strings.Split(strings.TrimSpace(readString(t, arch)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"archive_rotated"`) || !strings.Contains(lines[1], r) {
		t.Errorf("new archive:\n%s", strings.Join(lines, "\n"))
	}
	if l := gunzipLines(t, filepath.Join(dir, "events.ndjson.1.gz")); len(l) != 10 {
		t.Errorf("the rotated archive grew: %d lines", len(l))
	}
	v := verifyOK(t, dir)
	if v.Reports != 11 || v.Recorded != 11 {
		t.Errorf("verify: %d reports, %d recorded", v.Reports, v.Recorded)
	}
	files, _ := ArchiveFiles(dir)
	if len(files) != 2 || filepath.Base(files[0]) != "events.ndjson.1.gz" || filepath.Base(files[1]) != ArchiveName {
		t.Errorf("ArchiveFiles = %v", files)
	}
	// Under the bound: nothing to do.
	if res := prune(t, dir, Policy{ArchiveMaxSize: 1 << 20}); res.Rotation != nil || res.ArchiveSize == 0 {
		t.Errorf("under the bound: %+v", res)
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Rotated archives beyond --archive-keep go, oldest first, and are named;
// one that records a report still in the directory stays, and says why.
func TestRotateKeep(t *testing.T) {
	dir, w, incs := fiveIncidents(t)
	// Rotate after every incident: each archive holds one's records.
	for i := range 3 {
		prune(t, dir, Policy{ArchiveMaxSize: 1})
		incidentAt(t, w, t0.Add(time.Duration(10+i)*24*time.Hour), fmt.Sprintf("0000001%d", i), false)
	}
	// .3.gz holds the five incidents' records; with --archive-keep 2 it
	// would go, but its reports are still here.
	res := prune(t, dir, Policy{ArchiveMaxSize: 1, ArchiveKeep: 2})
	if len(res.Rotation.Removed) != 0 || len(res.Rotation.Kept) != 2 || !strings.Contains(res.Rotation.Kept[0], "still in the directory") {
		t.Fatalf("rotation %+v", res.Rotation)
	}
	verifyOK(t, dir)
	// Prune those reports: the archive holding only them may go.
	res = prune(t, dir, Policy{KeepReports: 3, ArchiveMaxSize: 1, ArchiveKeep: 2, Now: t0.Add(20 * 24 * time.Hour)})
	if len(res.Pruned) != 5 || res.Pruned[4].Name != incs[4][0] {
		t.Fatalf("pruned %v", prunedNames(res))
	}
	if len(res.Rotation.Removed) == 0 || res.Rotation.Removed[0] != "events.ndjson.4.gz" {
		t.Fatalf("rotation %+v", res.Rotation)
	}
	n := archiveNotices(t, filepath.Join(dir, ArchiveName), NoticeArchiveRotated)
	if len(n) != 1 || fmt.Sprint(n[0]["removed"]) != fmt.Sprint([]any{"events.ndjson.4.gz"}) {
		t.Errorf("notice %v", n)
	}
	verifyOK(t, dir)
}

// A prune cut short after its notices, before the files went: verify
// passes meanwhile, and the next prune removes them without a second
// notice.
func TestPruneCutShort(t *testing.T) {
	dir, d, _ := fiveIncidents(t)
	p := Policy{KeepReports: 3, Now: t0.Add(5 * 24 * time.Hour), Host: "h"}
	dry := prune(t, dir, Policy{KeepReports: 3, DryRun: true})
	for i := range dry.Pruned {
		if err := d.AppendArchive(prunedNotice(&dry.Pruned[i], p), true); err != nil {
			t.Fatal(err)
		}
	}
	if v := verifyOK(t, dir); v.Reports != 10 {
		t.Errorf("verify: %d reports", v.Reports)
	}
	res := prune(t, dir, p)
	if len(res.Pruned) != 2 {
		t.Fatalf("pruned %v", prunedNames(res))
	}
	if n := archiveNotices(t, filepath.Join(dir, ArchiveName), NoticeReportPruned); len(n) != 2 {
		t.Errorf("%d report_pruned notices, want 2", len(n))
	}
	if v := verifyOK(t, dir); v.Reports != 6 {
		t.Errorf("verify: %d reports", v.Reports)
	}
}

// A writer and prunes at the same time, each holding the lock in turn: the
// chain stays whole, every report on disk has its record in an archive
// kept, verify passes.
func TestPruneWhileWriting(t *testing.T) {
	dir := t.TempDir()
	w, _ := Open(dir)
	defer w.Close()
	errc := make(chan error, 1)
	go func() {
		for i := range 40 {
			ev := fixtureEvent()
			ev.ID = fmt.Sprintf("ev-%d", i)
			r := &Report{Event: ev, ShortID: fmt.Sprintf("%08d", i), Name: FileName(t0, "api", "crash", fmt.Sprintf("%08d", i)), WrittenAt: t0}
			_, _, archErr, err := w.Write(r, func(path, sum string) [][]byte {
				return [][]byte{[]byte(`{"v":1,"kind":"notice","ts":"2026-11-27T00:00:00.000000000Z","host":"h","src":"sre-report","code":"report_written","msg":"m","detail":{"name":"` +
					filepath.Base(path) + `","sha256":"` + sum + `"}}`)}
			})
			if err == nil {
				err = archErr
			}
			if err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	prunes, removed := 0, 0
	for running := true; running; prunes++ {
		select {
		case err := <-errc:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		default:
		}
		d, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		res, err := d.Prune(Policy{KeepReports: 5, ArchiveMaxSize: 2048, ArchiveKeep: 3, Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		if res.Rotation != nil {
			removed += len(res.Rotation.Removed)
		}
		d.Close()
	}
	v := verifyOK(t, dir)
	if v.Reports != 5 || v.Pruned == 0 {
		t.Errorf("verify after %d prunes: %d reports, %d pruned", prunes, v.Reports, v.Pruned)
	}
	written, _, err := readLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := ReadChain(dir)
	for name := range c.Entries {
		if _, ok := written[name]; !ok {
			t.Errorf("%s: no report_written record in any archive", name)
		}
	}
	t.Logf("%d prunes, %d rotated archives removed", prunes, removed)
}

// TestPruneReportEvidence: a pod incident's report names the files its
// pod evidence section kept (sre-kube evidence); pruning the incident
// removes them with it, and nothing a "Kept:" line elsewhere names.
func TestPruneReportEvidence(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	kept := []string{"20261101T120000Z_shop_web-1_app_previous.log", "20261101T120000Z_shop_web-1_events.log"}
	other := "20261101T120000Z_other_logs.log"
	for _, f := range append(kept, other) {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("evidence\n"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	ev := fixtureEvent()
	ev.TS = event.At(t0)
	ev.ID = "ev-pod"
	r := &Report{Event: ev, ShortID: "00000001", Name: FileName(t0, ev.Target, ev.Type, "00000001"), WrittenAt: t0,
		Results: []forensics.Result{
			{Name: "log", Section: forensics.Section{Title: "Log", Fields: []forensics.Field{{Key: "Kept", Value: "reports/" + other + " (a log, 9 bytes)"}}}},
			{Name: "pod", Section: forensics.Section{Title: "Kubernetes pod evidence", Fields: []forensics.Field{
				{Key: "Kept", Value: "reports/" + kept[0] + " (logs of container app, previous run, 9 bytes)"},
				{Key: "Kept", Value: kept[1] + " (3 events, 9 bytes)"},
				{Key: "Kept", Value: ArchiveName + " (not evidence, 9 bytes)"},
			}}},
		}}
	rec := func(path, sum string) [][]byte {
		return [][]byte{[]byte(`{"v":1,"kind":"notice","ts":"2026-11-27T00:00:00.000000000Z","host":"h","src":"sre-report","code":"report_written","msg":"m","detail":{"name":"` +
			filepath.Base(path) + `","sha256":"` + sum + `","event_id":"` + ev.ID + `"}}`)}
	}
	if _, _, archErr, err := d.Write(r, rec); err != nil || archErr != nil {
		t.Fatal(err, archErr)
	}
	incidentAt(t, d, t0.Add(24*time.Hour), "00000002", false)
	res := prune(t, dir, Policy{KeepReports: 1})
	if len(res.Pruned) != 1 || fmt.Sprint(res.Pruned[0].Evidence) != fmt.Sprint(kept) {
		t.Fatalf("pruned %+v; want the pod incident with %v", res.Pruned, kept)
	}
	for _, f := range kept {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s left", f)
		}
	}
	for _, f := range []string{other, ArchiveName} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v; want it kept", f, err)
		}
	}
	verifyOK(t, dir)
}
