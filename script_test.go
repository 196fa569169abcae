package sreagent_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/detectcmd"
	"github.com/localsre/sre-agent/internal/ecs/ecstest"
	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/event/eventtest"
	"github.com/localsre/sre-agent/internal/healcmd"
	"github.com/localsre/sre-agent/internal/kubecmd"
	"github.com/localsre/sre-agent/internal/reportcmd"
	"github.com/localsre/sre-agent/internal/samplecmd"
	"github.com/localsre/sre-agent/internal/score/promtest"
	"github.com/localsre/sre-agent/internal/scorecmd"
)

// TestMain makes the test binary double as every sre-* command, so the
// scripts run the real binaries through real pipes.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"sre-sample": func() { os.Exit(cli.Main("sre-sample", samplecmd.Run)) },
		"sre-detect": func() { os.Exit(cli.Main("sre-detect", detectcmd.Run)) },
		"sre-report": func() { os.Exit(cli.Main("sre-report", reportcmd.Run)) },
		"sre-score":  func() { os.Exit(cli.Main("sre-score", scorecmd.Run)) },
		"sre-heal":   func() { os.Exit(cli.Main("sre-heal", healcmd.Run)) },
		"sre-kube":   func() { os.Exit(cli.Main("sre-kube", kubecmd.Run)) },
	})
}

// TestScripts runs testdata/script/*.txtar.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "root":
				return os.Geteuid() == 0, nil
			case "ci":
				return os.Getenv("CI") == "true", nil
			case "memcg":
				// Root can make a memory cgroup here (cmdMemcg).
				dir, _, err := memcgRoot()
				if err != nil || os.Geteuid() != 0 {
					return false, nil
				}
				probe, err := os.MkdirTemp(dir, "sre-agent-probe-")
				if err != nil {
					return false, nil
				}
				return os.Remove(probe) == nil, nil
			case "kube":
				// A Kubernetes control plane answers (scripts/kube-test.sh).
				return kubeReady()
			case "docker":
				// A daemon answers on DOCKER_HOST (scripts/dockerd-test.sh).
				if os.Getenv("DOCKER_HOST") == "" {
					return false, nil
				}
				return exec.Command("docker", "version").Run() == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Setup: func(env *testscript.Env) error {
			env.Setenv("NO_COLOR", "1")
			me, err := user.Current()
			if err != nil {
				return err
			}
			env.Setenv("ME", me.Username)
			repo, err := os.Getwd()
			if err != nil {
				return err
			}
			env.Setenv("REPO", repo)
			env.Setenv("MYUID", me.Uid)
			env.Values[procsKey{}] = map[string]*spawned{}
			env.Values[kubeVarsKey{}] = new([]string)
			if h := os.Getenv("DOCKER_HOST"); h != "" {
				env.Setenv("DOCKER_HOST", h)
			}
			// The control plane scripts/kube-test.sh started.
			for _, k := range []string{"SRE_KUBECONFIG", "SRE_KUBE_DIR"} {
				if v := os.Getenv(k); v != "" {
					env.Setenv(k, v)
				}
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"spawn":              cmdSpawn,
			"signal":             cmdSignal,
			"waitproc":           cmdWaitproc,
			"waitlines":          cmdWaitlines,
			"waituntil":          cmdWaituntil,
			"validate":           cmdValidate,
			"ecsvalidate":        cmdECSValidate,
			"exitwithin":         cmdExitWithin,
			"defer-umount":       cmdDeferUmount,
			"defer-rmdir":        cmdDeferRmdir,
			"defer-docker-rm":    cmdDeferDockerRm,
			"defer-dockerd-stop": cmdDeferDockerdStop,
			"memcg":              cmdMemcg,
			"freeport":           cmdFreeport,
			"promquery":          cmdPromquery,
			"kube":               cmdKube,
		},
	})
}

// defaultWait is how long waitlines, waitproc and waituntil wait by
// default. Each returns the moment what it waits for happens, so the
// ceiling is set for a loaded 2-core machine, not for the usual case.
const defaultWait = 30 * time.Second

type spawned struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// spawn NAME CMD [ARGS...]: start CMD in the background with stdout in
// NAME.out and stderr in NAME.err; $NAME_PID holds its PID and
// $NAME_STARTED_AT and $NAME_STARTED_BY the times just before and just
// after it was started (exec'd), in Unix nanoseconds. It is killed when
// the script ends. CMD may be a pipeline given as "sh -c '...'".
func cmdSpawn(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: spawn NAME CMD [ARGS...]")
	}
	name := args[0]
	out, err := os.Create(ts.MkAbs(name + ".out"))
	ts.Check(err)
	errf, err := os.Create(ts.MkAbs(name + ".err"))
	ts.Check(err)
	path := args[1]
	if lp, err := exec.LookPath(args[1]); err == nil {
		path = lp
	} else if p, err := lookPathIn(ts, args[1]); err == nil {
		path = p
	}
	cmd := exec.Command(path, args[2:]...)
	cmd.Args[0] = args[1] // argv[0] as a shell would give it
	cmd.Dir = ts.Getenv("WORK")
	cmd.Env = scriptEnv(ts)
	cmd.Stdout, cmd.Stderr = out, errf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	ts.Setenv(name+"_STARTED_AT", strconv.FormatInt(time.Now().UnixNano(), 10))
	ts.Check(cmd.Start())
	ts.Setenv(name+"_STARTED_BY", strconv.FormatInt(time.Now().UnixNano(), 10))
	p := &spawned{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		errf.Close()
		close(p.done)
	}()
	procs(ts)[name] = p
	ts.Setenv(name+"_PID", strconv.Itoa(cmd.Process.Pid))
	ts.Defer(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
}

func lookPathIn(ts *testscript.TestScript, file string) (string, error) {
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		p := filepath.Join(dir, file)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", file)
}

var envKeys = []string{"PATH", "HOME", "WORK", "TMPDIR", "NO_COLOR", "DOCKER_HOST", "REPO", "KUBECONFIG", "SRE_KUBECONFIG", "SRE_KUBE_DIR"}

func scriptEnv(ts *testscript.TestScript) []string {
	env := os.Environ()
	for _, k := range envKeys {
		env = append(env, k+"="+ts.Getenv(k))
	}
	// The PIDs of processes spawned so far, so a spawned pipeline can name
	// them ($victim_PID).
	for name := range procs(ts) {
		env = append(env, name+"_PID="+ts.Getenv(name+"_PID"))
	}
	// The names `kube` set ($NS, $POD_0).
	for _, k := range *ts.Value(kubeVarsKey{}).(*[]string) {
		env = append(env, k+"="+ts.Getenv(k))
	}
	return env
}

type procsKey struct{}

func procs(ts *testscript.TestScript) map[string]*spawned {
	if m, ok := ts.Value(procsKey{}).(map[string]*spawned); ok {
		return m
	}
	ts.Fatalf("no spawned processes")
	return nil
}

// signal NAME SIG: send SIG (e.g. KILL, TERM, INT, SEGV) to a spawned
// process and everything in its process group, as a terminal's Ctrl-C
// reaches every stage of a pipeline; $NAME_SIGNALED_AT holds the time in
// Unix nanoseconds. Signalling only the shell of a spawned pipeline would
// leave its stages running past `waitproc`, still acting on what the
// script does next.
func cmdSignal(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: signal NAME SIG")
	}
	pid, err := strconv.Atoi(ts.Getenv(args[0] + "_PID"))
	if err != nil {
		ts.Fatalf("signal: no $%s_PID", args[0])
	}
	sig := unixSignal(ts, args[1])
	ts.Setenv(args[0]+"_SIGNALED_AT", strconv.FormatInt(time.Now().UnixNano(), 10))
	if procs(ts)[args[0]] != nil {
		pid = -pid // spawn makes each process the leader of its own group
	}
	ts.Check(syscall.Kill(pid, sig))
}

func unixSignal(ts *testscript.TestScript, name string) syscall.Signal {
	switch strings.TrimPrefix(name, "SIG") {
	case "KILL":
		return syscall.SIGKILL
	case "TERM":
		return syscall.SIGTERM
	case "INT":
		return syscall.SIGINT
	case "SEGV":
		return syscall.SIGSEGV
	case "HUP":
		return syscall.SIGHUP
	case "STOP":
		return syscall.SIGSTOP
	case "CONT":
		return syscall.SIGCONT
	}
	ts.Fatalf("unknown signal %s", name)
	return 0
}

// waitproc NAME [TIMEOUT]: wait for a spawned process to end; fails if it
// runs past TIMEOUT (default 30s, a ceiling for a loaded machine: the wait
// ends as soon as the process does). $NAME_STATUS holds its exit status.
// With !, asserts that it is still running after TIMEOUT.
func cmdWaitproc(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: waitproc NAME [TIMEOUT]")
	}
	p := procs(ts)[args[0]]
	if p == nil {
		ts.Fatalf("waitproc: %s was not spawned", args[0])
	}
	timeout := defaultWait
	if len(args) == 2 {
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		timeout = d
	}
	select {
	case <-p.done:
		if neg {
			ts.Fatalf("%s ended within %v", args[0], timeout)
		}
		code := p.cmd.ProcessState.ExitCode()
		if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		ts.Setenv(args[0]+"_STATUS", strconv.Itoa(code))
	case <-time.After(timeout):
		if !neg {
			ts.Fatalf("%s still running after %v", args[0], timeout)
		}
	}
}

// waitlines FILE N [TIMEOUT]: wait until FILE holds at least N complete
// lines (default timeout 30s, a ceiling: the wait ends at the Nth line).
func cmdWaitlines(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: waitlines FILE N [TIMEOUT]")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	timeout := defaultWait
	if len(args) == 3 {
		timeout, err = time.ParseDuration(args[2])
		ts.Check(err)
	}
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(ts.MkAbs(args[0]))
		if bytes.Count(b, []byte("\n")) >= n {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s: %d lines after %v, want %d:\n%s", args[0], bytes.Count(b, []byte("\n")), timeout, n, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waituntil [TIMEOUT] PROG [ARGS...]: run PROG again and again (every
// 20ms) until it exits 0; fails with its last output if it has not by
// TIMEOUT (default 30s). It waits on a condition — a file, a line, a state
// in a JSON file — instead of a fixed sleep that a loaded machine outlasts.
func cmdWaituntil(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: waituntil [TIMEOUT] PROG [ARGS...]")
	}
	timeout := defaultWait
	if d, err := time.ParseDuration(args[0]); err == nil && len(args) > 1 {
		timeout, args = d, args[1:]
	}
	path, err := lookPathIn(ts, args[0]) // the script's PATH first: the sre-* commands
	if err != nil {
		path, err = exec.LookPath(args[0])
		ts.Check(err)
	}
	deadline := time.Now().Add(timeout)
	for {
		cmd := exec.Command(path, args[1:]...)
		cmd.Dir = ts.Getenv("WORK")
		cmd.Env = scriptEnv(ts)
		out, err := cmd.CombinedOutput()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s: still failing after %v: %v\n%s", strings.Join(args, " "), timeout, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ecsvalidate FILE...: every line is a document whose fields outside sre
// have the types the ECS reference gives them (internal/ecs/ecstest).
func cmdECSValidate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: ecsvalidate FILE...")
	}
	for _, f := range args {
		n := 0
		for i, line := range strings.Split(ts.ReadFile(f), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			doc, err := ecstest.Decode([]byte(line))
			if err != nil {
				ts.Fatalf("%s:%d: not JSON: %v", f, i+1, err)
			}
			if probs := ecstest.Check(doc); len(probs) > 0 {
				ts.Fatalf("%s:%d: not an ECS document:\n%s\n%s", f, i+1, strings.Join(probs, "\n"), line)
			}
			n++
		}
		if n == 0 {
			ts.Fatalf("%s: no documents", f)
		}
		ts.Logf("%s: %d ECS documents valid", f, n)
	}
}

// validate FILE...: every line is a record valid under the JSON Schema.
func cmdValidate(ts *testscript.TestScript, neg bool, args []string) {
	for _, f := range args {
		n, err := eventtest.ValidateStream([]byte(ts.ReadFile(f)))
		if neg {
			if err == nil {
				ts.Fatalf("%s: all %d records valid", f, n)
			}
			continue
		}
		if err != nil {
			ts.Fatalf("%s: %v", f, err)
		}
		if n == 0 {
			ts.Fatalf("%s: no records", f)
		}
		ts.Logf("%s: %d records valid", f, n)
	}
}

// exitwithin FILE NAME DURATION: the up:false sample with exit for
// $NAME_PID is in FILE and its ts is within DURATION of $NAME_SIGNALED_AT.
func cmdExitWithin(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: exitwithin FILE NAME DURATION")
	}
	pid, _ := strconv.Atoi(ts.Getenv(args[1] + "_PID"))
	at, err := strconv.ParseInt(ts.Getenv(args[1]+"_SIGNALED_AT"), 10, 64)
	if err != nil {
		ts.Fatalf("exitwithin: no $%s_SIGNALED_AT", args[1])
	}
	limit, err := time.ParseDuration(args[2])
	ts.Check(err)
	// The record may still be on its way: look again until it is there.
	for deadline := time.Now().Add(defaultWait); ; time.Sleep(10 * time.Millisecond) {
		sc := bufio.NewScanner(strings.NewReader(ts.ReadFile(args[0])))
		for sc.Scan() {
			var s event.Sample
			if json.Unmarshal(sc.Bytes(), &s) != nil || s.Kind != "sample" || s.Exit == nil || s.Exit.PID != pid {
				continue
			}
			lag := s.TS.Sub(time.Unix(0, at))
			ts.Logf("exit of pid %d noticed %v after the signal (%s)", pid, lag, s.Exit.Noticed)
			if lag > limit {
				ts.Fatalf("exit of pid %d noticed %v after the signal, want within %v", pid, lag, limit)
			}
			return
		}
		if time.Now().After(deadline) {
			break
		}
	}
	ts.Fatalf("%s: no exit sample for pid %d", args[0], pid)
}

// defer-umount DIR: unmount DIR when the script ends (after its processes
// are gone), so a tmpfs a script mounted never outlives it.
func cmdDeferUmount(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: defer-umount DIR")
	}
	dir := ts.MkAbs(args[0])
	ts.Defer(func() {
		for i := 0; i < 50; i++ {
			if exec.Command("umount", dir).Run() == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = exec.Command("umount", "-l", dir).Run()
	})
}

// defer-rmdir FILE: remove the directory named in FILE when the script
// ends (after its processes are gone), so a cgroup a script made never
// outlives it; an emptied cgroup can take a moment to let go.
func cmdDeferRmdir(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: defer-rmdir FILE")
	}
	dir := strings.TrimSpace(ts.ReadFile(args[0]))
	ts.Defer(func() {
		for i := 0; i < 100; i++ {
			if err := os.Remove(dir); err == nil || errors.Is(err, fs.ErrNotExist) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		ts.Logf("defer-rmdir: %s is left behind", dir)
	})
}

// defer-docker-rm FILE: remove the container whose id is in FILE when the
// script ends.
func cmdDeferDockerRm(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: defer-docker-rm FILE")
	}
	id := strings.TrimSpace(ts.ReadFile(args[0]))
	ts.Defer(func() { _ = exec.Command("docker", "rm", "-f", id).Run() })
}

// defer-dockerd-stop FILE: stop the private daemon of scripts/dockerd-test.sh
// whose directory is in FILE when the script ends, however it ends.
func cmdDeferDockerdStop(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: defer-dockerd-stop FILE")
	}
	dir := strings.TrimSpace(ts.ReadFile(args[0]))
	script := filepath.Join(ts.Getenv("REPO"), "scripts", "dockerd-test.sh")
	ts.Defer(func() {
		if exec.Command(script, "stop", dir).Run() == nil && strings.HasPrefix(dir, os.TempDir()) {
			_ = exec.Command("rm", "-rf", "--one-file-system", dir).Run()
		}
	})
}

// memcgRoot is where memory cgroups are made: the v1 memory hierarchy, or
// the v2 root when it hands the memory controller down; limit names the
// file of the limit.
func memcgRoot() (dir, limit string, err error) {
	if fi, err := os.Stat("/sys/fs/cgroup/memory"); err == nil && fi.IsDir() {
		return "/sys/fs/cgroup/memory", "memory.limit_in_bytes", nil
	}
	b, err := os.ReadFile("/sys/fs/cgroup/cgroup.subtree_control")
	if err != nil {
		return "", "", err
	}
	if !slices.Contains(strings.Fields(string(b)), "memory") {
		return "", "", fmt.Errorf("cgroup v2 root does not hand the memory controller down")
	}
	return "/sys/fs/cgroup", "memory.max", nil
}

// memcg NAME BYTES: make a memory cgroup limited to BYTES, with no swap;
// $NAME holds its directory (write a PID to $NAME/cgroup.procs to move it
// in). It is removed when the script ends, after its processes are gone.
func cmdMemcg(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: memcg NAME BYTES")
	}
	name, args := args[0], args[1:]
	root, limit, err := memcgRoot()
	ts.Check(err)
	dir, err := os.MkdirTemp(root, "sre-agent-test-")
	ts.Check(err)
	ts.Defer(func() {
		for i := 0; i < 250 && os.Remove(dir) != nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	})
	ts.Check(os.WriteFile(filepath.Join(dir, limit), []byte(args[0]), 0o644))
	// No swap, so that the limit ends in an OOM kill: best effort, as the
	// files exist only with swap accounting.
	for _, f := range []string{"memory.memsw.limit_in_bytes", "memory.swap.max"} {
		v := args[0]
		if f == "memory.swap.max" {
			v = "0"
		}
		_ = os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644)
	}
	_ = os.WriteFile(filepath.Join(dir, "memory.swappiness"), []byte("0"), 0o644)
	ts.Setenv(name, dir)
}

// freeport NAME: $NAME holds a TCP port free on 127.0.0.1 now, for a
// server the script starts next.
func cmdFreeport(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport NAME")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	ts.Setenv(args[0], strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	ts.Check(ln.Close())
}

// promquery ADDR QUERY [TIMEOUT]: ask the Prometheus server at ADDR for
// QUERY until it returns a series (default ceiling 60s: a server's first
// samples reach its query API seconds after start); each series goes to
// stdout as "{labels} value".
func cmdPromquery(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: promquery ADDR QUERY [TIMEOUT]")
	}
	timeout := 60 * time.Second
	if len(args) == 3 {
		var err error
		timeout, err = time.ParseDuration(args[2])
		ts.Check(err)
	}
	series, err := promtest.Query(args[0], args[1], timeout)
	ts.Check(err)
	for _, r := range series {
		fmt.Fprintf(ts.Stdout(), "%v %v\n", r.Metric, r.Value)
	}
}
