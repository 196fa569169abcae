package forensics

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/event"
)

func TestShellQuote(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", "''"},
		{"myproc", "myproc"},
		{"/usr/bin/x", "/usr/bin/x"},
		{"a-b_c.d:e,f@g%h+i=j", "a-b_c.d:e,f@g%h+i=j"},
		{"=ls", "'=ls'"},
		{"; rm -rf ~", "'; rm -rf ~'"},
		{"it's", `'it'\''s'`},
		{"$(touch x)", "'$(touch x)'"},
		{"`id`", "'`id`'"},
		{"a b", "'a b'"},
		{"*", "'*'"},
		{"~", "'~'"},
		{"-rf", "-rf"},
		{"line\nbreak", `$'line\nbreak'`},
		{"tab\tand'quote\\", `$'tab\tand\'quote\\'`},
		{"bell\x07", `$'bell\x07'`},
		{"ünï", "'ünï'"},
	} {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

var hostileNames = []string{
	"; rm -rf ~",
	"$(touch CANARY1)",
	"`touch CANARY2`",
	"x' ; touch CANARY3 ; echo '",
	"a\ntouch CANARY4",
	"| touch CANARY5",
	"&& touch CANARY6 #",
	"${IFS}touch${IFS}CANARY7",
	"*",
	"-e",
	"ünïcode name",
}

// TestShellQuoteRoundTrip gives each quoted string to a real bash and
// reads back the argument it made: the same bytes, nothing run.
func TestShellQuoteRoundTrip(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	for _, s := range hostileNames {
		cmd := exec.Command(bash, "-c", "printf '%s\\0' "+shellQuote(s))
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got := strings.TrimSuffix(string(out), "\x00"); got != s {
			t.Errorf("bash read %q back as %q", s, got)
		}
	}
	assertNoCanary(t, dir)
}

func assertNoCanary(t *testing.T, dir string) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "CANARY*"))
	if len(m) > 0 {
		t.Fatalf("a quoted name ran a command: %q", m)
	}
}

// stubTools writes programs that record their argv, one NUL-terminated
// argument each and a \x1e after each call, in place of the tools the next
// commands name: running the real dmesg or docker adds nothing to what is
// tested here, the shell's reading of our quoting.
func stubTools(t *testing.T, names ...string) (dir, log string) {
	t.Helper()
	dir = t.TempDir()
	log = filepath.Join(dir, "calls")
	for _, n := range names {
		script := "#!/bin/sh\n{ printf '%s\\0' \"${0##*/}\" \"$@\"; printf '\\036'; } >> '" + log + "'\n"
		if err := os.WriteFile(filepath.Join(dir, n), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, log
}

// TestNextCommandsNeverRunANamesContent runs every suggested command in a
// real shell, for processes with hostile names, and checks each tool got
// the name as one argument and no command inside it ran.
func TestNextCommandsNeverRunANamesContent(t *testing.T) {
	tools := []string{"dmesg", "grep", "journalctl", "docker", "kubectl", "htop", "strace", "sre-report"}
	have := map[string]bool{}
	for _, n := range tools {
		have[n] = true
	}
	for _, shell := range []string{"sh", "bash"} {
		shellPath, err := exec.LookPath(shell)
		if err != nil {
			continue
		}
		for _, name := range hostileNames {
			t.Run(shell+"/"+name, func(t *testing.T) {
				bin, log := stubTools(t, tools...)
				work := t.TempDir()
				inc := &Incident{
					Event:  &event.Event{ID: "01JDX" + name, Type: "memory_high", Target: name},
					Target: name, At: time.Date(2025, 11, 27, 3, 59, 0, 0, time.UTC),
					Process: &event.Process{PID: os.Getpid(), Name: name, ContainerID: someID, Runtime: "docker",
						PodUID: podUID, Cgroup: "/system.slice/" + name + ".service"},
				}
				cmds := nextCommands(inc, have, func(int) bool { return true })
				if len(cmds) < 10 {
					t.Fatalf("only %d commands: %q", len(cmds), cmds)
				}
				for _, c := range cmds {
					if strings.Contains(c, "\n") {
						t.Errorf("command spans lines: %q", c)
					}
					cmd := exec.Command(shellPath, "-c", c)
					cmd.Dir = work
					cmd.Env = []string{"PATH=" + bin, "HOME=" + work}
					if out, err := cmd.CombinedOutput(); err != nil {
						// dash has no $'…': a name with a newline is then
						// garbled, but still not run (checked below).
						if shell == "bash" || !strings.ContainsAny(name, "\n") {
							t.Errorf("%s -c %q: %v: %s", shell, c, err, out)
						}
					}
				}
				assertNoCanary(t, work)
				b, _ := os.ReadFile(log)
				calls := strings.Split(strings.TrimSuffix(string(b), "\x1e"), "\x1e")
				if len(calls) != len(cmds)+2 { // two pipelines: two calls each
					t.Errorf("%d calls for %d commands:\n%q\n%q", len(calls), len(cmds), calls, cmds)
				}
				if shell == "sh" && strings.Contains(name, "\n") {
					return
				}
				// grep -e NAME: the name arrived as one argument, intact.
				if !strings.Contains(string(b), "\x00-e\x00"+name[:min(len(name), 15)]+"\x00") {
					t.Errorf("grep did not get the name %q as one argument: %q", name, b)
				}
				if !strings.Contains(string(b), "\x00--target="+name+"\x00") {
					t.Errorf("sre-report did not get --target=%q as one argument: %q", name, b)
				}
			})
		}
	}
}

func TestNextCommands(t *testing.T) {
	at := time.Date(2025, 11, 27, 3, 59, 0, 0, time.UTC)
	all := map[string]bool{"dmesg": true, "journalctl": true, "docker": true, "kubectl": true, "htop": true, "strace": true}
	tests := []struct {
		name  string
		inc   *Incident
		have  map[string]bool
		alive bool
		want  []string
	}{
		{
			name: "crash of a systemd service",
			inc: &Incident{Event: &event.Event{ID: "01JDXAB", Type: "crash", Target: "myapp"}, At: at,
				Process: &event.Process{PID: 4242, Name: "myapp", Cgroup: "/system.slice/myapp.service"}},
			have: all, alive: true,
			want: []string{
				"sre-report show 01JDXAB   # this report",
				"sre-report list --target=myapp   # this target's incidents",
				"dmesg -T | grep -i -e 'out of memory' -e 'killed process' -e myapp   # the kernel's OOM reports",
				"journalctl -u myapp.service --since '2025-11-27 03:49:00 UTC' --no-pager   # the unit's own log",
				"journalctl -k --since '2025-11-27 03:49:00 UTC' --no-pager   # the kernel's log in the journal",
			},
		},
		{
			name: "memory high in a docker container, alive",
			inc: &Incident{Event: &event.Event{ID: "E1", Type: "memory_high", Target: "api"}, Target: "api", At: at,
				Process: &event.Process{PID: 77, Name: "a-very-long-process-name", ContainerID: someID, Runtime: "docker"}},
			have: all, alive: true,
			want: []string{
				"sre-report show E1   # this report",
				"sre-report list --target=api   # this target's incidents",
				"dmesg -T | grep -i -e 'out of memory' -e 'killed process' -e a-very-long-pro   # the kernel's OOM reports",
				"journalctl -k --since '2025-11-27 03:49:00 UTC' --no-pager   # the kernel's log in the journal",
				"docker logs --tail 200 --timestamps " + someID + "   # the container's log",
				"docker inspect --format '{{json .State}}' " + someID + "   # its state, restarts and OOMKilled",
				"docker events --since 2025-11-27T02:59:00Z --until 2025-11-27T04:00:00Z --filter container=" + someID + "   # what the daemon did",
				"htop -p 77   # watch it live (if still the same process)",
				"strace -f -tt -p 77   # what it is doing now",
			},
		},
		{
			name: "pod, tools absent, process gone",
			inc: &Incident{Event: &event.Event{ID: "E2", Type: "oom_kill", Target: "api"}, At: at,
				Process: &event.Process{PID: 77, Name: "api", PodUID: podUID, Runtime: "kubepods"}},
			have: map[string]bool{"kubectl": true, "htop": true}, alive: true,
			want: []string{
				"sre-report show E2   # this report",
				"sre-report list --target=api   # this target's incidents",
				"kubectl get pods --all-namespaces -o custom-columns=NAMESPACE:.metadata.namespace,POD:.metadata.name,UID:.metadata.uid | grep -F -- " + podUID + "   # the pod's namespace and name (then: kubectl -n NS describe pod POD)",
			},
		},
		{
			name: "nothing known",
			inc:  &Incident{},
			have: map[string]bool{}, want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := nextCommands(tt.inc, tt.have, func(int) bool { return tt.alive })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

func TestSystemdUnit(t *testing.T) {
	for cg, want := range map[string]string{
		"/system.slice/myapp.service":                 "myapp.service",
		"/system.slice/myapp.service/worker":          "myapp.service",
		"/user.slice/user-1000.slice/session-2.scope": "",
		"/system.slice/docker-" + someID + ".scope":   "",
		"/":         "",
		"/.service": "",
		"/system.slice/system-getty.slice/getty@tty1.service": "getty@tty1.service",
	} {
		if got := systemdUnit(&event.Process{Cgroup: cg}); got != want {
			t.Errorf("systemdUnit(%q) = %q, want %q", cg, got, want)
		}
	}
	if systemdUnit(nil) != "" {
		t.Error("nil process has a unit")
	}
}

// scriptTools writes small programs standing in for operator tools that
// this host lacks (htop, k9s), and returns a lookPath that finds only
// them: lookPath is the collector's own parameter.
func scriptTools(t *testing.T, scripts map[string]string) func(string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return func(name string) (string, error) {
		if _, ok := scripts[name]; ok {
			return filepath.Join(dir, name), nil
		}
		return "", exec.ErrNotFound
	}
}

func TestDetect(t *testing.T) {
	look := scriptTools(t, map[string]string{"htop": "", "jq": "", "k9s": ""})
	var got []string
	for _, tool := range Detect(look) {
		got = append(got, tool.Name+" "+filepath.Base(tool.Path)+" "+map[bool]string{true: "interactive", false: "batch"}[tool.Interactive])
	}
	if diff := cmp.Diff([]string{"htop htop interactive", "k9s k9s interactive", "jq jq batch"}, got); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
	if got := Detect(func(string) (string, error) { return "", errors.New("no") }); got != nil {
		t.Errorf("Detect with nothing = %v", got)
	}
}

func TestToolsCollectorVersionsAndCache(t *testing.T) {
	count := filepath.Join(t.TempDir(), "count")
	gdbCount := filepath.Join(t.TempDir(), "gdb-count")
	look := scriptTools(t, map[string]string{
		"htop": "echo x >> '" + count + "'; echo 'htop 3.2.2'; echo '(C) 2004-2019 Hisham Muhammad'",
		"k9s":  `[ "$*" = "version --short" ] && echo 'Version  v0.32.5'`,
		"gdb":  "echo x >> '" + gdbCount + "'; exec sleep 5", // answers too late
		"jq":   "echo oops >&2; exit 3",
	})
	c := NewToolsCollector(look).(*toolsCollector)
	c.versionTimeout = 300 * time.Millisecond
	start := time.Now()
	s, err := c.Collect(context.Background(), &Incident{})
	if err != nil {
		t.Fatal(err)
	}
	// gdb answers after 5 s: a Collect that waited for it would take that.
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Collect took %v, waits at most %v for versions", took, c.wait)
	}
	path := func(n string) string { p, _ := look(n); return p }
	want := map[string]string{
		"htop":       "htop 3.2.2 (" + path("htop") + ")",
		"btop":       "not installed",
		"lazydocker": "not installed",
		"k9s":        "Version  v0.32.5 (" + path("k9s") + ")",
		"gdb":        "version not read yet (" + path("gdb") + ")",
		"jq":         "version unknown: oops (" + path("jq") + ")",
		"docker":     "not installed",
	}
	for k, v := range want {
		if got := fieldValue(s, k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if len(s.Fields) != len(knownTools) {
		t.Errorf("%d fields, want one per known tool (%d)", len(s.Fields), len(knownTools))
	}
	// The second report, once the first's version reads have ended (gdb's
	// at its timeout), asks no tool again but gdb, which timed out.
	c.reading.Wait()
	s, _ = c.Collect(context.Background(), &Incident{})
	if got := fieldValue(s, "htop"); got != want["htop"] {
		t.Errorf("cached htop = %q", got)
	}
	c.reading.Wait()
	if b, _ := os.ReadFile(count); string(b) != "x\n" {
		t.Errorf("htop --version ran %d times, want once", strings.Count(string(b), "x"))
	}
	if b, _ := os.ReadFile(gdbCount); string(b) != "x\nx\n" {
		t.Errorf("gdb --version ran %d times, want twice (it timed out the first time)", strings.Count(string(b), "x"))
	}
}

func TestToolsCollectorWarm(t *testing.T) {
	count := filepath.Join(t.TempDir(), "count")
	look := scriptTools(t, map[string]string{"strace": "echo x >> '" + count + "'; sleep 0.3; echo 'strace -- version 6.1'"})
	c := NewToolsCollector(look).(*toolsCollector)
	c.Warm(context.Background())
	s, _ := c.Collect(context.Background(), &Incident{})
	if got := fieldValue(s, "strace"); !strings.HasPrefix(got, "strace -- version 6.1 (") {
		t.Errorf("strace = %q after Warm", got)
	}
	// Collect took the version Warm read: strace ran once, not again.
	if b, _ := os.ReadFile(count); string(b) != "x\n" {
		t.Errorf("strace --version ran %d times, want once (by Warm)", strings.Count(string(b), "x"))
	}
}

// TestToolsCollectorOnThisHost runs the real tools this host has.
func TestToolsCollectorOnThisHost(t *testing.T) {
	c := NewToolsCollector(exec.LookPath).(*toolsCollector)
	c.Warm(context.Background())
	s, err := c.Collect(context.Background(), &Incident{Event: &event.Event{ID: "E1", Type: "crash", Target: "x"}, At: time.Now(), Process: &event.Process{PID: 1, Name: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", render(s))
	if _, err := exec.LookPath("jq"); err == nil {
		if got := fieldValue(s, "jq"); !strings.HasPrefix(got, "jq-") {
			t.Errorf("jq = %q, want jq-VERSION", got)
		}
	}
	if s.Lines[0] != "Next commands:" || s.Lines[1] != "  sre-report show E1   # this report" {
		t.Errorf("lines = %q", s.Lines)
	}
}

func TestProcessAlive(t *testing.T) {
	if !processAlive(os.Getpid()) || !processAlive(1) {
		t.Error("we or init are not alive")
	}
	if processAlive(0) || processAlive(-1) || processAlive(1<<30) {
		t.Error("a pid that cannot exist is alive")
	}
}

// Versions saved by one run serve the next without asking the tool again;
// a tool whose file changed since (an upgrade) is asked again.
func TestToolsCollectorPreload(t *testing.T) {
	count := filepath.Join(t.TempDir(), "count")
	look := scriptTools(t, map[string]string{
		"htop": "echo x >> '" + count + "'; echo 'htop 3.2.2'",
		"jq":   "echo x >> '" + count + "'; echo 'jq-1.7'",
	})
	first := NewToolsCollector(look).(*toolsCollector)
	first.Warm(context.Background())
	saved := first.Versions()
	if len(saved) != 2 {
		t.Fatalf("Versions() = %q, want htop and jq", saved)
	}
	os.Remove(count)
	// jq is upgraded in place: its mtime moves
	jq, _ := look("jq")
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(jq, later, later); err != nil {
		t.Fatal(err)
	}
	next := NewToolsCollector(look).(*toolsCollector)
	if n := next.Preload(saved); n != 1 {
		t.Errorf("Preload kept %d, want 1 (jq changed)", n)
	}
	next.Preload(map[string]string{"/nonexistent\x001\x002": "x", "garbage": "y"})
	next.Warm(context.Background())
	s, _ := next.Collect(context.Background(), &Incident{})
	if got := fieldValue(s, "htop"); !strings.HasPrefix(got, "htop 3.2.2 (") {
		t.Errorf("htop = %q", got)
	}
	if b, _ := os.ReadFile(count); string(b) != "x\n" {
		t.Errorf("%d tools asked after Preload, want 1 (jq)", strings.Count(string(b), "x"))
	}
}
