package forensics

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// Tool is an operator tool found on this host.
type Tool struct {
	Name    string // htop
	Path    string // /usr/bin/htop
	Purpose string // what a person opens it for
	// Interactive tools take over a terminal (sre-report --launch).
	Interactive bool
}

// knownTools are the tools a person reaches for during an incident, in
// the order the report lists them; the interactive ones first, in the
// order --launch prefers them.
var knownTools = []struct {
	name, purpose string
	interactive   bool
	versionArgs   []string
}{
	{"htop", "processes, interactively", true, []string{"--version"}},
	{"btop", "processes and resources, interactively", true, []string{"--version"}},
	{"lazydocker", "Docker containers, interactively", true, []string{"--version"}},
	{"k9s", "Kubernetes, interactively", true, []string{"version", "--short"}},
	{"journalctl", "the systemd journal", false, []string{"--version"}},
	{"dmesg", "the kernel log", false, []string{"--version"}},
	{"docker", "containers", false, []string{"--version"}},
	{"kubectl", "Kubernetes", false, []string{"version", "--client"}},
	{"jq", "JSON (the event archive)", false, []string{"--version"}},
	{"strace", "system calls of a live process", false, []string{"--version"}},
	{"gdb", "debugging a live process or a core dump", false, []string{"--version"}},
}

// Detect returns the known operator tools that lookPath finds (use
// exec.LookPath), in the report's order. It runs nothing.
func Detect(lookPath func(string) (string, error)) []Tool {
	var out []Tool
	for _, k := range knownTools {
		if p, err := lookPath(k.name); err == nil && p != "" {
			out = append(out, Tool{Name: k.name, Path: p, Purpose: k.purpose, Interactive: k.interactive})
		}
	}
	return out
}

// toolsCollector lists the operator tools with their versions and the
// commands worth running next for this incident, quoted for copy-paste.
type toolsCollector struct {
	lookPath func(string) (string, error)
	// versionTimeout bounds one `X --version`; wait bounds how long Collect
	// waits for all of them. A version still running then lands in the
	// cache for the next report (gdb takes ~250 ms to print its version).
	versionTimeout time.Duration
	wait           time.Duration
	alive          func(pid int) bool

	mu       sync.Mutex
	versions map[string]string // by path, size and mtime
	reading  sync.WaitGroup    // version reads under way, late ones included
}

var _ Collector = (*toolsCollector)(nil)

// NewToolsCollector returns the "Operator tools" collector; lookPath finds
// a program (exec.LookPath). Its Warm method reads the versions ahead of
// the first report.
func NewToolsCollector(lookPath func(string) (string, error)) Collector {
	return &toolsCollector{
		lookPath: lookPath, versionTimeout: time.Second, wait: 150 * time.Millisecond,
		alive: processAlive, versions: map[string]string{},
	}
}

func (c *toolsCollector) Collect(ctx context.Context, inc *Incident) (Section, error) {
	s := Section{Title: "Operator tools"}
	found := Detect(c.lookPath)
	have := map[string]bool{}
	for _, t := range found {
		have[t.Name] = true
	}
	versions := c.readVersions(ctx, found, c.wait)
	for _, k := range knownTools {
		if !have[k.name] {
			s.Add(k.name, "not installed")
			continue
		}
		for i, t := range found {
			if t.Name == k.name {
				s.Add(k.name, versions[i]+" ("+t.Path+")")
			}
		}
	}
	s.Lines = append(s.Lines, "Next commands:")
	for _, cmd := range nextCommands(inc, have, c.alive) {
		s.Lines = append(s.Lines, "  "+cmd)
	}
	return s, ctx.Err()
}

// Warm reads the versions of the tools found, so that the first report
// does not wait for them.
func (c *toolsCollector) Warm(ctx context.Context) {
	c.readVersions(ctx, Detect(c.lookPath), c.versionTimeout+100*time.Millisecond)
}

// Preload fills the version cache from a previous run's Versions: an
// entry whose program file changed since (path, size or mtime) is left out,
// so an upgraded tool is asked again. It returns how many were kept.
func (c *toolsCollector) Preload(versions map[string]string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, v := range versions {
		path, _, _ := strings.Cut(k, "\x00")
		if v == "" || len(v) > 200 || cacheKey(path) != k {
			continue
		}
		c.versions[k] = v
		n++
	}
	return n
}

// Versions returns the versions read so far, keyed by program file, for a
// later run's Preload.
func (c *toolsCollector) Versions() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(c.versions))
	for k, v := range c.versions {
		out[k] = v
	}
	return out
}

// readVersions returns each tool's version line, from the cache or by
// running it; it waits at most wait, or until ctx ends.
func (c *toolsCollector) readVersions(ctx context.Context, tools []Tool, wait time.Duration) []string {
	type result struct {
		i int
		v string
	}
	out := make([]string, len(tools))
	done := make(chan result, len(tools)) // never blocks a late sender
	pending := 0
	for i, t := range tools {
		key := cacheKey(t.Path)
		c.mu.Lock()
		v, ok := c.versions[key]
		c.mu.Unlock()
		if ok && key != "" {
			out[i] = v
			continue
		}
		pending++
		c.reading.Go(func() {
			// Not under ctx: a version that comes in late serves the next report.
			vctx, cancel := context.WithTimeout(context.Background(), c.versionTimeout)
			defer cancel()
			v, ok := readVersion(vctx, t, c.versionTimeout)
			if ok && key != "" {
				c.mu.Lock()
				c.versions[key] = v
				c.mu.Unlock()
			}
			done <- result{i, v}
		})
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
wait:
	for ; pending > 0; pending-- {
		select {
		case r := <-done:
			out[r.i] = r.v
		case <-timer.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	for i := range out {
		if out[i] == "" {
			out[i] = "version not read yet"
		}
	}
	return out
}

// cacheKey identifies a program file: a tool upgraded in place gets read
// again.
func cacheKey(p string) string {
	st, err := os.Stat(p)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s\x00%d\x00%d", p, st.Size(), st.ModTime().UnixNano())
}

// readVersion runs the tool's version command and returns its first line;
// ok is false when it did not answer in time (worth asking again).
func readVersion(ctx context.Context, t Tool, timeout time.Duration) (v string, ok bool) {
	var args []string
	for _, k := range knownTools {
		if k.name == t.Name {
			args = k.versionArgs
		}
	}
	out, err := command{argv: append([]string{t.Path}, args...)}.output(ctx, 4096)
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	first = strings.TrimSpace(first)
	switch {
	case ctx.Err() != nil:
		return "version: no answer within " + timeout.String(), false
	case first != "":
		return truncate(first, 120), true
	case err != nil:
		return "version unknown: " + truncate(err.Error(), 120), true
	}
	return "version unknown", true
}

// processAlive tells whether a pid exists (it may be another process by
// now: the report says "if still the same process").
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// endedTypes are the events after which the process is gone.
var endedTypes = map[string]bool{"crash": true, "absent": true, "oom_kill": true}

// nextCommands are the commands worth running for this incident, each
// ready to paste into a shell: every value that came from the process or
// the event is quoted, so a process named `; rm -rf ~` stays a name.
func nextCommands(inc *Incident, have map[string]bool, alive func(int) bool) []string {
	var out []string
	add := func(comment string, argv ...string) {
		q := make([]string, len(argv))
		for i, a := range argv {
			q[i] = shellQuote(a)
		}
		out = append(out, strings.Join(q, " ")+"   # "+comment)
	}
	// pipe joins quoted commands with |.
	pipe := func(comment string, cmds ...[]string) {
		parts := make([]string, len(cmds))
		for i, argv := range cmds {
			q := make([]string, len(argv))
			for j, a := range argv {
				q[j] = shellQuote(a)
			}
			parts[i] = strings.Join(q, " ")
		}
		out = append(out, strings.Join(parts, " | ")+"   # "+comment)
	}
	var p = inc.Process
	ev := inc.Event
	at := inc.At
	if at.IsZero() {
		at = inc.Now
	}
	if ev != nil && ev.ID != "" {
		add("this report", "sre-report", "show", ev.ID)
	}
	target := inc.Target
	if target == "" && ev != nil {
		target = ev.Target
	}
	if target != "" {
		add("this target's incidents", "sre-report", "list", "--target="+target)
	}
	name := ""
	if p != nil {
		name = p.Name
		if len(name) > 15 {
			name = name[:15] // the kernel's cut (TASK_COMM_LEN)
		}
	}
	if have["dmesg"] {
		grep := []string{"grep", "-i", "-e", "out of memory", "-e", "killed process"}
		if name != "" {
			grep = append(grep, "-e", name)
		}
		pipe("the kernel's OOM reports", []string{"dmesg", "-T"}, grep)
	}
	if have["journalctl"] && !at.IsZero() {
		since := at.Add(-10*time.Minute).UTC().Format("2006-01-02 15:04:05") + " UTC"
		if unit := systemdUnit(p); unit != "" {
			add("the unit's own log", "journalctl", "-u", unit, "--since", since, "--no-pager")
		}
		add("the kernel's log in the journal", "journalctl", "-k", "--since", since, "--no-pager")
	}
	if p != nil && p.ContainerID != "" && (p.Runtime == "docker" || p.Runtime == "") && have["docker"] {
		add("the container's log", "docker", "logs", "--tail", "200", "--timestamps", p.ContainerID)
		add("its state, restarts and OOMKilled", "docker", "inspect", "--format", "{{json .State}}", p.ContainerID)
		if !at.IsZero() {
			add("what the daemon did", "docker", "events", "--since", at.Add(-time.Hour).UTC().Format(time.RFC3339),
				"--until", at.Add(time.Minute).UTC().Format(time.RFC3339), "--filter", "container="+p.ContainerID)
		}
	}
	if p != nil && p.PodUID != "" && have["kubectl"] {
		pipe("the pod's namespace and name (then: kubectl -n NS describe pod POD)",
			[]string{"kubectl", "get", "pods", "--all-namespaces", "-o", "custom-columns=NAMESPACE:.metadata.namespace,POD:.metadata.name,UID:.metadata.uid"},
			[]string{"grep", "-F", "--", p.PodUID})
	}
	ended := ev != nil && endedTypes[ev.Type]
	if p != nil && p.PID > 0 && !ended && alive(p.PID) {
		pid := strconv.Itoa(p.PID)
		if have["htop"] {
			add("watch it live (if still the same process)", "htop", "-p", pid)
		}
		if have["strace"] {
			add("what it is doing now", "strace", "-f", "-tt", "-p", pid)
		}
	}
	return out
}

// systemdUnit finds the service unit in a process's cgroup path:
// /system.slice/myapp.service → myapp.service.
func systemdUnit(p *event.Process) string {
	if p == nil {
		return ""
	}
	parts := strings.Split(p.Cgroup, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if strings.HasSuffix(parts[i], ".service") && len(parts[i]) > len(".service") {
			return parts[i]
		}
	}
	return ""
}

// shellQuote quotes s for a POSIX shell: as is when it holds only safe
// characters, else in single quotes; with control characters (a newline in
// a process name) in bash's $'…', so the command stays on one line.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	ctl := false
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b < 0x20 || b == 0x7f:
			ctl, safe = true, false
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case strings.IndexByte("_@%+=:,./-", b) >= 0:
		default:
			safe = false
		}
	}
	if safe {
		if strings.HasPrefix(s, "=") { // zsh expands =cmd
			return "'" + s + "'"
		}
		return s
	}
	if !ctl {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	var b strings.Builder
	b.WriteString("$'")
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
