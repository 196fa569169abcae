package sampler

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/event"
)

func newTestWaitSet(t *testing.T) *waitSet {
	t.Helper()
	w, err := newWaitSet()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.close)
	return w
}

// waitFor waits until want says the wake-ups so far are enough, or fails.
func waitFor(t *testing.T, w *waitSet, what string, want func(wakeup) bool) wakeup {
	t.Helper()
	type result struct {
		wu  wakeup
		err error
	}
	deadline := time.After(10 * time.Second)
	for {
		c := make(chan result, 1)
		go func() {
			wu, err := w.wait()
			wu.dead = append([]event.Identity(nil), wu.dead...)
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
			w.setTimer(tokTick, 5*time.Millisecond)
			makeTimerfd = newTimerfd
			if w.timers[tokTick].fd >= 0 {
				t.Fatal("a timerfd despite the refusal")
			}
		} else {
			w.setTimer(tokTick, 5*time.Millisecond)
			if w.timers[tokTick].fd < 0 {
				t.Skip("timerfd refused here")
			}
		}
		for i := range 3 {
			wu := waitFor(t, w, "tick", func(wu wakeup) bool { return wu.tick })
			if wu.poll {
				t.Errorf("fallback %v, tick %d: the poll timer fired, never set", fallback, i)
			}
		}
		w.close()
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
	w.setTimer(tokTick, period)
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
		wu, err := w.wait()
		if err != nil {
			t.Fatal(err)
		}
		if !wu.tick {
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
		wg.Go(w.wake)
	}
	wg.Wait()
	wu, err := w.wait()
	if err != nil || !wu.woken || wu.tick || len(wu.dead) > 0 {
		t.Fatalf("after wake: %+v, %v", wu, err)
	}
	// The four wakes were one wake-up, not four.
	go func() { time.Sleep(20 * time.Millisecond); w.wake() }()
	start := time.Now()
	if wu, err := w.wait(); err != nil || !wu.woken {
		t.Fatalf("second wait: %+v, %v", wu, err)
	}
	if time.Since(start) < 10*time.Millisecond {
		t.Error("a second wait returned before the second wake")
	}
	w.close()
	w.wake() // no write to a closed (or reused) descriptor, no panic
}

// A watched process's death ends the wait with its identity; an unwatched
// one's does not, and a PID already reaped is reported gone.
func TestWaitSetWatch(t *testing.T) {
	if probePidfd() != nil {
		t.Skip("no pidfd here")
	}
	w := newTestWaitSet(t)
	a, b := startSleep(t), startSleep(t)
	idA := event.Identity{PID: a.Process.Pid, StartTicks: 1}
	idB := event.Identity{PID: b.Process.Pid, StartTicks: 2}
	for _, id := range []event.Identity{idA, idB} {
		if gone, err := w.watch(id); err != nil || gone {
			t.Fatalf("watch %v: gone %v, %v", id, gone, err)
		}
	}
	w.unwatch(idB)
	_ = b.Process.Kill()
	_ = a.Process.Kill()
	var dead []event.Identity
	waitFor(t, w, "death", func(wu wakeup) bool { dead = append(dead, wu.dead...); return len(dead) > 0 })
	if len(dead) != 1 || dead[0] != idA {
		t.Fatalf("dead %v, want only %v", dead, idA)
	}
	if len(w.byTok) != 0 {
		t.Errorf("%d pidfds still watched after the death was reported", len(w.byTok))
	}
	_ = a.Wait()
	if gone, err := w.watch(idA); err != nil || !gone {
		t.Errorf("watch of a reaped PID: gone %v, %v", gone, err)
	}
}

// Without pidfds (--no-pidfd, or a kernel that refuses them) a death is
// seen by the exit poll, long before the next tick.
func TestExitPollWithoutPidfd(t *testing.T) {
	cmd := startSleep(t)
	s, err := New(Config{
		Interval: time.Minute, NoPidfd: true, ExitPoll: 20 * time.Millisecond,
		Targets: []Target{{Label: "x", Kind: ByPID, PID: cmd.Process.Pid}},
	})
	if err != nil {
		t.Fatal(err)
	}
	samples := make(chan event.Sample, 8)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, func(smp *event.Sample) error {
			c := *smp // the fields read below are values
			if smp.Exit != nil {
				ex := *smp.Exit
				c.Exit = &ex
			}
			samples <- c
			return nil
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	if smp := <-samples; !smp.Up {
		t.Fatalf("first sample: up %v", smp.Up)
	}
	if s.pidfds {
		t.Fatal("pidfds in use despite NoPidfd")
	}
	killed := time.Now()
	_ = cmd.Process.Kill()
	select {
	case smp := <-samples:
		if smp.Up || smp.Exit == nil {
			t.Fatalf("after the kill: up %v, exit %+v; want the exit sample", smp.Up, smp.Exit)
		}
		if n := smp.Exit.Noticed; n != event.NoticedZombie && n != event.NoticedGone {
			t.Errorf("noticed %q, want %q or %q", n, event.NoticedZombie, event.NoticedGone)
		}
		if smp.Exit.SignalNum != int(syscall.SIGKILL) {
			t.Errorf("signal %d, want SIGKILL's", smp.Exit.SignalNum)
		}
	case <-time.After(30 * time.Second): // half the tick: the poll saw it, not the tick
		t.Fatalf("no exit sample %v after the kill (tick 1m, exit poll 20ms)", time.Since(killed))
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
