package sampler

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/event"
)

func TestBootFromClocks(t *testing.T) {
	ts := func(sec, nsec int64) unix.Timespec { return unix.NsecToTimespec(sec*1e9 + nsec) }
	tests := []struct {
		name      string
		r1, b, r2 unix.Timespec
		want      time.Time
		width     time.Duration
	}{
		{name: "one instant", r1: ts(1767225700, 250_000_000), b: ts(100, 0), r2: ts(1767225700, 250_000_000),
			want: time.Unix(1767225600, 250_000_000), width: 0},
		{name: "midpoint of the bracket", r1: ts(1767225700, 0), b: ts(99, 999_999_000), r2: ts(1767225700, 2_000),
			want: time.Unix(1767225600, 2_000), width: 2 * time.Microsecond},
		{name: "boot clock with nanoseconds", r1: ts(2000, 123_456_789), b: ts(1000, 23_456_789), r2: ts(2000, 123_456_789),
			want: time.Unix(1000, 100_000_000), width: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, width := bootFromClocks(tt.r1, tt.b, tt.r2)
			if !got.Equal(tt.want) || width != tt.width {
				t.Errorf("bootFromClocks = %v, %v; want %v, %v", got, width, tt.want, tt.width)
			}
		})
	}
}

func TestNextBoot(t *testing.T) {
	cur := time.Unix(1767225600, 123_456_789)
	tests := []struct {
		name       string
		cur, fresh time.Time
		want       time.Time
	}{
		{name: "first reading", fresh: cur, want: cur},
		{name: "same", cur: cur, fresh: cur, want: cur},
		{name: "jitter of the reads is ignored", cur: cur, fresh: cur.Add(3 * time.Microsecond), want: cur},
		{name: "jitter back", cur: cur, fresh: cur.Add(-time.Millisecond), want: cur},
		{name: "clock stepped forward", cur: cur, fresh: cur.Add(2 * time.Second), want: cur.Add(2 * time.Second)},
		{name: "clock stepped back", cur: cur, fresh: cur.Add(-1500 * time.Microsecond), want: cur.Add(-1500 * time.Microsecond)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextBoot(tt.cur, tt.fresh); !got.Equal(tt.want) {
				t.Errorf("nextBoot = %v, want %v", got, tt.want)
			}
		})
	}
}

// The clocks' boot time is the kernel's own: /proc/stat's btime is the same
// offset truncated to whole seconds.
func TestClockBootAgreesWithBtime(t *testing.T) {
	b, err := clockBoot()
	if err != nil {
		t.Fatal(err)
	}
	bt, err := readBootTime("/proc")
	if err != nil {
		t.Fatal(err)
	}
	lo := time.Unix(int64(bt), 0)
	// A millisecond of slack either side: the clocks are read at another
	// moment than the kernel computed btime, and NTP may slew in between.
	if b.Before(lo.Add(-time.Millisecond)) || b.After(lo.Add(time.Second+time.Millisecond)) {
		t.Errorf("boot from the clocks %s, btime %s: not within the second btime truncates", b.Format(time.RFC3339Nano), lo.Format(time.RFC3339))
	}
	again, err := clockBoot()
	if err != nil {
		t.Fatal(err)
	}
	if d := again.Sub(b); d > bootStep || d < -bootStep {
		t.Errorf("two readings %v apart: the jitter of the reads exceeds bootStep", d)
	}
}

// docs/schema.md: process.start is at most one clock tick (10 ms) before
// the real start, never after it. Measured on a real process: its start
// lies between the moment before it was forked and the moment after.
func TestProcessStartPrecision(t *testing.T) {
	for i := range 5 {
		before := time.Now()
		cmd := exec.Command("sleep", "600")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		after := time.Now()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		s, err := New(Config{Interval: time.Hour, Count: 1, Self: os.Getpid(),
			Targets: []Target{{Label: "x", Kind: ByPID, PID: cmd.Process.Pid}}})
		if err != nil {
			t.Fatal(err)
		}
		var start time.Time
		err = s.Run(context.Background(), func(smp *event.Sample) error {
			if smp.Process != nil {
				start = smp.Process.Start.Time
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		const tick = time.Second / clockTicks
		// 1 ms of slack for the boot time's own error and NTP's slewing
		// between the reads.
		lo, hi := before.Add(-tick-time.Millisecond), after.Add(time.Millisecond)
		if start.Before(lo) || start.After(hi) {
			t.Fatalf("run %d: process.start %s, forked between %s and %s: want within [before-10ms, after]",
				i, start.Format(time.RFC3339Nano), before.Format(time.RFC3339Nano), after.Format(time.RFC3339Nano))
		}
		t.Logf("run %d: start %v after the fork began (fork took %v)", i, start.Sub(before), after.Sub(before))
	}
}

// The clocks give the boot time on a procfs, wherever it is mounted; a
// fixture tree keeps its own btime.
func TestBootSource(t *testing.T) {
	if !isProcfs("/proc") {
		t.Fatal("/proc is not a procfs here")
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/stat", []byte("cpu  1 2 3 4\nbtime 1767225600\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		root string
		live bool
	}{{"/proc", true}, {dir, false}} {
		s, err := New(Config{ProcRoot: tt.root, Interval: time.Second, Targets: []Target{{Label: "x", Kind: ByPID, PID: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.initBoot(); err != nil {
			t.Fatal(err)
		}
		if s.bootLive != tt.live {
			t.Errorf("%s: boot from the clocks %v, want %v", tt.root, s.bootLive, tt.live)
		}
		if !tt.live && !s.boot.Equal(time.Unix(1767225600, 0)) {
			t.Errorf("%s: boot %v, want the tree's btime", tt.root, s.boot)
		}
	}
}

// The boot time is read again when the wall clock stepped, not at every
// tick. A step is shown here by moving the wall reading kept from the last
// read (as a settimeofday would move the wall clock against the monotonic).
func TestRefreshBootOnStep(t *testing.T) {
	real, err := clockBoot()
	if err != nil {
		t.Fatal(err)
	}
	wrong := real.Add(-3 * time.Second)
	read := time.Now()
	s := &Sampler{bootLive: true, boot: wrong, bootRead: read, bootWall: read.Round(0)}
	s.refreshBoot(read.Add(time.Second))
	if !s.boot.Equal(wrong) {
		t.Fatalf("boot read again without a step: %v", s.boot)
	}
	s.bootWall = read.Round(0).Add(-2 * time.Second) // the wall clock stepped 2 s forward
	s.refreshBoot(time.Now())
	if d := s.boot.Sub(real); d > bootStep || d < -bootStep {
		t.Fatalf("after a step, boot %v, want the clocks' %v", s.boot, real)
	}
	if step := time.Now().Round(0).Sub(s.bootWall) - time.Since(s.bootRead); step > bootStep || step < -bootStep {
		t.Fatalf("the step is still seen after the boot time was read again: %v", step)
	}
}

// BenchmarkRefreshBoot is what each tick pays to follow wall-clock steps
// (a tick of one PID costs ~30 µs of CPU: BenchmarkTickOnePID); /clocks
// is reading the clocks outright, which only a step costs.
func BenchmarkRefreshBoot(b *testing.B) {
	b.Run("check", func(b *testing.B) {
		read := time.Now()
		s := &Sampler{bootLive: true, bootRead: read, bootWall: read.Round(0)}
		b.ReportAllocs()
		for b.Loop() {
			s.refreshBoot(time.Now())
		}
	})
	b.Run("clocks", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := clockBoot(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
