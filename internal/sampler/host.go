package sampler

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// bootStep is how far the wall clock must move against the monotonic clock
// to be taken as a step, and a fresh reading of the boot time from the one
// in use to replace it. CLOCK_REALTIME − CLOCK_BOOTTIME is otherwise
// constant: NTP's slewing speeds or slows both clocks alike, and suspend
// advances both. But the two clocks cannot be read at one instant, so
// fresh readings differ by the time between the reads (well under a
// microsecond, more if the thread is preempted between them); a step moves
// them by far more than a millisecond, far less than the 10 ms of a clock
// tick is lost by waiting for one this large.
const bootStep = time.Millisecond

// clockBoot is the wall-clock time of boot to the nanosecond:
// CLOCK_REALTIME − CLOCK_BOOTTIME, the same offset the kernel keeps (and
// truncates to whole seconds in /proc/stat's btime). Each try reads the
// wall clock on either side of the boot clock and takes the midpoint; the
// try with the narrowest bracket wins, so a preemption between two reads
// does not make the answer.
func clockBoot() (time.Time, error) {
	var best time.Time
	bestWidth := time.Duration(-1)
	for range 3 {
		var r1, b, r2 unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_REALTIME, &r1); err != nil {
			return time.Time{}, fmt.Errorf("clock_gettime(CLOCK_REALTIME): %w", err)
		}
		if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &b); err != nil {
			return time.Time{}, fmt.Errorf("clock_gettime(CLOCK_BOOTTIME): %w", err)
		}
		if err := unix.ClockGettime(unix.CLOCK_REALTIME, &r2); err != nil {
			return time.Time{}, fmt.Errorf("clock_gettime(CLOCK_REALTIME): %w", err)
		}
		boot, width := bootFromClocks(r1, b, r2)
		width = max(width, -width) // the wall clock stepped back between the reads
		if bestWidth < 0 || width < bestWidth {
			best, bestWidth = boot, width
		}
	}
	return best, nil
}

// bootFromClocks is the boot time from a boot-clock reading b taken
// between the wall-clock readings r1 and r2, and the width of that bracket
// (the most the answer can be off by, stepped clocks aside).
func bootFromClocks(r1, b, r2 unix.Timespec) (time.Time, time.Duration) {
	t1, t2 := time.Unix(r1.Unix()), time.Unix(r2.Unix())
	width := t2.Sub(t1)
	mid := t1.Add(width / 2)
	return mid.Add(-time.Duration(b.Nano())), width
}

// nextBoot is the boot time to use after a fresh reading: the one in use
// unless the fresh one moved by more than bootStep (see there).
func nextBoot(cur, fresh time.Time) time.Time {
	if d := fresh.Sub(cur); d > bootStep || d < -bootStep || cur.IsZero() {
		return fresh
	}
	return cur
}

// isProcfs reports whether dir is a mounted procfs, whose processes run on
// this kernel and so count their starts from this kernel's clocks.
func isProcfs(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
}

// readBootTime reads the boot time (seconds since the epoch) from the btime
// line of /proc/stat: the boot time of a fixture tree given as --proc-root,
// whose process start times are offsets from it.
func readBootTime(procRoot string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, "stat"))
	if err != nil {
		return 0, err
	}
	return parseBtime(b)
}

func parseBtime(b []byte) (uint64, error) {
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%w: stat: btime %q", ErrParse, v)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("%w: stat: no btime line", ErrParse)
}
