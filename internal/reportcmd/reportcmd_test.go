package reportcmd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/localsre/sre-agent/internal/cli"
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
		{"stray argument", []string{"lsit"}, `unexpected argument "lsit" (subcommands: list, show, verify, ecs)`},
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

// A DOCKER_HOST that is not a unix socket does not stop the stream.
func TestDockerHostTCP(t *testing.T) {
	dir := t.TempDir()
	in := `{"v":1,"kind":"event","ts":"2026-11-27T03:41:11.000000000Z","host":"h","src":"sre-detect","id":"e1","type":"crash","severity":"critical","target":"t","msg":"t crashed"}` + "\n"
	code, stdout, stderr := run(t, map[string]string{"DOCKER_HOST": "tcp://10.0.0.1:2375"}, in, "--dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "DOCKER_HOST") || !strings.Contains(stdout, `"report":`) {
		t.Errorf("stdout %q\nstderr %q", stdout, stderr)
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
