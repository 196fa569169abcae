package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin holds the real sre-* tools, built once for the package's tests
// ($SRE_TEST_BIN when they are built already).
var bin string

func TestMain(m *testing.M) {
	if b := os.Getenv("SRE_TEST_BIN"); b != "" { // built already (scripts/test-nonroot.sh)
		bin = b
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "sre-service-test-")
	if err != nil {
		panic(err)
	}
	root, _ := filepath.Abs("../..")
	cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/...")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	bin = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestParseConfig(t *testing.T) {
	good := []struct {
		yaml string
		want func(*Config) bool
	}{
		{"watch: {name: api}\n", func(c *Config) bool {
			return c.Watch.Name == "api" && c.Interval == time.Second && c.Dir == "/def" && c.Rules == "" && c.Detect == ""
		}},
		{"watch: {pidfile: /run/a.pid}\ninterval: 250ms\nlog: /var/log/a.log\ndir: /srv/r\n", func(c *Config) bool {
			return c.Watch.PIDFile == "/run/a.pid" && c.Interval == 250*time.Millisecond && len(c.Logs) == 1 && c.Dir == "/srv/r"
		}},
		{"watch: {container: web}\nlog: [/a.log, /b.log]\nheal: {rules: /etc/r.yaml, apply: true}\ndetect: {mem_max: 80%}\n", func(c *Config) bool {
			return c.Watch.Container == "web" && len(c.Logs) == 2 && c.Rules == "/etc/r.yaml" && c.Apply && strings.Contains(c.Detect, "mem_max: 80%")
		}},
		{"watch: {name: a}\nretention: {keep_days: 30, max_size: 1GiB, archive_max_size: 100MiB, archive_keep: 3}\n", func(c *Config) bool {
			return strings.Join(c.Prune, " ") == "--keep-days 30 --max-size 1GiB --archive-max-size 100MiB --archive-keep 3" && c.PruneEvery == time.Hour
		}},
	}
	for _, g := range good {
		c, err := ParseConfig("w.yaml", []byte(g.yaml), "/def")
		if err != nil || !g.want(c) {
			t.Errorf("%q: %+v, %v", g.yaml, c, err)
		}
	}
	bad := map[string]string{
		"":                                                "watch: missing",
		"watch: {}\n":                                     "watch: names nothing",
		"watch: {name: a, pid: 3}\n":                      "names more than one",
		"watch: {name: -x}\n":                             `watch.name "-x": not a process name`,
		"watch: {match: '('}\n":                           `watch.match "(":`,
		"watch: {pid: -4}\n":                              "watch.pid -4",
		"watch: {name: a}\ninterval: 1ms\n":               `interval "1ms"`,
		"watch: {name: a}\nlog: rel.log\n":                `log "rel.log": want an absolute path`,
		"watch: {name: a}\nlog: [3]\n":                    "log: want a file",
		"watch: {name: a}\nheal: {apply: true}\n":         "heal: rules: missing",
		"watch: {name: a}\ncolour: red\n":                 "w.yaml:2:",
		"watch: [\n":                                      "w.yaml:",
		"watch: {name: a}\nretention: {}\n":               "retention: names no policy",
		"watch: {name: a}\nretention: {keep_days: -1}\n":  "retention.keep_days -1",
		"watch: {name: a}\nretention: {max_size: lots}\n": `retention.max_size "lots"`,
		"watch: {name: a}\nretention: {keep_days: 3, every: 1ms}\n":      `retention.every "1ms"`,
		"watch: {name: a}\nretention: {keep_days: 3, archive_keep: 2}\n": "retention.archive_keep 2: a positive number, with archive_max_size",
	}
	for in, want := range bad {
		_, err := ParseConfig("w.yaml", []byte(in), "/def")
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrConfig) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v; want one line with %q", in, err, want)
		}
	}
	if _, err := ParseConfig("w.yaml", []byte("watch: {name: a}\n"), ""); err == nil || !strings.Contains(err.Error(), "dir: missing") {
		t.Errorf("no dir and no default: %v", err)
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "none.yaml"), "/d"); err == nil || !strings.Contains(err.Error(), "none.yaml: no such file") {
		t.Errorf("a missing file: %v", err)
	}
}

// notifySocket is a real sd_notify socket: go-systemd writes to it as
// systemd would be written to.
type notifySocket struct {
	mu   sync.Mutex
	msgs []string
	got  chan string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	n := &notifySocket{got: make(chan string, 1024)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(buf[:k]))
			n.mu.Unlock()
			n.got <- string(buf[:k])
		}
	}()
	return n
}

// wait returns the first message holding want, within 30 s.
func (n *notifySocket) wait(t *testing.T, want string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m := <-n.got:
			if strings.Contains(m, want) {
				return m
			}
		case <-deadline:
			t.Fatalf("no notification with %q within 30 s; got %q", want, n.all())
		}
	}
}

func (n *notifySocket) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msgs...)
}

func (n *notifySocket) count(want string) int {
	c := 0
	for _, m := range n.all() {
		if strings.Contains(m, want) {
			c++
		}
	}
	return c
}

// journalRec records the entries the agent sends. The journal's socket
// is systemd's; the real one is tested in a real systemd (TestUnitInSystemd
// in internal/service/systemdtest's users).
type journalRec struct {
	mu      sync.Mutex
	entries []journalEntry
}

type journalEntry struct {
	msg    string
	prio   int
	fields map[string]string
}

func (j *journalRec) Send(msg string, prio int, fields map[string]string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, journalEntry{msg, prio, fields})
	return nil
}

func (j *journalRec) find(typ string) *journalEntry {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := range j.entries {
		if j.entries[i].fields["SRE_EVENT_TYPE"] == typ {
			e := j.entries[i]
			return &e
		}
	}
	return nil
}

// victim starts a copy of sleep with a name of its own.
func victim(t *testing.T, name string) *exec.Cmd {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	b, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(p, "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

type running struct {
	a      *Agent
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned, with err
	err    error
	log    *bytes.Buffer
	logMu  *sync.Mutex
	dir    string
}

func (r *running) logText() string {
	r.logMu.Lock()
	defer r.logMu.Unlock()
	return r.log.String()
}

func startAgent(t *testing.T, yaml string, tune func(*Options)) *running {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "reports")
	cfg, err := ParseConfig("test.yaml", []byte(yaml), dir)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{done: make(chan struct{}), log: &bytes.Buffer{}, logMu: &sync.Mutex{}, dir: cfg.Dir}
	o := Options{Name: "test", Config: cfg, Bin: bin, Notifier: Systemd{}, StopGrace: 20 * time.Second,
		Log: func(p int, l string) { r.logMu.Lock(); fmt.Fprintf(r.log, "<%d>%s\n", p, l); r.logMu.Unlock() }}
	if tune != nil {
		tune(&o)
	}
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	r.a = a
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.err = a.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Errorf("the agent did not stop within 30 s")
		}
		a.Close()
		if t.Failed() {
			t.Logf("agent log:\n%s", r.logText())
		}
	})
	return r
}

// archive reads the report directory's archive.
func archive(t *testing.T, dir string) []map[string]any {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(dir, "events.ndjson"))
	var out []map[string]any
	for _, l := range bytes.Split(b, []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(l, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func waitArchive(t *testing.T, dir string, what string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range archive(t, dir) {
			if ok(r) {
				return r
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %s in the archive within 30 s", what)
	return nil
}

// pidOf finds the running process whose command line starts with prefix
// and whose parent is this test (a stage of the agent).
func stagePID(t *testing.T, a *Agent, stage string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			var pid int
			if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
				continue
			}
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			args := strings.Split(string(cmdline), "\x00")
			if len(args) > 0 && args[0] == filepath.Join(bin, stage) && bytes.Contains(stat, []byte(fmt.Sprintf(") S %d ", os.Getpid()))) ||
				len(args) > 0 && args[0] == filepath.Join(bin, stage) && isChild(stat) {
				return pid
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %s running", stage)
	return 0
}

func isChild(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(string(stat[i+1:]))
	return len(f) > 1 && f[1] == fmt.Sprint(os.Getpid())
}

// TestAgentLifecycle: READY once a sample went through every stage, with
// a STATUS naming the watch; a crash of the target reaches the journal
// with its fields and priority, and STATUS names it; on stop, STOPPING,
// every stage gone, and the crash in the archive.
func TestAgentLifecycle(t *testing.T) {
	n := listenNotify(t)
	j := &journalRec{}
	v := victim(t, "svc-lifecycle")
	r := startAgent(t, "watch: {name: svc-lifecycle}\ninterval: 100ms\ndetect: {absent_after: 0s}\n", func(o *Options) { o.Journal = j })
	ready := n.wait(t, "READY=1")
	if !strings.Contains(ready, "STATUS=watching svc-lifecycle every 100ms") {
		t.Errorf("READY without the status: %q", ready)
	}
	v.Process.Kill()
	n.wait(t, "last event: crash of svc-lifecycle")
	e := j.find("crash")
	if e == nil {
		t.Fatalf("no crash in the journal: %+v", j.entries)
	}
	if e.prio != PrioCrit || e.fields["SRE_TARGET"] != "svc-lifecycle" || e.fields["SRE_PID"] != fmt.Sprint(v.Process.Pid) ||
		e.fields["SRE_EVENT_ID"] == "" || !strings.HasSuffix(e.fields["SRE_REPORT"], ".txt") || e.fields["SYSLOG_IDENTIFIER"] != "sre-agent" ||
		e.fields["SRE_WATCH"] != "test" || !strings.Contains(e.msg, "SIGKILL") {
		t.Errorf("the crash's journal entry: %+v", e)
	}
	if _, err := os.Stat(e.fields["SRE_REPORT"]); err != nil {
		t.Errorf("the entry's report: %v", err)
	}
	pids := []int{stagePID(t, r.a, "sre-sample"), stagePID(t, r.a, "sre-detect"), stagePID(t, r.a, "sre-report")}
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil {
			t.Errorf("Run: %v", r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no stop within 30 s")
	}
	n.wait(t, "STOPPING=1")
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("stage %d still runs after the stop", pid)
		}
	}
	found := false
	for _, rec := range archive(t, r.dir) {
		if rec["type"] == "crash" && rec["id"] == e.fields["SRE_EVENT_ID"] {
			found = true
		}
	}
	if !found {
		t.Error("the crash is not in the archive after the stop")
	}
	if c := n.count("READY=1"); c != 1 {
		t.Errorf("READY sent %d times", c)
	}
}

// TestAgentLostStage: a stage killed is replaced with the whole chain, and
// the time nothing watched is a watch_gap notice in the archive; a crash
// after it is caught.
func TestAgentLostStage(t *testing.T) {
	n := listenNotify(t)
	v := victim(t, "svc-lost")
	r := startAgent(t, "watch: {name: svc-lost}\ninterval: 100ms\ndetect: {absent_after: 0s}\n", nil)
	n.wait(t, "READY=1")
	old := stagePID(t, r.a, "sre-detect")
	killed := time.Now()
	syscall.Kill(old, syscall.SIGKILL)
	gap := waitArchive(t, r.dir, "watch_gap notice", func(m map[string]any) bool { return m["code"] == NoticeWatchGap })
	d, _ := gap["detail"].(map[string]any)
	from, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(d["from"]))
	to, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(d["to"]))
	if d["why"] != "sre-detect was killed by SIGKILL" || from.Before(killed.Add(-time.Second)) || !to.After(from) || d["watch"] != "test" {
		t.Errorf("the gap: %v", gap)
	}
	if p := stagePID(t, r.a, "sre-detect"); p == old {
		t.Error("sre-detect was not started again")
	}
	v.Process.Kill()
	waitArchive(t, r.dir, "crash after the gap", func(m map[string]any) bool { return m["type"] == "crash" && m["target"] == "svc-lost" })
	if c := n.count("READY=1"); c != 1 {
		t.Errorf("READY sent %d times", c)
	}
}

// TestAgentWatchdog: with a watchdog, the agent pings while records flow,
// and stops pinging when a stage hangs (SIGSTOP), leaving the restart to
// the manager.
func TestAgentWatchdog(t *testing.T) {
	n := listenNotify(t)
	victim(t, "svc-dog")
	r := startAgent(t, "watch: {name: svc-dog}\ninterval: 100ms\n", func(o *Options) { o.Watchdog = 2 * time.Second })
	n.wait(t, "READY=1")
	n.wait(t, "WATCHDOG=1")
	rep := stagePID(t, r.a, "sre-report")
	syscall.Kill(rep, syscall.SIGSTOP)
	defer syscall.Kill(rep, syscall.SIGCONT)
	stopped := time.Now()
	// Pings stop once nothing came for hung() (5 s): none after 5 s + a tick.
	time.Sleep(r.a.hung() + 3*time.Second)
	last := time.Time{}
	n.mu.Lock()
	total := len(n.msgs)
	n.mu.Unlock()
	for range 30 {
		time.Sleep(100 * time.Millisecond)
	}
	n.mu.Lock()
	after := n.msgs[total:]
	n.mu.Unlock()
	for _, m := range after {
		if strings.Contains(m, "WATCHDOG=1") {
			last = time.Now()
		}
	}
	if !last.IsZero() {
		t.Errorf("still pinging %s after a stage hung", time.Since(stopped).Round(time.Second))
	}
	if strings.Contains(r.logText(), "starting the chain again") {
		t.Errorf("with a watchdog, the agent restarted the chain itself:\n%s", r.logText())
	}
}

// TestAgentStall: without a watchdog, a hung stage is the agent's to
// replace, as a lost one is.
func TestAgentStall(t *testing.T) {
	n := listenNotify(t)
	victim(t, "svc-stall")
	r := startAgent(t, "watch: {name: svc-stall}\ninterval: 100ms\n", func(o *Options) { o.Stall = 2 * time.Second })
	n.wait(t, "READY=1")
	det := stagePID(t, r.a, "sre-detect")
	syscall.Kill(det, syscall.SIGSTOP)
	defer syscall.Kill(det, syscall.SIGCONT)
	gap := waitArchive(t, r.dir, "watch_gap notice", func(m map[string]any) bool { return m["code"] == NoticeWatchGap })
	if d, _ := gap["detail"].(map[string]any); !strings.Contains(fmt.Sprint(d["why"]), "a stage hung") {
		t.Errorf("the gap: %v", gap)
	}
}

// TestAgentRefusedConfig: settings sre-detect refuses end the agent with
// ErrUsage, saying which stage, rather than restarting forever.
func TestAgentRefusedConfig(t *testing.T) {
	dir := t.TempDir()
	cfg, err := ParseConfig("t.yaml", []byte("watch: {name: x}\ndetect: {mem_max: lots}\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	var mu sync.Mutex
	a, err := New(Options{Name: "t", Config: cfg, Bin: bin, Log: func(p int, l string) { mu.Lock(); log.WriteString(l + "\n"); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = a.Run(ctx)
	mu.Lock()
	defer mu.Unlock()
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "sre-detect exited with status 2") || !strings.Contains(log.String(), "mem") {
		t.Errorf("Run: %v\n%s", err, log.String())
	}
}

// TestNewFindsTools: a tool neither beside the agent nor on PATH is named.
func TestNewFindsTools(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	cfg, _ := ParseConfig("t.yaml", []byte("watch: {name: x}\n"), t.TempDir())
	if _, err := New(Options{Config: cfg, Bin: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "sre-sample: not found") {
		t.Errorf("New: %v", err)
	}
	a, err := New(Options{Config: cfg, Bin: bin})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if d := Describe(a.Stages()); d != "sre-sample --interval 1s x | sre-detect --pass --state "+cfg.Dir+"/.sre-detect-watch.state | sre-report --dir "+cfg.Dir {
		t.Errorf("chain %q", d)
	}
}

// TestAgentRetention: the config's retention policy runs sre-report prune
// at start and every period: of two crash reports, the older goes, said
// in the archive by a report_pruned notice, and verify still passes.
func TestAgentRetention(t *testing.T) {
	n := listenNotify(t)
	v := victim(t, "svc-prune")
	r := startAgent(t, "watch: {name: svc-prune}\ninterval: 100ms\ndetect: {absent_after: 0s}\nretention: {keep_reports: 1, every: 1s}\n", nil)
	n.wait(t, "READY=1")
	v.Process.Kill()
	waitArchive(t, r.dir, "the first crash", func(m map[string]any) bool { return m["type"] == "crash" && m["report"] != nil })
	first := ""
	for _, rec := range archive(t, r.dir) {
		if rec["type"] == "crash" && first == "" {
			first, _ = rec["id"].(string)
		}
	}
	v2 := victim(t, "svc-prune")
	waitArchive(t, r.dir, "the recovery", func(m map[string]any) bool { return m["type"] == "recovered" })
	v2.Process.Kill()
	waitArchive(t, r.dir, "a second crash", func(m map[string]any) bool { return m["type"] == "crash" && m["report"] != nil && m["id"] != first })
	pruned := waitArchive(t, r.dir, "a report_pruned notice", func(m map[string]any) bool { return m["code"] == "report_pruned" })
	if d, _ := pruned["detail"].(map[string]any); d["event_id"] != first {
		t.Errorf("pruned %v; want the first crash %s", pruned, first)
	}
	if out, err := exec.Command(filepath.Join(bin, "sre-report"), "verify", "--dir", r.dir).CombinedOutput(); err != nil {
		t.Errorf("verify after the prune: %v\n%s", err, out)
	}
}

// TestAgentUnwatched: what the target did while the chain was down is
// told when it comes back: a target that died meanwhile is a crash "ended
// while unwatched" with its process as last seen; one replaced meanwhile
// is restarted.
func TestAgentUnwatched(t *testing.T) {
	n := listenNotify(t)
	v := victim(t, "svc-gap")
	r := startAgent(t, "watch: {name: svc-gap}\ninterval: 100ms\ndetect: {absent_after: 0s}\n", nil)
	n.wait(t, "READY=1")
	waitArchive(t, r.dir, "the start", func(m map[string]any) bool { return m["type"] == "started" })
	time.Sleep(2500 * time.Millisecond) // the state file is written every 2 s of samples
	// The chain loses a stage; the target dies in the gap.
	syscall.Kill(stagePID(t, r.a, "sre-detect"), syscall.SIGSTOP)
	syscall.Kill(stagePID(t, r.a, "sre-sample"), syscall.SIGKILL)
	v.Process.Kill()
	v.Wait()
	crash := waitArchive(t, r.dir, "a crash told after the gap", func(m map[string]any) bool {
		d, _ := m["detail"].(map[string]any)
		return m["type"] == "crash" && d["unwatched"] == true
	})
	p, _ := crash["process"].(map[string]any)
	if p == nil || fmt.Sprint(p["pid"]) != fmt.Sprint(v.Process.Pid) || !strings.Contains(fmt.Sprint(crash["msg"]), "ended while unwatched") ||
		crash["report"] == nil {
		t.Errorf("the crash after the gap: %v", crash)
	}
	// Up again, then replaced while the chain is down: restarted.
	v2 := victim(t, "svc-gap")
	waitArchive(t, r.dir, "the target up again", func(m map[string]any) bool {
		pp, _ := m["process"].(map[string]any)
		return m["type"] == "started" && pp != nil && fmt.Sprint(pp["pid"]) == fmt.Sprint(v2.Process.Pid)
	})
	time.Sleep(2500 * time.Millisecond)
	syscall.Kill(stagePID(t, r.a, "sre-sample"), syscall.SIGKILL)
	v2.Process.Kill()
	v2.Wait()
	v3 := victim(t, "svc-gap")
	re := waitArchive(t, r.dir, "a restart told after the gap", func(m map[string]any) bool {
		d, _ := m["detail"].(map[string]any)
		return m["type"] == "restarted" && d["unwatched"] == true
	})
	if d, _ := re["detail"].(map[string]any); fmt.Sprint(d["previous_pid"]) != fmt.Sprint(v2.Process.Pid) ||
		!strings.Contains(fmt.Sprint(re["msg"]), fmt.Sprintf("gave way to pid %d", v3.Process.Pid)) {
		t.Errorf("the restart after the gap: %v", re)
	}
}
