package sreagent_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBlock is one ```sh block of README.md.
type readmeBlock struct {
	line int  // of its first command line
	run  bool // marked <!-- README test: run -->: run as written
	// docker: marked <!-- README test: run, docker -->: run as written
	// against the Docker daemon of DOCKER_HOST (IMAGE: its busybox),
	// alone after the other blocks run before it; skipped without a
	// daemon, except in CI.
	docker bool
	// serve: marked <!-- README test: run, serve -->: run as written
	// after the blocks before it; its last command serves the dashboard
	// until stopped, so the test waits for http://127.0.0.1:9479/ to show
	// an incident, then stops it.
	serve bool
	// kube: marked <!-- README test: run, kube -->: run as written, with
	// KUBECONFIG the control plane of SRE_KUBECONFIG
	// (scripts/kube-test.sh), alone after the blocks before it; the test
	// stands in for the kubelet that plane lacks (kubeletFor). Skipped
	// without a plane, except in CI.
	kube bool
	// systemd: marked <!-- README test: run, systemd -->: run by
	// TestServiceInSystemd in a real systemd, not by TestReadme.
	systemd bool
	text    string // the block's lines
}

func readmeBlocks(t *testing.T, readme string) []readmeBlock {
	t.Helper()
	var out []readmeBlock
	var cur *readmeBlock
	marked, dock, srv, sysd, kb := false, false, false, false, false
	sc := bufio.NewScanner(strings.NewReader(readme))
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(l) == "<!-- README test: run -->":
			marked = true
		case cur == nil && strings.TrimSpace(l) == "<!-- README test: run, docker -->":
			marked, dock = true, true
		case cur == nil && strings.TrimSpace(l) == "<!-- README test: run, serve -->":
			marked, srv = true, true
		case cur == nil && strings.TrimSpace(l) == "<!-- README test: run, systemd -->":
			sysd = true
		case cur == nil && strings.TrimSpace(l) == "<!-- README test: run, kube -->":
			marked, kb = true, true
		case cur == nil && l == "```sh":
			cur = &readmeBlock{line: n + 1, run: marked, docker: dock, serve: srv, systemd: sysd, kube: kb}
		case cur != nil && l == "```":
			out = append(out, *cur)
			cur, marked, dock, srv, sysd, kb = nil, false, false, false, false, false
		case cur != nil:
			cur.text += l + "\n"
		case strings.TrimSpace(l) != "":
			marked, dock, srv, sysd, kb = false, false, false, false, false // the mark is for the block right after it
		}
	}
	if cur != nil {
		t.Fatalf("README.md:%d: a ```sh block never ends", cur.line)
	}
	return out
}

// commandWords lists the commands a block runs: the first word of each
// pipeline stage and each && / || / ; list item, outside quotes, after
// variable assignments and sudo/exec/time/env. In a block that shows a
// session ("$ cmd" then its output), only the "$ " lines are commands.
func commandWords(text string) []string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	session := false
	for _, l := range lines {
		if strings.HasPrefix(l, "$ ") {
			session = true
		}
	}
	var words []string
	for _, l := range lines {
		if session {
			if !strings.HasPrefix(l, "$ ") {
				continue
			}
			l = l[2:]
		}
		for _, seg := range splitCommands(l) {
			f := strings.Fields(seg)
			for len(f) > 0 && (strings.Contains(f[0], "=") && !strings.HasPrefix(f[0], "-") ||
				f[0] == "sudo" || f[0] == "exec" || f[0] == "time" || f[0] == "env" || f[0] == "!") {
				f = f[1:]
			}
			if len(f) > 0 {
				words = append(words, f[0])
			}
		}
	}
	return words
}

// splitCommands cuts a shell line at |, &&, ||, ; and a comment, outside
// quotes and $( ).
func splitCommands(l string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	depth := 0
	rs := []rune(l)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '$' && i+1 < len(rs) && rs[i+1] == '(':
			depth++
		case r == ')' && depth > 0:
			depth--
		case depth > 0:
		case r == '#' && (i == 0 || rs[i-1] == ' ' || rs[i-1] == '\t'):
			return append(out, cur.String())
		case r == '|' || r == ';' || r == '&' && i+1 < len(rs) && rs[i+1] == '&':
			out = append(out, cur.String())
			cur.Reset()
			if i+1 < len(rs) && (rs[i+1] == '|' || rs[i+1] == '&') {
				i++
			}
			continue
		}
		cur.WriteRune(r)
	}
	return append(out, cur.String())
}

// TestReadme: the README's commands work as written after its quick start,
// in a fresh clone's layout (bin/ from make build, scripts/), from a shell
// whose PATH has no sre-* tool yet. The blocks marked "README test: run"
// run as written, in order, in one shell's environment; every sre-…,
// scripts/… or bin/… command the README shows is then found.
func TestReadme(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every command")
	}
	repo, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, string(b))
	clone := t.TempDir()
	if out, err := exec.Command("make", "-s", "build", "BIN="+filepath.Join(clone, "bin")).CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	if err := os.Symlink(filepath.Join(repo, "scripts"), filepath.Join(clone, "scripts")); err != nil {
		t.Fatal(err)
	}
	// A PATH with no sre-* tool on it: the README must say how to get them.
	var path []string
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(dir, "sre-report")); err != nil {
			path = append(path, dir)
		}
	}
	env := append(os.Environ(), "PATH="+strings.Join(path, string(filepath.ListSeparator)), "NO_COLOR=1")

	var setup strings.Builder
	ran := 0
	for _, blk := range blocks {
		if !blk.run {
			continue
		}
		ran++
		script := setup.String() + blk.text
		if blk.docker {
			if exec.Command("docker", "version").Run() != nil {
				if os.Getenv("CI") == "true" {
					t.Errorf("README.md:%d: CI must run this block, but no Docker daemon answers on DOCKER_HOST", blk.line)
				} else {
					t.Logf("README.md:%d: skipped: no Docker daemon answers on DOCKER_HOST", blk.line)
				}
				continue
			}
			env := env
			if os.Getenv("IMAGE") == "" {
				env = append(env, "IMAGE=sre-busybox:local") // scripts/dockerd-test.sh's busybox
			}
			cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
			cmd.Dir, cmd.Env = clone, env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("README.md:%d: the block fails as written: %v\n%s\n%s", blk.line, err, blk.text, out)
			} else if !strings.Contains(string(out), `"oom":true`) && strings.Contains(blk.text, "oom") {
				t.Errorf("README.md:%d: the block does not print what the README says:\n%s", blk.line, out)
			} else {
				t.Logf("README.md:%d:\n%s", blk.line, out)
			}
			continue
		}
		if blk.serve {
			runServeBlock(t, setup.String()+blk.text, clone, env, blk.line)
			continue
		}
		if blk.kube {
			runKubeBlock(t, script, clone, env, blk.line)
			continue
		}
		setup.WriteString(blk.text)
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", setup.String())
		cmd.Dir, cmd.Env = clone, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("README.md:%d: the block fails as written: %v\n%s\n%s", blk.line, err, blk.text, out)
			continue
		}
		t.Logf("README.md:%d:\n%s", blk.line, out)
	}
	if ran == 0 {
		t.Error("README.md: no block marked <!-- README test: run -->: the quick start must show how to run the tools")
	}

	var check strings.Builder
	check.WriteString(setup.String() + "\n")
	seen := map[string]bool{}
	for _, blk := range blocks {
		for _, w := range commandWords(blk.text) {
			own := strings.HasPrefix(w, "sre-") || strings.HasPrefix(w, "scripts/") || strings.HasPrefix(w, "bin/")
			if !own || seen[w] {
				continue
			}
			seen[w] = true
			fmt.Fprintf(&check, "command -v %q >/dev/null || echo 'README.md:%d: %s: command not found'\n", w, blk.line, w)
		}
	}
	if len(seen) == 0 {
		t.Fatal("README.md: no sre-* command found: the block parser is broken")
	}
	cmd := exec.Command("bash", "-c", check.String())
	cmd.Dir, cmd.Env = clone, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("checking the commands: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "command not found") {
			t.Error(l)
		}
	}
}

// runServeBlock runs a block whose last command serves the dashboard:
// in the background, until the page at 127.0.0.1:9479 lists a crash,
// then stopped with SIGTERM, which must end it with status 0.
func runServeBlock(t *testing.T, script, dir string, env []string, line int) {
	t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	deadline := time.After(2 * time.Minute)
	for shown := false; !shown; {
		select {
		case err := <-done:
			t.Fatalf("README.md:%d: the block ended before serving: %v\n%s", line, err, out.String())
		case <-deadline:
			t.Fatalf("README.md:%d: no crash on http://127.0.0.1:9479/ within 2 minutes\n%s", line, out.String())
		case <-time.After(200 * time.Millisecond):
		}
		if resp, err := http.Get("http://127.0.0.1:9479/incidents"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			shown = resp.StatusCode == 200 && strings.Contains(string(b), ">crash</a>")
		}
	}
	// Stop the server (the script waits on it) as Ctrl-C would.
	exec.Command("pkill", "-TERM", "-g", strconv.Itoa(cmd.Process.Pid), "-f", "sre-report serve").Run()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("README.md:%d: the block ends with %v once its server is stopped\n%s", line, err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("README.md:%d: the server did not stop within 30 s of SIGTERM", line)
	}
	t.Logf("README.md:%d:\n%s", line, out.String())
}

func TestCommandWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"sre-sample api | sre-detect --mem-max 1G | sre-report --log x   # a | comment\n", []string{"sre-sample", "sre-detect", "sre-report"}},
		{"sre-score --fail-below 80 && echo stable\n", []string{"sre-score", "echo"}},
		{"sre-detect --when 'zombie=.process.state == \"Z\"' | jq -c 'select(.a | .b)'\n", []string{"sre-detect", "jq"}},
		{"$ sre-sample --pid 1 | jq .\n{\"up\":true}\n", []string{"sre-sample", "jq"}},
		{"FOO=1 sudo scripts/sre-watch api; echo \"$(sre-report list | wc -l)\"\n", []string{"scripts/sre-watch", "echo"}},
		{"sre-sample --child-log app.log -- ./app --port 8080; echo \"ended with $?\"\n", []string{"sre-sample", "echo"}},
	}
	for _, tt := range tests {
		if got := commandWords(tt.in); strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("commandWords(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
