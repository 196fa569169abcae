package reportcmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/forensics"
	"github.com/localsre/sre-agent/internal/report"
)

func run(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	std := cli.IO{
		In: strings.NewReader(stdin), Out: &out, Err: &errb,
		Getenv: func(k string) string { return env[k] },
		Now:    time.Now,
	}
	err := Run(context.Background(), std, args)
	if code := cli.ExitCode(err); code != 0 {
		errb.WriteString("sre-report: " + err.Error() + "\n")
	}
	return cli.ExitCode(err), out.String(), errb.String()
}

// Every bad flag or argument: exit 2 and one line naming it.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	_ = os.Remove(fifo)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--bogus"}, "unknown flag: --bogus"},
		{"stray argument", []string{"lsit"}, `unexpected argument "lsit" (subcommands: list, show, verify, prune, ecs, serve)`},
		{"log-lines zero", []string{"--log-lines", "0"}, "--log-lines 0: must be between 1 and 100000"},
		{"timeout zero", []string{"--collector-timeout", "0s"}, "--collector-timeout 0s: must be positive"},
		{"retry zero", []string{"--retry", "0s"}, "--retry 0s: must be positive"},
		{"max-line tiny", []string{"--max-line", "10"}, "--max-line 10: must be at least 1024"},
		{"bad type", []string{"--on", "crash,Crash!"}, `--on "Crash!": not an event type`},
		{"dir is a file", []string{"--dir", file}, "--dir: report directory " + file + ": not a directory"},
		{"empty log spec", []string{"--dir", dir, "--log", ""}, "--log"},
		{"list bad since", []string{"list", "--dir", dir, "--since", "yesterday"}, `--since "yesterday": not a duration (24h) or an RFC 3339 time`},
		{"list bad where", []string{"list", "--dir", dir, "--where", ".a ==="}, `--where ".a ===":`},
		{"list bad format", []string{"list", "--dir", dir, "--format", "xml"}, `--format "xml": want table or json`},
		{"show without id", []string{"show", "--dir", dir}, "show: want one ID"},
		{"verify extra", []string{"verify", "--dir", dir, "x"}, `verify: unexpected argument "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, nil, "", tt.args...)
			if code != cli.ExitUsage {
				t.Errorf("exit %d, want 2; stderr %q", code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q, want one line with %q", stderr, tt.want)
			}
		})
	}
}

// A DOCKER_HOST or DOCKER_CERT_PATH the client cannot use does not stop
// the stream: one line on stderr names it. (A tcp:// host is one the
// client reaches, so it is no longer such a value.)
func TestDockerHostUnusable(t *testing.T) {
	in := `{"v":1,"kind":"event","ts":"2026-11-27T03:41:11.000000000Z","host":"h","src":"sre-detect","id":"e1","type":"crash","severity":"critical","target":"t","msg":"t crashed"}` + "\n"
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"DOCKER_HOST": "unix://"}, "DOCKER_HOST"},
		{map[string]string{"DOCKER_HOST": "bogus"}, "DOCKER_HOST"},
		{map[string]string{"DOCKER_HOST": "tcp://10.0.0.1:2376", "DOCKER_CERT_PATH": "/nonexistent"}, "DOCKER_CERT_PATH"},
	} {
		code, stdout, stderr := run(t, tt.env, in, "--dir", t.TempDir())
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tt.env, code, stderr)
		}
		if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.want) || !strings.Contains(stdout, `"report":`) {
			t.Errorf("%v: stdout %q\nstderr %q", tt.env, stdout, stderr)
		}
	}
}

// An invalid event is skipped and counted, never passed on half-checked;
// --strict turns skips into exit 1.
func TestInvalidEventSkipped(t *testing.T) {
	dir := t.TempDir()
	in := `{"v":1,"kind":"event","ts":"2026-11-27T03:41:11.000000000Z","host":"h","src":"sre-detect","id":"","type":"crash","severity":"critical","target":"t","msg":"m"}` + "\n" +
		`{"v":1,"kind":"notice","ts":"2026-11-27T03:41:11.000000000Z","host":"h","src":"x","code":"c","msg":"m"}` + "\n"
	code, stdout, stderr := run(t, nil, in, "--dir", dir)
	if code != 0 || strings.Count(stdout, "\n") != 1 || !strings.Contains(stdout, `"kind":"notice"`) {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
	if !strings.Contains(stderr, "line 1 skipped (invalid_event)") || !strings.Contains(stderr, "1 events skipped as invalid") {
		t.Errorf("stderr %q", stderr)
	}
	code, _, stderr = run(t, nil, in, "--dir", t.TempDir(), "--strict")
	if code != cli.ExitFailure || !strings.Contains(stderr, "--strict") {
		t.Errorf("--strict: exit %d, stderr %q", code, stderr)
	}
}

// The archive keeps what sre-score reads: summaries (its memory gauges)
// are archived, samples are not; every record still passes on.
func TestArchiveKinds(t *testing.T) {
	dir := t.TempDir()
	in := `{"v":1,"kind":"sample","ts":"2026-11-27T03:41:10.000000000Z","host":"h","src":"sre-sample","target":"t","seq":1,"up":false,"matches":0}` + "\n" +
		`{"v":1,"kind":"summary","ts":"2026-11-27T03:42:00.000000000Z","host":"h","src":"sre-detect","target":"t","from":"2026-11-27T03:41:00.000000000Z","to":"2026-11-27T03:42:00.000000000Z","samples":60,"rss_bytes":{"min":1,"avg":2,"max":3},"rss_slope_bytes_per_s":0.5}` + "\n" +
		`{"v":1,"kind":"notice","ts":"2026-11-27T03:42:00.000000000Z","host":"h","src":"sre-detect","code":"host_oom_kill","msg":"m"}` + "\n"
	code, stdout, stderr := run(t, nil, in, "--dir", dir)
	if code != 0 || stdout != in {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "events.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(in, "\n")
	if want := lines[1] + lines[2]; string(b) != want {
		t.Errorf("archive:\n%s\nwant:\n%s", b, want)
	}
}

// An event that gets a report leaves annotated on its own bytes, on stdout
// and in the archive: fields sre-report does not know — added by jq between
// two stages, at the top level or inside process — and the way the line was
// written (escapes, spacing) are kept. An event that has its report already
// passes as it came, and gets none; one with an empty report gets its own.
func TestAnnotatedEventKeepsFields(t *testing.T) {
	const head = `{"v":1,"kind":"event","ts":"2026-11-27T03:41:11.000000000Z","host":"h","src":"sre-detect","id":"e1","type":"crash","severity":"critical","target":"api",`
	tests := []struct {
		name, in, want string // want: PATH is the report's path
		reported       bool
	}{
		{"unknown top-level fields",
			head + `"msg":"api crashed","team":"payments","labels":{"env":"prod"}}`,
			head + `"msg":"api crashed","team":"payments","labels":{"env":"prod"},"report":"PATH"}`, true},
		{"unknown fields inside known objects",
			head + `"msg":"api crashed","process":{"pid":42,"start_ticks":7,"name":"api","team":"x","container":{"labels":{"a":"b"}}},"detail":{"signal":"SIGKILL","runbook":{"url":"https://r/1"}}}`,
			head + `"msg":"api crashed","process":{"pid":42,"start_ticks":7,"name":"api","team":"x","container":{"labels":{"a":"b"}}},"detail":{"signal":"SIGKILL","runbook":{"url":"https://r/1"}},"report":"PATH"}`, true},
		{"unicode escapes kept as written",
			head + `"msg":"caf\u00e9 \u2028 \ud83d\ude00 ü crashed","owner":"J\u00fcrgen"}`,
			head + `"msg":"caf\u00e9 \u2028 \ud83d\ude00 ü crashed","owner":"J\u00fcrgen","report":"PATH"}`, true},
		{"spacing kept",
			head + ` "msg" : "api crashed" , "x" : [ 1, 2 ] }`,
			head + ` "msg" : "api crashed" , "x" : [ 1, 2 ] ,"report":"PATH"}`, true},
		{"an empty report is replaced",
			head + `"msg":"api crashed","report":"","team":"payments"}`,
			head + `"msg":"api crashed","team":"payments","report":"PATH"}`, true},
		{"a report already there passes as it came",
			head + `"msg":"api crashed","report":"elsewhere/r.txt","team":"payments"}`,
			head + `"msg":"api crashed","report":"elsewhere/r.txt","team":"payments"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			code, stdout, stderr := run(t, nil, tt.in+"\n", "--dir", dir, "--collector-timeout", "1s")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			want := tt.want
			if tt.reported {
				var ev struct{ Report string }
				if err := json.Unmarshal([]byte(stdout), &ev); err != nil || ev.Report == "" {
					t.Fatalf("stdout %q: no report (%v)", stdout, err)
				}
				if _, err := os.Stat(ev.Report); err != nil || filepath.Dir(ev.Report) != dir {
					t.Fatalf("report %q: %v", ev.Report, err)
				}
				want = strings.Replace(want, "PATH", ev.Report, 1)
			}
			if diff := cmp.Diff(want+"\n", stdout); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			b, err := os.ReadFile(filepath.Join(dir, "events.ndjson"))
			if err != nil {
				t.Fatal(err)
			}
			archived, _, _ := strings.Cut(string(b), "\n")
			if diff := cmp.Diff(want, archived); diff != "" {
				t.Errorf("archive (-want +got):\n%s", diff)
			}
			reports, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
			if tt.reported == (len(reports) == 0) {
				t.Errorf("reports %v, want reported %v", reports, tt.reported)
			}
		})
	}
}

// An event whose report cannot be written (the directory is gone) passes
// on, and is archived, exactly as it came: without a report, with every
// field.
func TestUnreportedEventKeepsFields(t *testing.T) {
	work := t.TempDir()
	dir := filepath.Join(work, "reports")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	notice := `{"v":1,"kind":"notice","ts":"2026-11-27T03:41:10.000000000Z","host":"h","src":"x","code":"c","msg":"m","team":"payments"}`
	ev := `{"v":1,"kind":"event","ts":"2026-11-27T03:41:11.000000000Z","host":"h","src":"sre-detect","id":"e1","type":"crash","severity":"critical","target":"api","msg":"caf\u00e9 crashed","process":{"pid":42,"team":"x"},"labels":{"env":"prod"}}`
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var errb bytes.Buffer
	std := cli.IO{In: inR, Out: outW, Err: &errb, Getenv: func(string) string { return "" }, Now: time.Now}
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), std, []string{"--dir", dir, "--flush-timeout", "0s", "--collector-timeout", "1s"})
		outW.Close()
	}()
	lines := bufio.NewReader(outR)
	readLine := func() string {
		t.Helper()
		l, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("stdout: %v", err)
		}
		return strings.TrimSuffix(l, "\n")
	}
	fmt.Fprintln(inW, notice)
	if got := readLine(); got != notice {
		t.Fatalf("stdout %q, want %q", got, notice)
	}
	// The archive file stays open: it follows the directory.
	moved := filepath.Join(work, "moved")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(inW, ev)
	if diff := cmp.Diff(ev, readLine()); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	inW.Close()
	go io.Copy(io.Discard, outR)
	if err := <-done; cli.ExitCode(err) != cli.ExitFailure {
		t.Errorf("exit: %v, want 1 (the report is lost); stderr %s", err, errb.String())
	}
	if !strings.Contains(errb.String(), "the event passes on without a report") {
		t.Errorf("stderr %q, want the report's failure", errb.String())
	}
	b, err := os.ReadFile(filepath.Join(moved, "events.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(notice+"\n"+ev+"\n", string(b)); diff != "" {
		t.Errorf("archive (-want +got):\n%s", diff)
	}
}

// outWatch is sre-report's stdout in TestContextAfterEventAtLowPriority:
// while the crash event is being written, it watches for a sign that the
// context's collectors have started.
type outWatch struct {
	bytes.Buffer
	marker string
	early  bool
}

func (w *outWatch) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(`"type":"crash"`)) {
		// A collector started before the event had left would show
		// itself within a second on any machine this runs on.
		for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(w.marker); err == nil {
				w.early = true
				break
			}
		}
	}
	return w.Buffer.Write(p)
}

// The context report's collectors start once the crash event has left
// sre-report, and what they run runs at nice 10 (or lower priority if
// sre-report already has it): on a busy machine they do not hold up the
// event, nor the next stage reading it. journalctl here is a script in
// its place (there is no journal to read in a test): all it does is
// record the nice value it was started with (and answer --version).
func TestContextAfterEventAtLowPriority(t *testing.T) {
	bin, work := t.TempDir(), t.TempDir()
	marker := filepath.Join(work, "journalctl-nice")
	// --version is the tools collector asking, at start-up: not the
	// context's journal collector.
	script := "#!/bin/sh\ncase $1 in --version) echo 'systemd 252' ;; *) nice >> '" + marker + "' ;; esac\n"
	if err := os.WriteFile(filepath.Join(bin, "journalctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	base, err := exec.Command("nice").Output()
	if err != nil {
		t.Fatalf("nice: %v", err)
	}
	want := max(atoi(t, string(base)), 10)

	in := `{"v":1,"kind":"event","ts":"2026-11-27T03:41:11.000000000Z","host":"h","src":"sre-detect","id":"e1","type":"crash","severity":"critical","target":"t","msg":"t crashed"}` + "\n"
	out := &outWatch{marker: marker}
	var errb bytes.Buffer
	std := cli.IO{In: strings.NewReader(in), Out: out, Err: &errb, Getenv: func(string) string { return "" }, Now: time.Now}
	if err := Run(context.Background(), std, []string{"--dir", filepath.Join(work, "reports"), "--journal-unit", "api"}); err != nil {
		t.Fatalf("%v; stderr %s", err, errb.String())
	}
	if out.early {
		t.Error("a context collector ran journalctl while the crash event was still being written")
	}
	if !strings.Contains(out.String(), `"report":`) {
		t.Errorf("stdout %q", out.String())
	}
	b, err := os.ReadFile(marker)
	if err != nil {
		t.Fatalf("journalctl never ran for the context report: %v; stderr %s", err, errb.String())
	}
	for _, l := range strings.Fields(string(b)) {
		if n := atoi(t, l); n != want {
			t.Errorf("journalctl ran at nice %d, want %d", n, want)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("nice printed %q", s)
	}
	return n
}

// TestPendingReportsBounded: reports kept in memory to write again are
// bounded; one past the bound is named lost at once and counted in the
// end's total.
func TestPendingReportsBounded(t *testing.T) {
	var errb bytes.Buffer
	st := &filterState{std: cli.IO{Err: &errb}, dir: nil}
	ev := &event.Event{ID: "e", Type: "crash", Target: "api"}
	for range maxPending + 2 {
		st.pend(&pending{ev: ev, tries: 1})
	}
	if len(st.retry) != maxPending || st.lostEarly != 2 {
		t.Fatalf("%d kept, %d lost at once; want %d and 2", len(st.retry), st.lostEarly, maxPending)
	}
	if got := strings.Count(errb.String(), "sre-report: lost: the report of event e (crash of api): 1000 reports already wait to be written\n"); got != 2 {
		t.Errorf("stderr names %d losses, want 2:\n%s", got, errb.String())
	}
}

// TestDrainNamesContextsStillGathered: a context report still being
// gathered (or waiting its turn) when sre-report ends is named lost and
// counted, never dropped in silence.
func TestDrainNamesContextsStillGathered(t *testing.T) {
	dir, err := report.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	st := &filterState{std: cli.IO{Err: &errb}, dir: dir, o: &Options{Timeout: 10 * time.Millisecond, RetryEvery: 10 * time.Millisecond}}
	ev := &event.Event{ID: "e1", Type: "crash", Target: "api"}
	// As write does for a report whose context follows; nothing ends it.
	st.contexts.Add(1)
	st.running.Add(1)
	st.gathering = map[*event.Event]bool{ev: true}
	if lost := st.drain(0); lost != 1 {
		t.Errorf("drain: %d lost, want 1", lost)
	}
	if want := "sre-report: lost: the context report of event e1 (crash of api): still being gathered when sre-report ended\n"; !strings.Contains(errb.String(), want) {
		t.Errorf("stderr %q, want %q", errb.String(), want)
	}
}

// TestLaunchPick: --launch opens the container's tool for a container's
// own incident (a container target, whose event names it in detail), the
// pod's for a pod, else a process viewer, else a pager on the report.
func TestLaunchPick(t *testing.T) {
	tools := []forensics.Tool{
		{Name: "lazydocker", Path: "/t/lazydocker", Interactive: true},
		{Name: "k9s", Path: "/t/k9s", Interactive: true},
		{Name: "htop", Path: "/t/htop", Interactive: true},
	}
	l := &launcher{tools: tools}
	for _, tt := range []struct {
		name string
		ev   *event.Event
		want string
	}{
		{"container target", &event.Event{Type: "crash", Detail: map[string]any{"container_id": "0123456789ab"}}, "/t/lazydocker"},
		{"process in a container", &event.Event{Type: "crash", Process: &event.Process{ContainerID: "0123456789ab", Runtime: "docker"}}, "/t/lazydocker"},
		{"pod", &event.Event{Type: "crash", Process: &event.Process{PodUID: "u", Runtime: "kubepods"}}, "/t/k9s"},
		{"host process", &event.Event{Type: "crash", Process: &event.Process{PID: 1}}, "/t/htop"},
	} {
		if got, _ := l.pick(tt.ev, "r.txt"); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}
