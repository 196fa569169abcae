package scorecmd

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/event/eventtest"
)

var at = time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)

const atFlag = "--at=2026-01-08T00:00:00Z"

// archive returns an archive where "flaky" crashed ten times in the last
// ten hours (each down a minute) and "steady" only started, 3 days ago.
func archive(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	add := func(ts time.Time, id, typ, target string, detail map[string]any) {
		sev := event.SevInfo
		if typ == "crash" {
			sev = event.SevCritical
		}
		enc.Encode(event.Event{Header: event.NewHeader(event.KindEvent, "sre-detect", "h", ts), ID: id, Type: typ,
			Severity: sev, Target: target, Msg: typ, Detail: detail})
	}
	add(at.Add(-72*time.Hour), "s1", "started", "steady", nil)
	add(at.Add(-72*time.Hour), "f0", "started", "flaky", nil)
	for i := 1; i <= 10; i++ {
		ts := at.Add(-time.Duration(i) * time.Hour)
		id := fmt.Sprintf("c%d", i)
		add(ts, id, "crash", "flaky", map[string]any{"uptime_s": 3599.0})
		add(ts.Add(time.Minute), id+"r", "recovered", "flaky", map[string]any{"downtime_s": 60.0, "crash_id": id, "down_since": event.At(ts)})
	}
	enc.Encode(event.Action{Header: event.NewHeader(event.KindAction, "sre-heal", "h", at.Add(-time.Hour+time.Second)),
		Rule: "restart-flaky", Action: "restart", EventID: "c1", Target: "flaky", Attempt: 1, MaxAttempts: 3, Result: event.ResultOK})
	return b.Bytes()
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t testing.TB, stdin []byte, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	std := cli.IO{In: bytes.NewReader(stdin), Out: &out, Err: &errb, Getenv: func(string) string { return "" },
		Now: func() time.Time { return at }}
	err := Run(context.Background(), std, args)
	if err != nil && cli.ExitCode(err) != 0 {
		fmt.Fprintf(&errb, "sre-score: %v\n", err)
	}
	return result{cli.ExitCode(err), out.String(), errb.String()}
}

func records(t testing.TB, out string) []event.Score {
	t.Helper()
	if _, err := eventtest.ValidateStream([]byte(out)); err != nil {
		t.Fatalf("output fails the schema: %v", err)
	}
	var s []event.Score
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var r event.Score
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		if r.Kind == event.KindScore {
			s = append(s, r)
		}
	}
	return s
}

func TestFailBelow(t *testing.T) {
	arch := writeFile(t, "events.ndjson", archive(t))
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no gate", []string{atFlag, arch}, 0, ""},
		{"everyone above", []string{atFlag, "--fail-below", "1", arch}, 0, ""},
		{"flaky below", []string{atFlag, "--fail-below", "50", arch}, 1, "flaky: score"},
		{"gate of 100 trips on any failure", []string{atFlag, "--window", "7d", "--fail-below", "100", arch}, 1, "below 100"},
		{"steady alone passes 100", []string{atFlag, "--window", "7d", "--fail-below", "100", writeFile(t, "s.ndjson", []byte(strings.SplitAfter(string(archive(t)), "\n")[0]))}, 0, ""},
		{"gate out of range", []string{atFlag, "--fail-below", "101", arch}, 2, "--fail-below"},
		{"bad window", []string{atFlag, "--window", "1y", arch}, 2, "--window"},
		{"bad --at", []string{"--at", "yesterday", arch}, 2, "--at"},
		{"bad format", []string{"--format", "xml", arch}, 2, "--format"},
		{"missing archive", []string{atFlag, filepath.Join(t.TempDir(), "none.ndjson")}, 1, "read archive"},
		{"allow-remote without listen", []string{"--allow-remote", arch}, 2, "--allow-remote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, tt.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.stderr)
			}
		})
	}
}

// Score and alert records validate against the schema; an alert names a
// target and window below the gate, and only those.
func TestAlert(t *testing.T) {
	arch := writeFile(t, "events.ndjson", archive(t))
	r := run(t, nil, atFlag, "--alert", "--fail-below", "60", arch)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1: %s", r.code, r.stderr)
	}
	n, err := eventtest.ValidateStream([]byte(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	var alerts []string
	below := map[string]bool{}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	for dec.More() {
		var m struct {
			Kind, Type, Target, Window string
			Score                      float64
			Detail                     struct{ Window string }
		}
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		switch m.Kind {
		case "score":
			if m.Score < 60 {
				below[m.Target+" "+m.Window] = true
			}
		case "event":
			if m.Type != "stability_low" {
				t.Errorf("event type %q", m.Type)
			}
			alerts = append(alerts, m.Target+" "+m.Detail.Window)
		}
	}
	if len(alerts) == 0 || len(alerts) != len(below) {
		t.Fatalf("%d alerts %v for %d scores below 60 %v (%d records)", len(alerts), alerts, len(below), below, n)
	}
	for _, a := range alerts {
		if !below[a] {
			t.Errorf("alert for %s, which is not below 60", a)
		}
	}
}

func gz(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// Bad lines are skipped and counted and change nothing else; gzip, stdin
// and several files read the same records.
func TestBadInput(t *testing.T) {
	clean := archive(t)
	want := records(t, run(t, nil, atFlag, writeFile(t, "clean.ndjson", clean)).stdout)
	if len(want) == 0 {
		t.Fatal("no records from the clean archive")
	}
	lines := strings.SplitAfter(string(clean), "\n")
	half := len(lines) / 2
	corrupt := strings.Join(lines[:half], "") + "{not json\n" + `{"v":1}` + "\n" + `{"v":9,"kind":"event"}` + "\n" +
		`{"v":1,"kind":"event","ts":12,"type":"crash","target":"flaky"}` + "\n" + strings.Join(lines[half:], "")
	// reversed: out of order
	rev := make([]string, 0, len(lines))
	for i := len(lines) - 1; i >= 0; i-- {
		rev = append(rev, lines[i])
	}
	tests := []struct {
		name   string
		stdin  []byte
		files  map[string][]byte
		args   []string
		stderr []string
	}{
		{"corrupt lines", nil, map[string][]byte{"a.ndjson": []byte(corrupt)}, nil,
			[]string{"line " + fmt.Sprint(half+1) + " skipped (bad_json)", "skipped (bad_record)", "4 lines skipped"}},
		{"truncated last line", nil, map[string][]byte{"a.ndjson": append(append([]byte{}, clean...), `{"v":1,"kind":"event","ts":"2026-01-07T23:59:00Z","type":"cra`...)}, nil,
			[]string{"partial_last_line=1"}},
		{"out of order", nil, map[string][]byte{"a.ndjson": []byte(strings.Join(rev, ""))}, nil, nil},
		{"gzip", nil, map[string][]byte{"a.ndjson.gz": gz(t, clean)}, nil, nil},
		{"stdin", clean, nil, []string{"-"}, nil},
		{"gzip stdin", gz(t, clean), nil, []string{"-"}, nil},
		{"two files", nil, map[string][]byte{"1.ndjson.gz": gz(t, []byte(strings.Join(lines[:half], ""))), "2.ndjson": []byte(strings.Join(lines[half:], ""))}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{atFlag}
			dir := t.TempDir()
			var names []string
			for n := range tt.files {
				names = append(names, n)
			}
			// 1.* before 2.*
			if len(names) == 2 && names[0] > names[1] {
				names[0], names[1] = names[1], names[0]
			}
			for _, n := range names {
				p := filepath.Join(dir, n)
				if err := os.WriteFile(p, tt.files[n], 0o644); err != nil {
					t.Fatal(err)
				}
				args = append(args, p)
			}
			args = append(args, tt.args...)
			r := run(t, tt.stdin, args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if d := cmp.Diff(want, records(t, r.stdout)); d != "" {
				t.Errorf("records (-clean +got):\n%s", d)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr does not say %q:\n%s", s, r.stderr)
				}
			}
			if len(tt.stderr) == 0 && r.stderr != "" {
				t.Errorf("stderr: %s", r.stderr)
			}
		})
	}
	r := run(t, []byte(corrupt), atFlag, "--strict", "-")
	if r.code != 1 {
		t.Errorf("--strict with skipped lines: exit %d, want 1", r.code)
	}
}

// promtool finds promtool, skipping without it unless CI=true.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not installed (Debian package prometheus); CI must have it")
		}
		t.Skip("promtool not installed (apt-get install prometheus)")
	}
	return p
}

func checkMetrics(t *testing.T, text []byte) {
	t.Helper()
	cmd := exec.Command(promtool(t), "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s\n%s", err, out, text)
	}
}

// The textfile is written whole (no temp file left), passes promtool, and
// matches --format prom.
func TestTextfile(t *testing.T) {
	arch := writeFile(t, "events.ndjson", archive(t))
	dir := t.TempDir()
	tf := filepath.Join(dir, "sre.prom")
	r := run(t, nil, atFlag, "--textfile", tf, arch)
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	text, err := os.ReadFile(tf)
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d files in the textfile directory, want 1", len(ents))
	}
	if p := run(t, nil, atFlag, "--format", "prom", arch); p.stdout != string(text) {
		t.Errorf("textfile differs from --format prom:\n%s\n---\n%s", text, p.stdout)
	}
	for _, want := range []string{`sre_crashes_total{target="flaky"} 10`, `sre_heal_actions_total{action="restart",result="ok",rule="restart-flaky",target="flaky"} 1`,
		`sre_stability_score{target="steady",window="7d"} 100`} {
		if !strings.Contains(string(text), want+"\n") {
			t.Errorf("textfile lacks %q", want)
		}
	}
	if strings.Contains(string(text), `target="steady",window="1h"`) {
		t.Error("steady has no event in the last hour but has a 1h metric")
	}
	checkMetrics(t, text)
}

// The crontab line in docs/score.md runs the command score_cron.txtar runs.
func TestCronLineMatchesDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/score.md")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("../../testdata/script/score_cron.txtar")
	if err != nil {
		t.Fatal(err)
	}
	var cmd string
	for _, l := range strings.Split(string(doc), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "*/") && strings.Contains(l, "sre-score") {
			_, cmd, _ = strings.Cut(l, " && ")
		}
	}
	if cmd == "" {
		t.Fatal("no crontab line running sre-score in docs/score.md")
	}
	if !strings.Contains(string(script), "\nexec "+cmd+"\n") {
		t.Errorf("score_cron.txtar does not run %q", cmd)
	}
}

// Summary records (from sre-detect on stdin) give the memory gauges, the
// latest one winning whatever the order.
func TestMemoryGauges(t *testing.T) {
	sum := func(ts time.Time, avg, slope float64) string {
		b, _ := json.Marshal(event.Summary{Header: event.NewHeader(event.KindSummary, "sre-detect", "h", ts), Target: "web",
			From: event.At(ts.Add(-time.Minute)), To: event.At(ts), Samples: 60,
			RSS: &event.Stat{Min: avg, Avg: avg, Max: avg}, Slope: slope})
		return string(b) + "\n"
	}
	in := sum(at.Add(-time.Minute), 2048, 1.5) + sum(at.Add(-2*time.Minute), 1024, -3)
	r := run(t, []byte(in), atFlag, "--format", "prom", "-")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{`sre_process_resident_memory_bytes{target="web"} 2048`,
		`sre_process_resident_memory_slope_bytes_per_second{target="web"} 1.5`} {
		if !strings.Contains(r.stdout, want+"\n") {
			t.Errorf("no %q in\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "sre_stability_score") {
		t.Error("a summary alone is not an event: no score expected")
	}
	checkMetrics(t, []byte(r.stdout))
}
