package sampler

import (
	"bufio"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/event"
)

// exitingChild is a process with 64 MiB touched and four threads that
// sleep. SIGTERM ends it (no handler).
const exitingChild = `import threading, time
buf = bytearray(64 << 20)
for i in range(0, len(buf), 4096):
    buf[i] = 1
for _ in range(4):
    threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
print("ready", flush=True)
time.sleep(600)
`

// A real process caught in its teardown reads as exiting, with its memory
// still whole: the test traces it with PTRACE_O_TRACEEXIT, so the kernel
// holds its main thread at the exit event (PF_SIGNALED set, PF_EXITING
// not yet, its mm intact) while its other threads end. That is the moment
// a sample taken between SIGKILL and the exit can land in, made to last.
func TestSampleOfExitingProcess(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3: %v", err)
		}
		t.Skipf("python3: %v", err)
	}
	// ptrace requests must come from the thread that attached.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := exec.Command(python, "-c", exitingChild)
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	// On this thread, while it is still the tracer: SIGKILL does not
	// release a tracee held at its exit event, PTRACE_CONT does.
	defer func() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_ = syscall.PtraceCont(pid, 0)
		var ws syscall.WaitStatus
		for {
			if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil || ws.Exited() || ws.Signaled() {
				return
			}
			_ = syscall.PtraceCont(pid, 0)
		}
	}()
	// The child stops at exec (PTRACE_TRACEME), then at every signal and
	// every further exec (python3 may be a shim that execs the real one).
	stop := func(flags int) (syscall.WaitStatus, bool) {
		t.Helper()
		var ws syscall.WaitStatus
		wpid, err := syscall.Wait4(pid, &ws, flags, nil)
		if err != nil {
			t.Fatal(err)
		}
		if wpid == 0 {
			return ws, false
		}
		if !ws.Stopped() {
			t.Fatalf("child not stopped: status %#x", ws)
		}
		return ws, true
	}
	stop(0)
	if err := syscall.PtraceSetOptions(pid, syscall.PTRACE_O_TRACEEXIT|unix.PTRACE_O_EXITKILL); err != nil {
		t.Fatal(err)
	}
	if err := syscall.PtraceCont(pid, 0); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- line
	}()
	deadline := time.Now().Add(60 * time.Second)
	for waiting := true; waiting; {
		select {
		case line := <-ready:
			if line != "ready\n" {
				t.Fatalf("child said %q", line)
			}
			waiting = false
			continue
		default:
		}
		if ws, ok := stop(syscall.WNOHANG); ok {
			sig := ws.StopSignal()
			if sig == syscall.SIGTRAP { // an exec
				sig = 0
			}
			if err := syscall.PtraceCont(pid, int(sig)); err != nil {
				t.Fatal(err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("child not ready after 60 s")
		}
		time.Sleep(time.Millisecond)
	}
	s := liveSampler(t, pid)
	live, _ := sampleOf(t, s)
	if live.Exiting || live.Threads != 5 {
		t.Fatalf("live reading: exiting %v, threads %d; want not exiting, 5 threads", live.Exiting, live.Threads)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for {
		ws, _ := stop(0)
		if ws.StopSignal() == syscall.SIGTRAP && ws.TrapCause() == syscall.PTRACE_EVENT_EXIT {
			break
		}
		if err := syscall.PtraceCont(pid, int(ws.StopSignal())); err != nil { // deliver it
			t.Fatal(err)
		}
	}
	// Held at its exit: the other threads end meanwhile.
	deadline = time.Now().Add(30 * time.Second)
	for {
		st, err := s.readStat(pid)
		if err != nil {
			t.Fatal(err)
		}
		if st.Threads == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("threads %d 30 s after the exit began, want 1", st.Threads)
		}
		time.Sleep(5 * time.Millisecond)
	}
	torn, line2 := sampleOf(t, s)
	if !torn.Exiting || torn.Threads != 1 || torn.VMSBytes == 0 || torn.RSSBytes < 64<<20 {
		t.Errorf("reading at the exit: exiting %v, threads %d, vms %d, rss %d; want exiting, 1 thread, its memory whole",
			torn.Exiting, torn.Threads, torn.VMSBytes, torn.RSSBytes)
	}
	if !strings.Contains(line2, `"state":"t","exiting":true,`) {
		t.Errorf("sample line %s: want it to say exiting", line2)
	}
}

// sampleOf takes one sample of the sampler's only target, which must be
// up, and returns its process and line.
func sampleOf(t *testing.T, s *Sampler) (*event.Process, string) {
	t.Helper()
	var got *event.Process
	var line []byte
	err := s.tick(func(smp *event.Sample) error {
		if smp.Up && smp.Process != nil {
			p := *smp.Process
			got = &p
			var err error
			line, err = smp.AppendJSON(nil)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatal("no up sample")
	}
	return got, string(line)
}
