package heal

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/event"
)

func TestExpandNeverSplits(t *testing.T) {
	hostile := []string{"; touch /tmp/pwned", "$(reboot)", "`id`", "a b\tc\nd", "{pid}{target}", "'\"", "--help"}
	for _, h := range hostile {
		j := &Job{Rule: &Rule{}, Attempt: 2, Event: &event.Event{Target: h, ID: h, Report: h, Process: &event.Process{PID: 42}}}
		got := j.Expand([]string{"/bin/echo", "{target}", "x={target}/{pid}/{attempt}", "{event_id}", "{report}"})
		want := []string{"/bin/echo", h, "x=" + h + "/42/2", h, h}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("target %q (-want +got):\n%s", h, diff)
		}
	}
}

func job(r *Rule, apply bool) *Job {
	return &Job{Rule: r, Apply: apply, Attempt: 1, Environ: []string{"PATH=/usr/bin:/bin"},
		Event: &event.Event{ID: "e1", Target: "; touch /tmp/pwned", Process: &event.Process{PID: 1}}}
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, st, _ := parseStat(b)
	return st != "Z"
}

func TestRestartProcessDetached(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	os.WriteFile(log, []byte("before\n"), 0o644)
	r := &Rule{Action: "restart_process", Command: []string{"/bin/sh", "-c", `echo "cwd=$(pwd) env=$APP_MODE arg=$1"; exec sleep 30`, "sh", "{target}"},
		Cwd: dir, Env: map[string]string{"APP_MODE": "healed"}, Log: log, StartCheck: 200 * time.Millisecond}
	o := Do(context.Background(), job(r, true))
	if o.Result != event.ResultOK || o.PID <= 0 {
		t.Fatalf("outcome %+v", o)
	}
	defer syscall.Kill(o.PID, syscall.SIGKILL)
	if sid, _ := unix.Getsid(o.PID); sid != o.PID {
		t.Errorf("session id %d, want its own (%d)", sid, o.PID)
	}
	if !alive(o.PID) {
		t.Errorf("pid %d not alive", o.PID)
	}
	b, _ := os.ReadFile(log)
	want := "before\ncwd=" + dir + " env=healed arg=; touch /tmp/pwned\n"
	if string(b) != want {
		t.Errorf("log:\n got %q\nwant %q", b, want)
	}
}

func TestRestartProcessStartCheckFails(t *testing.T) {
	r := &Rule{Action: "restart_process", Command: []string{"/bin/sh", "-c", "exit 3"}, StartCheck: 2 * time.Second}
	start := time.Now()
	o := Do(context.Background(), job(r, true))
	if o.Result != event.ResultFailed || !strings.Contains(o.Err, "exit status 3") {
		t.Fatalf("outcome %+v", o)
	}
	if time.Since(start) > time.Second {
		t.Errorf("failure took %v: should be seen at once", time.Since(start))
	}
	r.Command = []string{"/nonexistent/prog"}
	if o := Do(context.Background(), job(r, true)); o.Result != event.ResultFailed {
		t.Fatalf("missing program: %+v", o)
	}
}

func TestDryRunStartsNothing(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	for _, action := range []string{"restart_process", "run"} {
		r := &Rule{Action: action, Command: []string{"/usr/bin/touch", marker}, StartCheck: time.Millisecond, Timeout: time.Second}
		o := Do(context.Background(), job(r, false))
		if o.Result != event.ResultPlanned || o.PID != 0 || !strings.HasPrefix(o.Desc, "would run: ") {
			t.Errorf("%s: %+v", action, o)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("dry run ran a command")
	}
}

func TestRunAction(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	r := &Rule{Action: "run", Command: []string{"/bin/sh", "-c", `printf '%s|' "$@" > ` + out, "sh", "{target}", "n={attempt}"}, Timeout: 5 * time.Second}
	o := Do(context.Background(), job(r, true))
	if o.Result != event.ResultOK {
		t.Fatalf("%+v", o)
	}
	if b, _ := os.ReadFile(out); string(b) != "; touch /tmp/pwned|n=1|" {
		t.Errorf("args %q", b)
	}
	r.Command = []string{"/bin/false"}
	if o := Do(context.Background(), job(r, true)); o.Result != event.ResultFailed {
		t.Errorf("false: %+v", o)
	}
	r.Command, r.Timeout = []string{"/bin/sleep", "10"}, 100*time.Millisecond
	if o := Do(context.Background(), job(r, true)); o.Result != event.ResultFailed || !strings.Contains(o.Err, "timed out") {
		t.Errorf("timeout: %+v", o)
	}
}

func startTicks(t *testing.T, pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	n, _, err := parseStat(b)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSignalChecksIdentity(t *testing.T) {
	cmd := exec.Command("/bin/sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	ticks := startTicks(t, pid)
	r := &Rule{Action: "signal", Signal: "TERM"}
	mk := func(st uint64, apply bool) *Job {
		return &Job{Rule: r, Apply: apply, Event: &event.Event{ID: "e", Target: "sleep", Process: &event.Process{PID: pid, StartTicks: st}}}
	}
	// Another start time: the PID was reused; never signalled.
	o := Do(context.Background(), mk(ticks+1, true))
	if o.Result != event.ResultSkipped || !strings.Contains(o.Err, "pid reused") {
		t.Fatalf("reused: %+v", o)
	}
	if !alive(pid) {
		t.Fatal("a reused pid was signalled")
	}
	if o := Do(context.Background(), mk(ticks, false)); o.Result != event.ResultPlanned || !alive(pid) {
		t.Fatalf("dry run: %+v", o)
	}
	o = Do(context.Background(), mk(ticks, true))
	if o.Result != event.ResultOK || o.PID != pid {
		t.Fatalf("same process: %+v", o)
	}
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("ended with %v, want SIGTERM", err)
	}
	if o := Do(context.Background(), mk(ticks, true)); o.Result != event.ResultSkipped {
		t.Fatalf("gone: %+v", o)
	}
}

func TestParseStat(t *testing.T) {
	line := "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615\n"
	n, st, err := parseStat([]byte(line))
	if err != nil || n != 987654 || st != "S" {
		t.Fatalf("got %d %q %v", n, st, err)
	}
	if _, _, err := parseStat([]byte("1 (x) S 1")); err == nil {
		t.Fatal("short stat accepted")
	}
}

func TestSystemdRestart(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "args")
	fake := filepath.Join(dir, "systemctl")
	os.WriteFile(fake, []byte("#!/bin/sh\nprintf '%s|' \"$@\" > "+out+"\n"), 0o755)
	r := &Rule{Action: "systemd_restart", Unit: "app-{target}.service", UserUnit: true, Systemctl: fake, Timeout: 5 * time.Second}
	j := job(r, true)
	j.Event.Target = "web"
	o := Do(context.Background(), j)
	if o.Result != event.ResultOK {
		t.Fatalf("%+v", o)
	}
	if b, _ := os.ReadFile(out); string(b) != "--user|restart|--|app-web.service|" {
		t.Errorf("args %q", b)
	}
	j.Event.Target = "; touch /tmp/pwned"
	os.Remove(out)
	if o := Do(context.Background(), j); o.Result != event.ResultSkipped {
		t.Errorf("hostile unit: %+v", o)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("systemctl ran with a hostile unit name")
	}
}
