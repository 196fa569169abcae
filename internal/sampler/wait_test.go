package sampler

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

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
