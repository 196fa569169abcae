package waitset

import (
	"encoding/binary"
	"errors"
	"math"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/event"
)

func startSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func newTestWaitSet(t *testing.T) *Set {
	t.Helper()
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// waitFor waits until want says the wake-ups so far are enough, or fails.
func waitFor(t *testing.T, w *Set, what string, want func(Wakeup) bool) Wakeup {
	t.Helper()
	type result struct {
		wu  Wakeup
		err error
	}
	deadline := time.After(10 * time.Second)
	for {
		c := make(chan result, 1)
		go func() {
			wu, err := w.Wait()
			wu.Dead = append([]event.Identity(nil), wu.Dead...)
			c <- result{wu, err}
		}()
		select {
		case r := <-c:
			if r.err != nil {
				t.Fatal(r.err)
			}
			if want(r.wu) {
				return r.wu
			}
		case <-deadline:
			t.Fatalf("no %s within 10s", what)
		}
	}
}

// Both kinds of timer tick, each reported as itself: the timerfd and the
// fallback for where timerfd_create is refused.
func TestWaitSetTimers(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		w := newTestWaitSet(t)
		if fallback {
			// A kernel refusing timerfd_create (a seccomp filter) cannot be
			// had here: the refusal is simulated at that one call.
			makeTimerfd = func(time.Duration) (int, error) { return -1, errors.New("refused") }
			w.SetTimer(Tick, 5*time.Millisecond)
			makeTimerfd = newTimerfd
			if w.timers[tokTick].fd >= 0 {
				t.Fatal("a timerfd despite the refusal")
			}
		} else {
			w.SetTimer(Tick, 5*time.Millisecond)
			if w.timers[tokTick].fd < 0 {
				t.Skip("timerfd refused here")
			}
		}
		for i := range 3 {
			wu := waitFor(t, w, "tick", func(wu Wakeup) bool { return wu.Tick })
			if wu.Poll {
				t.Errorf("fallback %v, tick %d: the poll timer fired, never set", fallback, i)
			}
		}
		w.Close()
	}
}

// A slow sampler gets one tick, not a backlog of the ticks it missed, as
// with time.Ticker. A second timerfd of the same period, the test's own,
// counts the kernel's expirations: it first sees the tick timer expire 10
// times unread (the sampler busy), then counts the expirations during five
// waits. The first wait finds the tick due; each later one must wait for a
// new expiration, so at least 3 pass, where a queued backlog would answer
// all five at once.
func TestWaitSetDropsMissedTicks(t *testing.T) {
	const period = 10 * time.Millisecond
	w := newTestWaitSet(t)
	w.SetTimer(Tick, period)
	if w.timers[tokTick].fd < 0 {
		t.Skip("timerfd refused here")
	}
	shadow, err := newTimerfd(period)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(shadow)
	if err := unix.SetNonblock(shadow, false); err != nil {
		t.Fatal(err)
	}
	for missed := uint64(0); missed < 10; {
		missed += expirations(t, shadow) // blocks until the shadow expires
	}
	for i := range 5 {
		wu, err := w.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if !wu.Tick {
			t.Fatalf("wait %d: %+v, no tick", i, wu)
		}
	}
	if err := unix.SetNonblock(shadow, true); err != nil {
		t.Fatal(err)
	}
	if n := expirations(t, shadow); n < 3 {
		t.Fatalf("5 ticks after 10 missed came within %d expirations of the timer: missed ticks queued up", n)
	}
}

// expirations reads a timerfd: how often it expired since the last read
// (0 when it has not and fd does not block).
func expirations(t *testing.T, fd int) uint64 {
	t.Helper()
	var b [8]byte
	_, err := unix.Read(fd, b[:])
	if err == unix.EAGAIN {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return binary.NativeEndian.Uint64(b[:])
}

// wake from other goroutines ends a wait, and is safe after close.
func TestWaitSetWake(t *testing.T) {
	w := newTestWaitSet(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(w.Wake)
	}
	wg.Wait()
	wu, err := w.Wait()
	if err != nil || !wu.Woken || wu.Tick || len(wu.Dead) > 0 {
		t.Fatalf("after wake: %+v, %v", wu, err)
	}
	// The four wakes were one wake-up, not four.
	go func() { time.Sleep(20 * time.Millisecond); w.Wake() }()
	start := time.Now()
	if wu, err := w.Wait(); err != nil || !wu.Woken {
		t.Fatalf("second wait: %+v, %v", wu, err)
	}
	if time.Since(start) < 10*time.Millisecond {
		t.Error("a second wait returned before the second wake")
	}
	w.Close()
	w.Wake() // no write to a closed (or reused) descriptor, no panic
}

// A watched process's death ends the wait with its identity; an unwatched
// one's does not, and a PID already reaped is reported gone.
func TestWaitSetWatch(t *testing.T) {
	if ProbePidfd() != nil {
		t.Skip("no pidfd here")
	}
	w := newTestWaitSet(t)
	a, b := startSleep(t), startSleep(t)
	idA := event.Identity{PID: a.Process.Pid, StartTicks: 1}
	idB := event.Identity{PID: b.Process.Pid, StartTicks: 2}
	for _, id := range []event.Identity{idA, idB} {
		if gone, err := w.Watch(id); err != nil || gone {
			t.Fatalf("watch %v: gone %v, %v", id, gone, err)
		}
	}
	w.Unwatch(idB)
	_ = b.Process.Kill()
	_ = a.Process.Kill()
	var dead []event.Identity
	waitFor(t, w, "death", func(wu Wakeup) bool { dead = append(dead, wu.Dead...); return len(dead) > 0 })
	if len(dead) != 1 || dead[0] != idA {
		t.Fatalf("dead %v, want only %v", dead, idA)
	}
	if len(w.byTok) != 0 {
		t.Errorf("%d pidfds still watched after the death was reported", len(w.byTok))
	}
	_ = a.Wait()
	if gone, err := w.Watch(idA); err != nil || !gone {
		t.Errorf("watch of a reaped PID: gone %v, %v", gone, err)
	}
}

// Tokens wrap around past the largest int32 to the first pidfd token,
// skipping those still in use, and never become a timer's or the eventfd's.
func TestWaitSetTokensWrap(t *testing.T) {
	w := newTestWaitSet(t)
	w.byTok[tokFirstPID] = watchEntry{fd: -1} // still watched
	w.next = math.MaxInt32 - 1
	var got []int32
	for range 3 {
		got = append(got, w.token())
	}
	want := []int32{math.MaxInt32 - 1, math.MaxInt32, tokFirstPID + 1}
	if !slices.Equal(got, want) {
		t.Errorf("tokens %v, want %v", got, want)
	}
	delete(w.byTok, tokFirstPID)
}
