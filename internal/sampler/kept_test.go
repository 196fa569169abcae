package sampler

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v4/disk"
	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/ndjson"
	"github.com/localsre/sre-agent/internal/procfs"
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

func liveSampler(t *testing.T, pid int) *Sampler {
	t.Helper()
	s, err := New(Config{Interval: time.Second, Targets: []Target{{Label: "x", Kind: ByPID, PID: pid}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.closeFDs)
	return s
}

func watchPID(t *testing.T, s *Sampler, pid int) *proc {
	t.Helper()
	st, err := s.readStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	p := s.discover(0, candidate{st: st}, false)
	if p.stat.Kept() || p.fdDir.Kept() {
		t.Fatal("files kept open before a second sample")
	}
	s.keepFiles(p, filepath.Join("/proc", strconv.Itoa(pid)))
	if !p.stat.Kept() {
		t.Fatalf("stat of pid %d not kept open", pid)
	}
	return p
}

// The kept stat file is read afresh at every tick: a stopped process reads
// as stopped, and as running again after SIGCONT.
func TestKeptStatIsFresh(t *testing.T) {
	cmd := startSleep(t)
	pid := cmd.Process.Pid
	s := liveSampler(t, pid)
	p := watchPID(t, s, pid)
	waitState := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, err := s.files.ReadKept(&p.stat)
			if err != nil {
				t.Fatal(err)
			}
			st, err := parseStat(b)
			if err != nil {
				t.Fatal(err)
			}
			if st.State == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("state %q, want %q", st.State, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitState("S")
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitState("T")
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitState("S")
}

// Once the process is reaped its kept file fails, and statOf falls back to
// the path, which is gone too: the process is not reported up.
func TestKeptStatOfReapedProcess(t *testing.T) {
	cmd := startSleep(t)
	pid := cmd.Process.Pid
	s := liveSampler(t, pid)
	p := watchPID(t, s, pid)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if _, err := s.files.ReadKept(&p.stat); !errors.Is(err, unix.ESRCH) {
		t.Fatalf("kept stat of a reaped process: err = %v, want ESRCH", err)
	}
	if _, err := s.statOf(pid); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("statOf a reaped process: err = %v, want not exist", err)
	}
	s.forget(p)
	if p.stat.Kept() || p.fdDir.Kept() || s.byPID[pid] != nil {
		t.Fatal("forget left the process's files open or indexed")
	}
}

func kernelAtLeast(t *testing.T, major, minor int) bool {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	f := strings.FieldsFunc(unix.ByteSliceToString(u.Release[:]), func(r rune) bool { return r < '0' || r > '9' })
	if len(f) < 2 {
		t.Fatalf("kernel release %q", u.Release)
	}
	ma, _ := strconv.Atoi(f[0])
	mi, _ := strconv.Atoi(f[1])
	return ma > major || ma == major && mi >= minor
}

// The fd count read from the directory's size follows descriptors opened
// and closed, and equals a listing of the directory.
func TestFDCountFollowsOpenFiles(t *testing.T) {
	pid := os.Getpid()
	s := liveSampler(t, pid)
	p := watchPID(t, s, pid)
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	if kernelAtLeast(t, 6, 2) && !p.fdDir.Kept() {
		t.Fatal("Linux 6.2+ gives the fd count as the directory size, but the sampler lists the directory")
	}
	count := func() int {
		t.Helper()
		n, err := s.fdCount(p)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	var files []*os.File
	for range 5 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if got := count(); got != before+5 {
		t.Errorf("after opening 5 files: %d fds, want %d", got, before+5)
	}
	for _, f := range files {
		f.Close()
	}
	got := count()
	listed, err := s.files.CountEntries(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The listing of our own directory counts the descriptor it reads with.
	if got != before || got != listed-1 {
		t.Errorf("after closing them: %d fds, want %d (a listing says %d, itself included)", got, before, listed)
	}
}

// A process whose fd directory cannot be listed keeps "fds" out of its
// samples, even where the kernel would give the count as the size.
func TestFDCountNotKeptWhenUnlistable(t *testing.T) {
	s := liveSampler(t, 1)
	p := &proc{id: event.Identity{PID: 1}}
	s.keepFDCount(p, filepath.Join(t.TempDir(), "no-such-dir"))
	if p.fdDir.Kept() {
		t.Fatal("kept a directory that could not be listed")
	}
}

// In a run, a process's files are opened at its second sample and closed
// when the run ends; a single pass opens none.
func TestRunKeepsFilesFromSecondSample(t *testing.T) {
	cmd := startSleep(t)
	pid := cmd.Process.Pid
	for _, count := range []int{1, 3} {
		s, err := New(Config{Interval: 10 * time.Millisecond, Count: count, Targets: []Target{{Label: "x", Kind: ByPID, PID: pid}}})
		if err != nil {
			t.Fatal(err)
		}
		var kept []bool
		var last *proc
		err = s.Run(t.Context(), func(smp *event.Sample) error {
			for _, p := range s.watched {
				last = p
				kept = append(kept, p.stat.Kept() && p.fdDir.Kept() == kernelAtLeast(t, 6, 2))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []bool{false, true, true}[:count]
		if len(kept) != count || kept[0] != want[0] || kept[count-1] != want[count-1] {
			t.Errorf("--count %d: files kept at each sample %v, want %v", count, kept, want)
		}
		if last.stat.Kept() || last.fdDir.Kept() || last.oomFile.Kept() {
			t.Errorf("--count %d: files still open after the run", count)
		}
	}
}

// A process is watched for its exit unless the tick is the run's last.
func TestNoExitWatchOnLastTick(t *testing.T) {
	cmd := startSleep(t)
	for _, count := range []int{1, 2} {
		s, err := New(Config{Interval: 10 * time.Millisecond, Count: count, Targets: []Target{{Label: "x", Kind: ByPID, PID: cmd.Process.Pid}}})
		if err != nil {
			t.Fatal(err)
		}
		var watched []int
		err = s.Run(t.Context(), func(*event.Sample) error {
			if !s.pidfds {
				t.Skip("no pidfd here")
			}
			watched = append(watched, s.wait.Load().Watching())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := map[int][]int{1: {0}, 2: {1, 1}}[count]
		if len(watched) != len(want) || watched[0] != want[0] {
			t.Errorf("--count %d: pidfds watched at each sample %v, want %v", count, watched, want)
		}
	}
}

// diskUsage gives gopsutil's disk.Usage figures, on the first (runtime
// visible) statfs and on the raw ones that follow for a local filesystem.
func TestDiskUsageAsGopsutil(t *testing.T) {
	s := liveSampler(t, 1)
	for _, path := range []string{"/", t.TempDir()} {
		for call := range 3 {
			var ours, again event.Disk
			var theirs *disk.UsageStat
			for range 20 { // retry while the filesystem changes under the reads
				var err error
				if ours, err = s.diskUsage(path); err != nil {
					t.Fatal(err)
				}
				if theirs, err = disk.Usage(path); err != nil {
					t.Fatal(err)
				}
				if again, err = s.diskUsage(path); err != nil {
					t.Fatal(err)
				}
				if ours == again {
					break
				}
			}
			pct := float64(int64(theirs.UsedPercent*100+0.5)) / 100
			want := event.Disk{Path: path, TotalBytes: theirs.Total, UsedBytes: theirs.Used, FreeBytes: theirs.Free, UsedPct: pct}
			if ours != want {
				t.Errorf("%s, call %d: %+v, gopsutil %+v", path, call, ours, want)
			}
		}
		if !s.disks[path] {
			t.Logf("%s is not on a filesystem known to be local: statfs stays runtime-visible", path)
		}
	}
	if _, err := s.diskUsage(filepath.Join(t.TempDir(), "gone")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing path: err = %v, want not exist", err)
	}
}

// Kept files stay within the budget, and forgetting a process gives its
// places back; past the budget files are read by path, with the same result.
func TestKeptFilesBudget(t *testing.T) {
	cmd := startSleep(t)
	pid := cmd.Process.Pid
	s := liveSampler(t, pid)
	st, err := s.readStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	p := s.discover(0, candidate{st: st}, false)
	s.files = procfs.NewReader("/proc", "/sys", 1)
	s.keepFiles(p, filepath.Join("/proc", strconv.Itoa(pid)))
	if !p.stat.Kept() || p.fdDir.Kept() || p.oomFile.Kept() || s.files.Left() != 0 {
		t.Fatalf("budget 1: stat %v, fd dir %v, oom %v kept, %d left", p.stat.Kept(), p.fdDir.Kept(), p.oomFile.Kept(), s.files.Left())
	}
	if _, err := s.fdCount(p); err != nil {
		t.Fatalf("fd count past the budget: %v", err)
	}
	s.forget(p)
	if s.files.Left() != 1 {
		t.Fatalf("after forget: %d left, want 1", s.files.Left())
	}
}

// The cgroup OOM counters file is kept open and reads as it does by path.
func TestKeptOOMFile(t *testing.T) {
	cmd := startSleep(t)
	pid := cmd.Process.Pid
	s := liveSampler(t, pid)
	p := watchPID(t, s, pid)
	if p.memPath == "" {
		t.Skip("no readable memory cgroup here")
	}
	if _, err := os.Stat(p.oomPath()); err != nil {
		t.Skipf("cgroup OOM counters not readable: %v", err)
	}
	if !p.oomFile.Kept() {
		t.Fatalf("%s not kept open", p.oomPath())
	}
	for range 2 {
		kept, err := s.readOOMFile(p)
		if err != nil {
			t.Fatal(err)
		}
		k := string(kept)
		byPath, err := s.files.Read(p.oomPath())
		if err != nil {
			t.Fatal(err)
		}
		if k != string(byPath) || !strings.Contains(k, "oom_kill") {
			t.Fatalf("kept file reads %q, by path %q", k, byPath)
		}
	}
}

// With a fixture tree as either root, nothing is kept open: tests rewrite
// fixture files while the sampler runs.
func TestNothingKeptOnFixtureRoots(t *testing.T) {
	s, err := New(Config{Interval: time.Second, SysRoot: t.TempDir(), Targets: []Target{{Label: "x", Kind: ByPID, PID: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if k := s.files.Keep("/proc/self/stat", true); k.Kept() {
		s.files.Unkeep(&k)
		t.Fatal("kept a file open with a fixture sys root")
	}
}

// Once a process is known, a tick allocates nothing, slow host reads
// included (see Emit): at a 1 s interval, fresh memory is cold memory.
func TestSteadyTickAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's bookkeeping allocates")
	}
	pid := startSleep(t).Process.Pid
	s := liveSampler(t, pid)
	now := time.Now()
	s.cfg.Now = func() time.Time { now = now.Add(time.Second); return now }
	if err := s.initBoot(); err != nil {
		t.Fatal(err)
	}
	w := ndjson.NewWriter(io.Discard)
	emit := func(smp *event.Sample) error {
		if !smp.Up || smp.Process.FDs == nil || smp.System.MemAvailableBytes == nil {
			t.Fatalf("sample %d: not a full up sample", smp.Seq)
		}
		return w.Encode(smp)
	}
	for range 3 { // discovery, then the kept files
		if err := s.tick(emit); err != nil {
			t.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if err := s.tick(emit); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if n := after.Mallocs - before.Mallocs; n > 0 {
		t.Errorf("10 ticks, 5 of them reading the slow host files: %d allocations, want 0", n)
	}
}
