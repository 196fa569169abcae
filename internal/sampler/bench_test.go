package sampler

// Benchmarks of the sampler's hot path on the real /proc and /sys of this
// machine (go test -run '^$' -bench . ./internal/sampler/). They say where a
// tick's time goes; the ratios against psutil that DESIGN §7 sets as bars
// are measured by bench/*.sh, against a baseline in the same run.
//
// The "cpu-ns/op" metric is this process's user+system CPU (getrusage) per
// op: it includes the exit watcher's goroutine, the scheduler and the GC,
// which ns/op (wall time) does not separate from waiting.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/ndjson"
)

// benchSleeper starts a `sleep` that lives until the benchmark ends.
func benchSleeper(b *testing.B) int {
	b.Helper()
	cmd := exec.Command("sleep", "3600")
	if err := cmd.Start(); err != nil {
		b.Skipf("cannot start sleep: %v", err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd.Process.Pid
}

// benchCPU reports the process's CPU time per op from getrusage, for the
// ops run between the returned function's creation and its call.
func benchCPU(b *testing.B) func() {
	b.Helper()
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op")
	}
}

func benchNew(b *testing.B, cfg Config) *Sampler {
	b.Helper()
	if cfg.Host == "" {
		cfg.Host = "bench"
	}
	if cfg.Disks == nil {
		cfg.Disks = []string{"/"} // sre-sample's default
	}
	cfg.Self = os.Getpid()
	cfg.Exclude = []int{cfg.Self} // as sre-sample runs: itself and its launchers left out
	s, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkTickOnePID is one tick of `sre-sample --pid P`: the process's
// stat, fd count and cgroup OOM counter, the host fields, one sample. Each
// op is one tick, back to back ("tight", interval 1µs), or at the 10ms
// cadence of bench/cpu_per_sample.sh ("10ms", where cpu-ns/op is the figure
// that matters and ns/op is the interval). "ndjson" encodes each sample as
// sre-sample's writer does; "discard" drops it.
func BenchmarkTickOnePID(b *testing.B) {
	for _, bc := range []struct {
		name     string
		interval time.Duration
		encode   bool
	}{
		{"tight/discard", time.Microsecond, false},
		{"tight/ndjson", time.Microsecond, true},
		{"10ms/ndjson", 10 * time.Millisecond, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			pid := benchSleeper(b)
			s := benchNew(b, Config{
				Targets:  []Target{{Label: "self", Kind: ByPID, PID: pid}},
				Interval: bc.interval,
				Count:    b.N,
			})
			w := ndjson.NewWriter(io.Discard)
			emit := func(smp *event.Sample) error {
				if !smp.Up {
					b.Fatalf("sample %d: target not up", smp.Seq)
				}
				if bc.encode {
					return w.Encode(smp)
				}
				return nil
			}
			b.ReportAllocs()
			b.ResetTimer()
			done := benchCPU(b)
			if err := s.Run(context.Background(), emit); err != nil {
				b.Fatal(err)
			}
			done()
		})
	}
}

// BenchmarkPassMatchAll is `sre-sample --match . --count 1` without the
// process start: list /proc, read every process, discover and watch each,
// sample each once.
func BenchmarkPassMatchAll(b *testing.B) {
	all := regexp.MustCompile(".")
	n := 0
	b.ReportAllocs()
	done := benchCPU(b)
	for b.Loop() {
		s := benchNew(b, Config{
			Targets:  []Target{{Label: ".", Kind: ByMatch, Match: all}},
			Interval: time.Second,
			Count:    1,
		})
		n = 0
		if err := s.Run(context.Background(), func(*event.Sample) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	done()
	b.ReportMetric(float64(n), "procs")
}

// BenchmarkScanProc is the listing part of a name/match tick: read every
// /proc/PID/stat.
func BenchmarkScanProc(b *testing.B) {
	s := benchNew(b, Config{Targets: []Target{{Label: ".", Kind: ByMatch, Match: regexp.MustCompile(".")}}, Interval: time.Second})
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		n = len(s.scan())
	}
	b.ReportMetric(float64(n), "procs")
}

// BenchmarkReadSystem is the host half of every sample, as the sampler
// reads it now.
func BenchmarkReadSystem(b *testing.B) {
	s := benchNew(b, Config{Targets: []Target{{Label: "x", Kind: ByPID, PID: 1}}, Interval: time.Second})
	b.ReportAllocs()
	for b.Loop() {
		if sys, _ := s.readSystem(time.Now(), false); sys.MemTotalBytes == nil {
			b.Fatal("no memory figures")
		}
	}
}

// BenchmarkHost splits readSystem into its reads, and sets each beside a
// direct read of the same file (one read, a parse of the few fields used),
// so the cost of going through gopsutil is measured, not guessed.
func BenchmarkHost(b *testing.B) {
	ctx := context.Background()
	buf := make([]byte, 0, 16<<10)
	for _, bc := range []struct {
		name string
		fn   func() error
	}{
		{"gopsutil/mem.VirtualMemory", func() error { _, err := mem.VirtualMemoryWithContext(ctx); return err }},
		{"direct/meminfo", func() error {
			var err error
			buf, err = benchReadInto("/proc/meminfo", buf)
			if err == nil {
				_ = benchMeminfo(buf)
			}
			return err
		}},
		{"gopsutil/load.Avg", func() error { _, err := load.AvgWithContext(ctx); return err }},
		{"direct/loadavg", func() error {
			var err error
			buf, err = benchReadInto("/proc/loadavg", buf)
			if err == nil {
				_, err = strconv.ParseFloat(string(bytes.Fields(buf)[0]), 64)
			}
			return err
		}},
		{"gopsutil/disk.Usage", func() error { _, err := disk.UsageWithContext(ctx, "/"); return err }},
		{"direct/statfs", func() error { var st unix.Statfs_t; return unix.Statfs("/", &st) }},
		{"now/psi", func() error {
			b, err := os.ReadFile("/proc/pressure/memory")
			if err == nil {
				_, err = parsePSI(b)
			}
			return err
		}},
		{"now/vmstat", func() error {
			b, err := os.ReadFile("/proc/vmstat")
			if err == nil {
				_, _, err = parseVmstat(b)
			}
			return err
		}},
		{"direct/vmstat-one-read", func() error {
			var err error
			buf, err = benchReadInto("/proc/vmstat", buf)
			if err == nil {
				_, _, err = parseVmstat(buf)
			}
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if err := bc.fn(); err != nil {
				b.Skipf("not readable here: %v", err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkProcess splits the per-process reads of a tick.
func BenchmarkProcess(b *testing.B) {
	pid := benchSleeper(b)
	s := benchNew(b, Config{Targets: []Target{{Label: "x", Kind: ByPID, PID: pid}}, Interval: time.Second})
	st, err := s.readStat(pid)
	if err != nil {
		b.Fatal(err)
	}
	p := s.discover(0, candidate{st: st}, true)
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	buf := make([]byte, 0, 4096)
	for _, bc := range []struct {
		name string
		fn   func() error
	}{
		{"stat", func() error { _, err := s.readStat(pid); return err }},
		{"stat-one-read", func() error {
			var err error
			buf, err = benchReadInto(filepath.Join(dir, "stat"), buf)
			if err == nil {
				_, err = parseStat(buf)
			}
			return err
		}},
		{"status", func() error {
			b, err := os.ReadFile(filepath.Join(dir, "status"))
			if err == nil {
				_, err = parseStatus(b)
			}
			return err
		}},
		{"cmdline", func() error {
			b, err := os.ReadFile(filepath.Join(dir, "cmdline"))
			_ = parseCmdline(b)
			return err
		}},
		{"exe", func() error { _, err := os.Readlink(filepath.Join(dir, "exe")); return err }},
		{"cgroup", func() error {
			b, err := os.ReadFile(filepath.Join(dir, "cgroup"))
			if err == nil {
				_, err = parseCgroup(b)
			}
			return err
		}},
		{"limits", func() error {
			b, err := os.ReadFile(filepath.Join(dir, "limits"))
			if err == nil {
				_, _, err = parseLimits(b)
			}
			return err
		}},
		{"pidfd_open", func() error {
			fd, err := unix.PidfdOpen(pid, 0)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}},
		{"discover", func() error {
			delete(s.watched, p.id)
			_ = s.discover(0, candidate{st: st}, true)
			return nil
		}},
		{"fds", func() error { _, err := countFDs(filepath.Join(dir, "fd")); return err }},
		{"cgroup-oom", func() error {
			var pr event.Process
			s.readOOM(p, &pr, map[string]string{}, time.Time{})
			return nil
		}},
		{"processFrom", func() error { _ = s.processFrom(p, st, time.Now()); return nil }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodeSample is the JSON of one full sample, as sre-sample
// writes it.
func BenchmarkEncodeSample(b *testing.B) {
	pid := benchSleeper(b)
	s := benchNew(b, Config{Targets: []Target{{Label: "self", Kind: ByPID, PID: pid}}, Interval: time.Microsecond, Count: 2})
	var last *event.Sample
	if err := s.Run(context.Background(), func(smp *event.Sample) error { last = smp; return nil }); err != nil {
		b.Fatal(err)
	}
	w := ndjson.NewWriter(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Encode(last); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseStat(b *testing.B) {
	line := []byte("4242 (tmux: server) S 1 4242 4242 0 -1 4194560 3406 1027 0 0 1554 1126 3 2 20 0 1 0 37412 " +
		"12398592 1034 18446744073709551615 94702461644800 94702462137805 140724311218160 0 0 0 0 4096 134433283 " +
		"0 0 0 17 1 0 0 0 0 0 94702462373136 94702462400016 94702493769728 140724311219999 140724311220010 " +
		"140724311220010 140724311220203 0\n")
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseStat(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseCgroup(b *testing.B) {
	for _, bc := range []struct{ name, text string }{
		{"v2-docker", "0::/system.slice/docker-" + benchHex + ".scope\n"},
		{"v1", "12:pids:/docker/" + benchHex + "\n11:memory:/docker/" + benchHex + "\n" +
			"10:cpu,cpuacct:/docker/" + benchHex + "\n1:name=systemd:/docker/" + benchHex + "\n0::/\n"},
		{"v2-kubepods", "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f2e3b4c_5d6e_4f70_8192_a3b4c5d6e7f8.slice/" +
			"cri-containerd-" + benchHex + ".scope\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := []byte(bc.text)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parseCgroup(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseVmstat(b *testing.B) {
	in, err := os.ReadFile("/proc/vmstat")
	if err != nil {
		b.Skip(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := parseVmstat(in); err != nil {
			b.Fatal(err)
		}
	}
}

const benchHex = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899"

// benchReadInto reads a whole /proc file into buf with one open and as few
// reads as its size allows, reusing buf: what a direct reader costs.
func benchReadInto(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return buf, err
	}
	defer unix.Close(fd)
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if n > 0 {
			buf = buf[:len(buf)+n]
		}
		if err != nil {
			return buf, err
		}
		if n == 0 {
			return buf, nil
		}
	}
}

// benchMeminfo picks the four /proc/meminfo fields a sample uses.
func benchMeminfo(b []byte) (f [4]uint64) {
	keys := [4]string{"MemTotal:", "MemAvailable:", "SwapTotal:", "SwapFree:"}
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		for k, key := range keys {
			if bytes.HasPrefix(line, []byte(key)) {
				fs := bytes.Fields(line[len(key):])
				if len(fs) > 0 {
					v, _ := strconv.ParseUint(string(fs[0]), 10, 64)
					f[k] = v * 1024
				}
			}
		}
	}
	return f
}

// countFDs counts, as the baseline of BenchmarkProcess/fds, /proc/PID/fd entries without sorting or stat-ing them.
func countFDs(dir string) (int, error) {
	f, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	for {
		names, err := f.Readdirnames(256)
		n += len(names)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
