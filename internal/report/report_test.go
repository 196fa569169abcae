package report

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/forensics"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestSafeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"api", "api"},
		{"../../etc/x", "etc_x"},
		{"; rm -rf ~", "rm_-rf"},
		{"$(reboot)", "reboot"},
		{"..", "unnamed"},
		{"", "unnamed"},
		{"/", "unnamed"},
		{"my app.py", "my_app.py"},
		{"-rf", "rf"},
		{"a\nb\x00c", "a_b_c"},
		{"日本語", "unnamed"},
		{"gunicorn.*api", "gunicorn._api"},
		{strings.Repeat("x", 100), strings.Repeat("x", 48)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := SafeName(tt.in, maxTargetInName)
			if got != tt.want {
				t.Errorf("SafeName(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.ContainsAny(got, "/\x00 ") || strings.HasPrefix(got, ".") || strings.HasPrefix(got, "-") {
				t.Errorf("SafeName(%q) = %q is not a safe file name", tt.in, got)
			}
		})
	}
}

func TestFileName(t *testing.T) {
	at := time.Date(2026, 11, 27, 3, 41, 9, 5, time.FixedZone("CET", 3600))
	got := FileName(at, "../../etc/passwd", "crash", "3f9a1c2e")
	if want := "20261127T024109Z_etc_passwd_crash_3f9a1c2e.txt"; got != want {
		t.Errorf("FileName = %q, want %q", got, want)
	}
	if !IsReportName(got) {
		t.Errorf("IsReportName(%q) = false", got)
	}
	for _, n := range []string{"events.ndjson", ".writing-1.tmp", "notes.txt", "20261127T024109Z.txt"} {
		if IsReportName(n) {
			t.Errorf("IsReportName(%q) = true", n)
		}
	}
}

func fixtureEvent() *event.Event {
	cpu := 12.5
	fds := 9
	lim := uint64(1024)
	uid := 1000
	ts := time.Date(2026, 11, 27, 3, 41, 11, 259635101, time.UTC)
	return &event.Event{
		Header:   event.NewHeader(event.KindEvent, "sre-detect", "box", ts),
		ID:       "20261127T034111.259635101Z-api-crash-4242",
		Type:     "crash",
		Severity: event.SevCritical,
		Target:   "api",
		Msg:      "api (pid 4242) was killed by SIGKILL after 2m0s",
		Process: &event.Process{
			PID: 4242, PPID: 1, Name: "api", State: "S", StartTicks: 1000,
			Start: event.At(ts.Add(-2 * time.Minute)),
			Exe:   "/opt/api/bin/api",
			Args:  []string{"/opt/api/bin/api", "--password=hunter2", "--port", "8080"},
			User:  "app", UID: &uid,
			CPUPct: &cpu, CPUTimeS: 3.25, RSSBytes: 512 << 20, VMSBytes: 2 << 30,
			Threads: 12, FDs: &fds, FDsLimit: &lim, Cgroup: "/system.slice/api.service",
		},
		Detail: map[string]any{
			"exit":     map[string]any{"pid": 4242.0, "noticed": "pidfd", "signal": "SIGKILL", "signal_num": 9.0},
			"uptime_s": 120.0,
			"history": []any{
				map[string]any{"ts": "2026-11-27T03:41:09.000000000Z", "cpu_pct": 10.0, "rss_bytes": float64(500 << 20), "threads": 12.0, "fds": 9.0},
				map[string]any{"ts": "2026-11-27T03:41:10.000000000Z", "cpu_pct": 12.5, "rss_bytes": float64(512 << 20), "threads": 12.0, "fds": 9.0},
			},
		},
	}
}

func fixtureResults() []forensics.Result {
	return []forensics.Result{
		{Name: "log", Order: 1, Duration: 3 * time.Millisecond, Section: forensics.Section{
			Title:  "Application log",
			Fields: []forensics.Field{{Key: "File", Value: "/var/log/api.log"}},
			Lines:  []string{"starting", "listening on :8080", "\x1b[31mpanic: out of memory\x1b[0m"},
		}},
		{Name: "docker", Order: 2, Err: forensics.ErrNotApplicable},
		{Name: "kernel", Order: 3, Duration: 2 * time.Second, TimedOut: true, Err: errString("no answer within 2s")},
		{Name: "host", Order: 4, Duration: 7 * time.Millisecond, Section: forensics.Section{
			Title: "Host health", Fields: []forensics.Field{{Key: "Mem-Available", Value: "1.0 GiB"}},
			Notes: []string{"psi: not present"},
		}},
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// checkGolden compares a rendered report with testdata/NAME, which only
// `go test -update` writes.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("Render mismatch (-want +got):\n%s", diff)
	}
}

func TestRenderGolden(t *testing.T) {
	r := &Report{
		Event: fixtureEvent(), ShortID: "3f9a1c2e", Name: "x.txt",
		Prev:      Link{Name: "20261126T000000Z_api_crash_00000000.txt", SHA256: strings.Repeat("ab", 32)},
		WrittenAt: time.Date(2026, 11, 27, 3, 41, 11, 300000000, time.UTC),
		Local:     time.FixedZone("CET", 3600),
		Results:   fixtureResults(),
	}
	got := Render(r)
	checkGolden(t, "crash.golden.txt", got)
	for _, bad := range []string{"hunter2", "\x1b"} {
		if strings.Contains(string(got), bad) {
			t.Errorf("report contains %q", bad)
		}
	}
}

// A newline in a target or message must not forge a header line.
func TestRenderKeepsValuesOnOneLine(t *testing.T) {
	ev := fixtureEvent()
	ev.Msg = "boom\nSeverity: info"
	ev.Target = "api\nEvent-ID: forged"
	out := string(Render(&Report{Event: ev, ShortID: "x", WrittenAt: time.Unix(0, 0)}))
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Severity: info") || strings.HasPrefix(line, "Event-ID: forged") {
			t.Errorf("forged line %q in:\n%s", line, out)
		}
	}
}

func write(t *testing.T, d *Dir, ev *event.Event, id string) (string, string) {
	t.Helper()
	r := &Report{Event: ev, ShortID: id, Name: FileName(ev.TS.Time, ev.Target, ev.Type, id), WrittenAt: time.Unix(0, 0)}
	path, sum, err := d.WriteReport(r)
	if err != nil {
		t.Fatal(err)
	}
	line := `{"v":1,"kind":"notice","ts":"2026-11-27T00:00:00.000000000Z","host":"h","src":"sre-report","code":"report_written","msg":"m","detail":{"name":"` + filepath.Base(path) + `","sha256":"` + sum + `"}}`
	if err := d.AppendArchive([]byte(line), true); err != nil {
		t.Fatal(err)
	}
	return path, sum
}

func TestWriteReportChainAndVerify(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reports") // created on Open
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ev := fixtureEvent()
	p1, s1 := write(t, d, ev, "00000001")
	p2, _ := write(t, d, ev, "00000002") // same second, other id
	p3, _ := write(t, d, ev, "00000002") // same name: never overwritten
	if p3 == p2 {
		t.Fatalf("second write of %s replaced it", p2)
	}
	for _, p := range []string{p1, p2, p3} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o444 {
			t.Errorf("%s: mode %v, want 0444", p, fi.Mode().Perm())
		}
	}
	b2, _ := os.ReadFile(p2)
	if !strings.Contains(string(b2), "Previous-Report: "+filepath.Base(p1)) || !strings.Contains(string(b2), "Previous-SHA256: "+s1) {
		t.Errorf("second report does not link the first:\n%s", b2)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
	// A fresh Dir finds the head by reading the chain back.
	d2, _ := Open(dir)
	head, err := d2.Head()
	if err != nil || head.Name != filepath.Base(p3) {
		t.Errorf("Head() = %v, %v; want %s", head, err, filepath.Base(p3))
	}

	v, err := Verify(dir)
	if err != nil || len(v.Problems) != 0 || v.Reports != 3 {
		t.Fatalf("Verify intact = %+v, %v", v, err)
	}

	tamper := func(t *testing.T, f func()) []Problem {
		t.Helper()
		f()
		v, err := Verify(dir)
		if err != nil {
			t.Fatal(err)
		}
		return v.Problems
	}
	t.Run("altered byte", func(t *testing.T) {
		probs := tamper(t, func() { flipByte(t, p1) })
		want := []Problem{{"altered", filepath.Base(p1), ""}}
		if diff := cmp.Diff(want, probs, cmp.Comparer(sameKindName)); diff != "" {
			t.Errorf("problems (-want +got):\n%s", diff)
		}
		flipByte(t, p1) // restore
	})
	t.Run("altered head", func(t *testing.T) {
		probs := tamper(t, func() { flipByte(t, p3) })
		want := []Problem{{"altered", filepath.Base(p3), ""}}
		if diff := cmp.Diff(want, probs, cmp.Comparer(sameKindName)); diff != "" {
			t.Errorf("problems (-want +got):\n%s", diff)
		}
		flipByte(t, p3)
	})
	t.Run("inserted", func(t *testing.T) {
		fake := filepath.Join(dir, "20261127T000000Z_api_crash_deadbeef.txt")
		probs := tamper(t, func() { os.WriteFile(fake, []byte("SRE INCIDENT REPORT\nPrevious-Report: none\n"), 0o444) })
		want := []Problem{{"inserted", filepath.Base(fake), ""}}
		if diff := cmp.Diff(want, probs, cmp.Comparer(sameKindName)); diff != "" {
			t.Errorf("problems (-want +got):\n%s", diff)
		}
		os.Remove(fake)
	})
	t.Run("removed", func(t *testing.T) {
		probs := tamper(t, func() { os.Remove(p2) })
		want := []Problem{{"removed", filepath.Base(p2), ""}}
		if diff := cmp.Diff(want, probs, cmp.Comparer(sameKindName)); diff != "" {
			t.Errorf("problems (-want +got):\n%s", diff)
		}
	})
}

func sameKindName(a, b Problem) bool { return a.Kind == b.Kind && a.Name == b.Name }

func flipByte(t *testing.T, path string) {
	t.Helper()
	os.Chmod(path, 0o644)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x20
	if err := os.WriteFile(path, b, 0o444); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o444)
}

// A directory that cannot be written to leaves nothing behind and keeps
// the chain as it was.
func TestWriteReportReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes into a 0555 directory; the ENOSPC script covers root")
	}
	dir := t.TempDir()
	d, _ := Open(dir)
	ev := fixtureEvent()
	write(t, d, ev, "00000001")
	os.Chmod(dir, 0o555)
	defer os.Chmod(dir, 0o755)
	_, _, err := d.WriteReport(&Report{Event: ev, ShortID: "2", Name: "20261127T000000Z_x_crash_2.txt", WrittenAt: time.Unix(0, 0)})
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("WriteReport in a read-only dir: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 { // the first report, the archive and the lock file
		t.Errorf("directory holds %d entries after a failed write, want 2", len(ents))
	}
}

// A report written while the archive could not record it (a full disk) is
// proven by the next report the archive records, which holds its SHA-256;
// an unrecorded newest report is named "unrecorded", not "inserted"; and a
// report spliced in is still "inserted".
func TestVerifyUnrecordedReports(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ev := fixtureEvent()
	p1, _ := write(t, d, ev, "00000001")
	// written while the archive could not be: no report_written notice
	p2, _, err := d.WriteReport(&Report{Event: ev, ShortID: "00000002", Name: FileName(ev.TS.Time, ev.Target, ev.Type, "00000002"), WrittenAt: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	p3, _ := write(t, d, ev, "00000003")
	v, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Problems) != 0 {
		t.Fatalf("Verify with a vouched-for report: problems %v", v.Problems)
	}
	want := []Problem{{"unrecorded", filepath.Base(p2), ""}}
	if diff := cmp.Diff(want, v.Vouched, cmp.Comparer(sameKindName)); diff != "" {
		t.Errorf("vouched (-want +got):\n%s", diff)
	}
	if !strings.Contains(v.Vouched[0].Why, filepath.Base(p3)) {
		t.Errorf("vouched %q does not name %s", v.Vouched[0].Why, filepath.Base(p3))
	}

	// the newest report, unrecorded: no later report vouches for it yet
	p4, _, err := d.WriteReport(&Report{Event: ev, ShortID: "00000004", Name: FileName(ev.TS.Time, ev.Target, ev.Type, "00000004"), WrittenAt: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	v, _ = Verify(dir)
	want = []Problem{{"unrecorded", filepath.Base(p4), ""}}
	if diff := cmp.Diff(want, v.Problems, cmp.Comparer(sameKindName)); diff != "" {
		t.Errorf("unrecorded head: problems (-want +got):\n%s", diff)
	}
	os.Remove(p4)

	// a forged report between p1 and p3, in place of p2, is not vouched for
	b, _ := os.ReadFile(p2)
	os.Remove(p2)
	forged := strings.Replace(string(b), "Severity", "Severit_", 1)
	if err := os.WriteFile(p2, []byte(forged), 0o444); err != nil {
		t.Fatal(err)
	}
	v, _ = Verify(dir)
	want = []Problem{{"altered", filepath.Base(p2), ""}, {"inserted", filepath.Base(p2), ""}}
	if diff := cmp.Diff(want, v.Problems, cmp.Comparer(sameKindName)); diff != "" {
		t.Errorf("forged middle: problems (-want +got):\n%s", diff)
	}
	_ = p1
}

// Two Dirs on one directory (two writers) extend one chain: each reads the
// other's reports under the lock before linking.
func TestTwoWritersOneChain(t *testing.T) {
	dir := t.TempDir()
	a, _ := Open(dir)
	b, _ := Open(dir)
	defer a.Close()
	defer b.Close()
	ev := fixtureEvent()
	for i := 0; i < 3; i++ {
		write(t, a, ev, fmt.Sprintf("a%07d", i))
		write(t, b, ev, fmt.Sprintf("b%07d", i))
	}
	v, err := Verify(dir)
	if err != nil || len(v.Problems) != 0 || v.Reports != 6 {
		t.Fatalf("Verify = %+v, %v", v, err)
	}
}

// A temp file left by a writer killed mid-report is removed when the
// directory is opened.
func TestOpenRemovesStaleTemp(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".writing-123.tmp")
	if err := os.WriteFile(stale, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temp file still there: %v", err)
	}
}

// TestGivenUpRecordsBounded: with the archive unwritable for good, the
// records kept to write again are bounded (MaxQueued), and so are those
// named at the end (MaxDroppedNamed): the rest are counted, not listed.
func TestGivenUpRecordsBounded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reports")
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, ArchiveName), 0o755); err != nil { // an archive that cannot be opened
		t.Fatal(err)
	}
	const extra = 7
	n := MaxQueued + MaxDroppedNamed + extra
	for i := range n {
		line := fmt.Sprintf(`{"v":1,"kind":"event","id":"e%d"}`, i)
		if err := d.AppendArchive([]byte(line), false); err == nil {
			t.Fatalf("record %d: archived in a directory", i)
		}
	}
	labels, more := d.Unwritten()
	if len(labels) != MaxQueued+MaxDroppedNamed || more != extra {
		t.Fatalf("%d named and %d more, want %d and %d", len(labels), more, MaxQueued+MaxDroppedNamed, extra)
	}
	if want := fmt.Sprintf("e%d", MaxQueued); !strings.Contains(labels[MaxQueued], want) {
		t.Errorf("first record given up named %q, want it to name %s", labels[MaxQueued], want)
	}
}

// TestTakenNameNamesItsOwnContext: a report whose name is taken is
// written as NAME-2.txt, and the context report it names (in its
// Context-Report header and for the writer) is NAME-2_context.txt, not
// the context report of the report that had the name first.
func TestTakenNameNamesItsOwnContext(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ev := fixtureEvent()
	name := FileName(ev.TS.Time, ev.Target, ev.Type, "00000001")
	var paths []string
	for range 2 {
		r := &Report{Event: ev, ShortID: "00000001", Name: name, ContextName: ContextName(name), WrittenAt: time.Unix(0, 0)}
		p, _, err := d.WriteReport(r)
		if err != nil {
			t.Fatal(err)
		}
		if want := ContextName(filepath.Base(p)); r.ContextName != want {
			t.Errorf("%s: context name %s, want %s", p, r.ContextName, want)
		}
		b, _ := os.ReadFile(p)
		if !regexp.MustCompile(`(?m)^Context-Report:\s+` + regexp.QuoteMeta(ContextName(filepath.Base(p))) + ` `).Match(b) {
			t.Errorf("%s does not name its own context report:\n%.600s", p, b)
		}
		paths = append(paths, p)
	}
	if want := strings.TrimSuffix(name, ".txt") + "-2.txt"; filepath.Base(paths[1]) != want {
		t.Errorf("second report %s, want %s", filepath.Base(paths[1]), want)
	}
}

// TestWriteFirstRecordsUnderTheLock: WriteFirst returns with the report
// durable and its archive record written, so that verify (which holds the
// lock) finds the report recorded before the caller has synced; sync then
// makes the record durable.
func TestWriteFirstRecordsUnderTheLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reports")
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ev := fixtureEvent()
	r := &Report{Event: ev, ShortID: "00000001", Name: FileName(ev.TS.Time, ev.Target, ev.Type, "00000001"), WrittenAt: time.Unix(0, 0)}
	path, sum, sync, archErr, err := d.WriteFirst(r, func(path, sum string) [][]byte {
		return [][]byte{[]byte(`{"v":1,"kind":"notice","ts":"2026-11-27T00:00:00.000000000Z","host":"h","src":"sre-report","code":"report_written","msg":"m","detail":{"name":"` +
			filepath.Base(path) + `","sha256":"` + sum + `"}}`)}
	})
	if err != nil || archErr != nil {
		t.Fatal(err, archErr)
	}
	v, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Problems) != 0 || v.Recorded != 1 {
		t.Fatalf("before sync: verify finds %d recorded, problems %v; want the report recorded", v.Recorded, v.Problems)
	}
	if err := sync(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ArchiveName))
	if err != nil || !strings.Contains(string(b), sum) || !strings.Contains(string(b), filepath.Base(path)) {
		t.Fatalf("archive %q (%v): want the record of %s", b, err, path)
	}
}
