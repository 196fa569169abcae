package sampler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/event/eventtest"
)

const (
	btime   = 1767225600 // 2026-01-01T00:00:00Z
	fixPID  = 4242
	fixName = "myapp"
)

var (
	bootAt = time.Unix(btime, 0)
	t0     = time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	// equateTime compares record timestamps by instant.
	equateTime = cmp.Comparer(func(a, b event.Time) bool { return a.Equal(b.Time) })
)

// fixture is a fake /proc and /sys under a test's temporary directory.
type fixture struct {
	t         *testing.T
	proc, sys string
}

// fproc is one process of a fixture.
type fproc struct {
	Stat
	Args   []string
	Exe    string // target of the exe link; "" for none
	UID    int
	Cgroup string // contents of the cgroup file
	FDs    int    // entries in fd/
	Limit  string // soft open-files limit
}

// sampleProc is the process most tests watch: a Docker container's main
// process on cgroup v2.
func sampleProc() fproc {
	return fproc{
		Stat: Stat{
			PID: fixPID, Comm: fixName, State: "S", PPID: 1, UTime: 150, STime: 50,
			Threads: 7, StartTicks: 123456, VSize: 104857600, RSSPages: 2560, HasExitCode: true,
		},
		Args:   []string{"/usr/local/bin/myapp", "--port", "8080"},
		Exe:    "/usr/local/bin/myapp",
		UID:    0,
		Cgroup: "0::/system.slice/docker-" + hexID + ".scope\n",
		FDs:    3,
		Limit:  "1024",
	}
}

const dockerScope = "/system.slice/docker-" + hexID + ".scope"

// newFixture writes the host files the sampler and gopsutil read: stat
// (btime), meminfo, loadavg, vmstat, pressure/memory, and the v2
// memory files of the Docker scope of sampleProc.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{t: t, proc: filepath.Join(dir, "proc"), sys: filepath.Join(dir, "sys")}
	f.write("proc/stat", "cpu  1000 0 500 90000 100 0 10 0 0 0\ncpu0 1000 0 500 90000 100 0 10 0 0 0\n"+
		"intr 12345 0 0\nctxt 67890\nbtime "+strconv.Itoa(btime)+"\nprocesses 5000\nprocs_running 2\nprocs_blocked 0\n")
	f.write("proc/meminfo", "MemTotal:        8000000 kB\nMemFree:         1000000 kB\nMemAvailable:    6000000 kB\n"+
		"Buffers:           10000 kB\nCached:           500000 kB\nSwapCached:            0 kB\n"+
		"Active:          2000000 kB\nInactive:        1000000 kB\nSwapTotal:       2000000 kB\nSwapFree:        1500000 kB\n")
	f.write("proc/loadavg", "0.50 0.40 0.30 2/345 6789\n")
	f.write("proc/vmstat", "nr_free_pages 250000\nnr_zone_inactive_anon 100\npgfault 123456\noom_kill 7\nnuma_hit 9\n")
	f.write("proc/pressure/memory", "some avg10=1.25 avg60=0.50 avg300=0.10 total=12345\nfull avg10=0.75 avg60=0.20 avg300=0.05 total=6789\n")
	f.write("sys/fs/cgroup"+dockerScope+"/memory.events", "low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\noom_group_kill 0\n")
	f.write("sys/fs/cgroup"+dockerScope+"/memory.max", "536870912\n")
	return f
}

func (f *fixture) write(rel, content string) {
	f.t.Helper()
	path := filepath.Join(filepath.Dir(f.proc), rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) remove(rel string) {
	f.t.Helper()
	if err := os.RemoveAll(filepath.Join(filepath.Dir(f.proc), rel)); err != nil {
		f.t.Fatal(err)
	}
}

func pidDir(pid int) string { return "proc/" + strconv.Itoa(pid) }

// add writes a process directory: stat, status, cmdline, cgroup, limits,
// fd/ and exe.
func (f *fixture) add(p fproc) {
	f.t.Helper()
	d := pidDir(p.PID)
	f.writeStat(p.Stat)
	f.write(d+"/status", fmt.Sprintf("Name:\t%s\nUmask:\t0022\nState:\t%s (sleeping)\nTgid:\t%d\nPid:\t%d\nPPid:\t%d\n"+
		"Uid:\t%d\t%d\t%d\t%d\nGid:\t0\t0\t0\t0\nThreads:\t%d\n",
		p.Comm, p.State, p.PID, p.PID, p.PPID, p.UID, p.UID, p.UID, p.UID, p.Threads))
	var cmdline string
	for _, a := range p.Args {
		cmdline += a + "\x00"
	}
	f.write(d+"/cmdline", cmdline)
	f.write(d+"/cgroup", p.Cgroup)
	f.write(d+"/limits", limitsFile(p.Limit, "1048576"))
	fd := filepath.Join(filepath.Dir(f.proc), d, "fd")
	if err := os.MkdirAll(fd, 0o755); err != nil {
		f.t.Fatal(err)
	}
	for i := range p.FDs {
		if err := os.Symlink("/dev/null", filepath.Join(fd, strconv.Itoa(i))); err != nil {
			f.t.Fatal(err)
		}
	}
	if p.Exe != "" {
		if err := os.Symlink(p.Exe, filepath.Join(filepath.Dir(f.proc), d, "exe")); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fixture) writeStat(st Stat) {
	f.t.Helper()
	f.write(pidDir(st.PID)+"/stat", statLine(st))
}

// clock returns scripted times: t0, then step later at every call.
func clock(step time.Duration) func() time.Time {
	next := t0
	return func() time.Time {
		now := next
		next = next.Add(step)
		return now
	}
}

// result is what one Run produced.
type result struct {
	samples  []*event.Sample
	warnings []string
	err      error
}

// run runs a Sampler on the fixture with Interval 10ms and the given Count.
// Every sample is validated against the JSON Schema and Sample.Validate;
// after(i, s) is called once sample i has been emitted, which is where a
// test changes the fixture between ticks: Run is one goroutine on a fixture
// (no pidfd, no polling), so a change made there is seen by the next tick
// and by nothing earlier.
func (f *fixture) run(count int, targets []Target, cfgf func(*Config), after func(i int, s *event.Sample)) result {
	f.t.Helper()
	var r result
	cfg := Config{
		ProcRoot: f.proc, SysRoot: f.sys, Host: "fixture",
		Interval: 10 * time.Millisecond, Count: count, Disks: nil,
		Targets: targets, Now: clock(10 * time.Second),
		Warnf: func(format string, args ...any) { r.warnings = append(r.warnings, fmt.Sprintf(format, args...)) },
	}
	if cfgf != nil {
		cfgf(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		f.t.Fatalf("New: %v", err)
	}
	r.err = s.Run(context.Background(), func(smp *event.Sample) error {
		line, err := json.Marshal(smp)
		if err != nil {
			f.t.Errorf("sample %d: marshal: %v", len(r.samples), err)
		} else if err := eventtest.ValidateLine(line); err != nil {
			f.t.Errorf("sample %d does not validate against the schema: %v\n%s", len(r.samples), err, line)
		}
		if err := smp.Validate(); err != nil {
			f.t.Errorf("sample %d: Validate: %v\n%s", len(r.samples), err, line)
		}
		// The sampler reuses smp (see Emit): keep what went on the wire.
		var kept event.Sample
		if err := json.Unmarshal(line, &kept); err != nil {
			f.t.Errorf("sample %d: unmarshal: %v", len(r.samples), err)
		}
		r.samples = append(r.samples, &kept)
		if after != nil {
			after(len(r.samples)-1, smp)
		}
		return nil
	})
	return r
}

func nameTarget(name string) Target { return Target{Label: name, Kind: ByName, Name: name} }

func ptr[T any](v T) *T { return &v }

func startOf(ticks uint64) event.Time {
	return event.At(bootAt.Add(time.Duration(ticks) * time.Second / clockTicks))
}

var pageSize = uint64(os.Getpagesize())

// wantSystem is the host part of a sample of newFixture.
func wantSystem() *event.System {
	return &event.System{
		MemTotalBytes: ptr[uint64](8000000 * 1024), MemAvailableBytes: ptr[uint64](6000000 * 1024),
		SwapTotalBytes: ptr[uint64](2000000 * 1024), SwapUsedBytes: ptr[uint64](500000 * 1024),
		Load1: ptr(0.5), Load5: ptr(0.4), Load15: ptr(0.3),
		PSIMemSomeAvg10: ptr(1.25), PSIMemFullAvg10: ptr(0.75),
		OOMKills: ptr[uint64](7),
	}
}

// wantProcess is the process part of a first sample of sampleProc. The
// fixture's /proc/PID directory belongs to whoever runs the tests.
func wantProcess() *event.Process {
	me := "root"
	if u, err := user.Current(); err == nil {
		me = u.Username
	}
	return &event.Process{
		PID: fixPID, PPID: 1, Start: startOf(123456), StartTicks: 123456,
		Name: fixName, Exe: "/usr/local/bin/myapp", Args: []string{"/usr/local/bin/myapp", "--port", "8080"},
		User: me, UID: ptr(os.Getuid()), State: "S", CPUTimeS: 2,
		RSSBytes: 2560 * pageSize, VMSBytes: 104857600, Threads: 7,
		FDs: ptr(3), FDsLimit: ptr[uint64](1024),
		Cgroup: dockerScope, ContainerID: hexID, Runtime: "docker",
		CgroupMemMaxBytes: ptr[uint64](536870912), CgroupOOM: ptr[uint64](2), CgroupOOMKills: ptr[uint64](1),
	}
}

func TestRunSample(t *testing.T) {
	f := newFixture(t)
	f.add(sampleProc())
	r := f.run(1, []Target{nameTarget(fixName)}, nil, nil)
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	want := []*event.Sample{{
		Header:  event.NewHeader(event.KindSample, Src, "fixture", t0),
		Target:  fixName,
		Seq:     1,
		Up:      true,
		Matches: 1,
		Process: wantProcess(),
		System:  wantSystem(),
		Unavailable: map[string]string{
			"process.cpu_pct": reasonFirst,
		},
	}}
	if diff := cmp.Diff(want, r.samples, equateTime); diff != "" {
		t.Errorf("samples (-want +got):\n%s", diff)
	}
	if len(r.warnings) != 0 {
		t.Errorf("warnings: %q, want none", r.warnings)
	}
}

func TestRunCPU(t *testing.T) {
	// The clock advances 10s per tick, so 1000 ticks of CPU (10s) between
	// samples is 100%.
	tests := []struct {
		name         string
		utime, stime uint64 // added between the samples
		want         float64
	}{
		{name: "idle", want: 0},
		{name: "user and system time", utime: 300, stime: 100, want: 40},
		{name: "two cores busy", utime: 1500, stime: 500, want: 200},
		{name: "one tick", utime: 1, want: 0.1},
		{name: "rounded to two decimals", utime: 1, stime: 0, want: 0.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			p := sampleProc()
			f.add(p)
			r := f.run(2, []Target{nameTarget(fixName)}, nil, func(i int, _ *event.Sample) {
				if i == 0 {
					st := p.Stat
					st.UTime += tt.utime
					st.STime += tt.stime
					f.writeStat(st)
				}
			})
			if r.err != nil {
				t.Fatalf("Run: %v", r.err)
			}
			if len(r.samples) != 2 {
				t.Fatalf("got %d samples, want 2", len(r.samples))
			}
			first, second := r.samples[0], r.samples[1]
			if first.Process.CPUPct != nil {
				t.Errorf("first sample: cpu_pct = %v, want absent", *first.Process.CPUPct)
			}
			if got := first.Unavailable["process.cpu_pct"]; got != reasonFirst {
				t.Errorf("first sample: unavailable[process.cpu_pct] = %q, want %q", got, reasonFirst)
			}
			if second.Process.CPUPct == nil {
				t.Fatalf("second sample: cpu_pct absent (unavailable: %q)", second.Unavailable)
			}
			if diff := cmp.Diff(tt.want, *second.Process.CPUPct); diff != "" {
				t.Errorf("second sample: cpu_pct (-want +got):\n%s", diff)
			}
			if _, ok := second.Unavailable["process.cpu_pct"]; ok {
				t.Errorf("second sample: cpu_pct named unavailable: %q", second.Unavailable)
			}
			wantCPU := float64(p.UTime+p.STime+tt.utime+tt.stime) / clockTicks
			if second.Process.CPUTimeS != wantCPU {
				t.Errorf("second sample: cpu_time_s = %v, want %v", second.Process.CPUTimeS, wantCPU)
			}
		})
	}
}

// brief is the part of a sample the exit tests compare.
type brief struct {
	Target     string
	Up         bool
	Matches    int
	PID        int    // of the process; 0 when absent
	StartTicks uint64 // of the process
	Exit       *event.Exit
}

func briefs(t *testing.T, samples []*event.Sample) []brief {
	t.Helper()
	var out []brief
	for _, s := range samples {
		b := brief{Target: s.Target, Up: s.Up, Matches: s.Matches}
		if s.Process != nil {
			b.PID, b.StartTicks = s.Process.PID, s.Process.StartTicks
		}
		if s.Exit != nil {
			ex := *s.Exit
			// uptime_s runs from the process's start to the notice.
			if s.Process != nil {
				up := s.TS.Sub(s.Process.Start.Time).Seconds()
				if want := float64(int64(up*1000)) / 1000; ex.UptimeS != want {
					t.Errorf("exit of pid %d: uptime_s = %v, want %v (ts %v, start %v)", ex.PID, ex.UptimeS, want, s.TS, s.Process.Start)
				}
			}
			ex.UptimeS = 0
			b.Exit = &ex
		}
		out = append(out, b)
	}
	return out
}

func TestRunExit(t *testing.T) {
	p := sampleProc()
	newer := p.Stat
	newer.StartTicks = 999999 // the PID was reused
	zombie := func(code int, has bool) Stat {
		st := p.Stat
		st.State, st.ExitCode, st.HasExitCode = "Z", code, has
		st.RSSPages, st.VSize, st.Threads = 0, 0, 1
		return st
	}
	byPID := Target{Label: "pid:4242", Kind: ByPID, PID: fixPID}
	up := brief{Target: fixName, Up: true, Matches: 1, PID: fixPID, StartTicks: p.StartTicks}
	upPID := brief{Target: "pid:4242", Up: true, Matches: 1, PID: fixPID, StartTicks: p.StartTicks}
	absent := brief{Target: fixName}
	absentPID := brief{Target: "pid:4242"}
	exitBrief := func(target string, ex event.Exit) brief {
		return brief{Target: target, PID: fixPID, StartTicks: p.StartTicks, Exit: &ex}
	}

	tests := []struct {
		name   string
		target Target
		change func(f *fixture) // between the first and the second tick
		want   []brief
	}{
		{
			name:   "name target: reused PID is a new process",
			target: nameTarget(fixName),
			change: func(f *fixture) { f.writeStat(newer) },
			want: []brief{
				up,
				exitBrief(fixName, event.Exit{PID: fixPID, Noticed: event.NoticedReused}),
				{Target: fixName, Up: true, Matches: 1, PID: fixPID, StartTicks: newer.StartTicks},
			},
		},
		{
			name:   "pid target: reused PID is not sampled",
			target: byPID,
			change: func(f *fixture) { f.writeStat(newer) },
			want: []brief{
				upPID,
				exitBrief("pid:4242", event.Exit{PID: fixPID, Noticed: event.NoticedReused}),
				absentPID,
			},
		},
		{
			name:   "zombie killed by SIGKILL",
			target: nameTarget(fixName),
			change: func(f *fixture) { f.writeStat(zombie(9, true)) },
			want: []brief{
				up,
				exitBrief(fixName, event.Exit{PID: fixPID, Noticed: event.NoticedZombie, Signal: "SIGKILL", SignalNum: 9}),
				absent,
			},
		},
		{
			name:   "zombie that exited with status 3",
			target: nameTarget(fixName),
			change: func(f *fixture) { f.writeStat(zombie(0x300, true)) },
			want: []brief{
				up,
				exitBrief(fixName, event.Exit{PID: fixPID, Noticed: event.NoticedZombie, Code: ptr(3)}),
				absent,
			},
		},
		{
			name:   "zombie that exited with status 0",
			target: nameTarget(fixName),
			change: func(f *fixture) { f.writeStat(zombie(0, true)) },
			want: []brief{
				up,
				exitBrief(fixName, event.Exit{PID: fixPID, Noticed: event.NoticedZombie, Code: ptr(0)}),
				absent,
			},
		},
		{
			name:   "zombie killed by SIGSEGV with a core dump",
			target: nameTarget(fixName),
			change: func(f *fixture) { f.writeStat(zombie(139, true)) },
			want: []brief{
				up,
				exitBrief(fixName, event.Exit{PID: fixPID, Noticed: event.NoticedZombie, Signal: "SIGSEGV", SignalNum: 11, CoreDump: true}),
				absent,
			},
		},
		{
			name:   "zombie on a kernel without exit_code",
			target: nameTarget(fixName),
			change: func(f *fixture) { f.writeStat(zombie(0, false)) },
			want: []brief{
				up,
				exitBrief(fixName, event.Exit{PID: fixPID, Noticed: event.NoticedZombie}),
				absent,
			},
		},
		{
			name:   "pid target zombie",
			target: byPID,
			change: func(f *fixture) { f.writeStat(zombie(15, true)) },
			want: []brief{
				upPID,
				exitBrief("pid:4242", event.Exit{PID: fixPID, Noticed: event.NoticedZombie, Signal: "SIGTERM", SignalNum: 15}),
				absentPID,
			},
		},
		{
			name:   "process directory removed",
			target: nameTarget(fixName),
			change: func(f *fixture) { f.remove(pidDir(fixPID)) },
			want: []brief{
				up,
				exitBrief(fixName, event.Exit{PID: fixPID, Noticed: event.NoticedGone}),
				absent,
			},
		},
		{
			name:   "pid target directory removed",
			target: byPID,
			change: func(f *fixture) { f.remove(pidDir(fixPID)) },
			want: []brief{
				upPID,
				exitBrief("pid:4242", event.Exit{PID: fixPID, Noticed: event.NoticedGone}),
				absentPID,
			},
		},
		{
			name:   "renamed by exec: stops matching without an exit",
			target: nameTarget(fixName),
			change: func(f *fixture) {
				st := p.Stat
				st.Comm = "other"
				f.writeStat(st)
				f.write(pidDir(fixPID)+"/cmdline", "/usr/bin/other\x00")
			},
			want: []brief{up, absent},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.add(p)
			r := f.run(2, []Target{tt.target}, nil, func(i int, _ *event.Sample) {
				if i == 0 {
					tt.change(f)
				}
			})
			if r.err != nil {
				t.Fatalf("Run: %v", r.err)
			}
			if diff := cmp.Diff(tt.want, briefs(t, r.samples)); diff != "" {
				t.Errorf("samples (-want +got):\n%s", diff)
			}
			// The exit sample carries the last state seen of the process.
			for _, s := range r.samples {
				if s.Exit == nil {
					continue
				}
				if diff := cmp.Diff(r.samples[0].Process, s.Process, equateTime); diff != "" {
					t.Errorf("exit sample's process differs from the last up sample (-last +exit):\n%s", diff)
				}
				if s.System == nil {
					t.Errorf("exit sample without system")
				}
			}
		})
	}
}

// worker is one of several processes sharing a name; pids and start times
// are in different orders so that the sort by start time shows.
func worker(pid int, start uint64) fproc {
	p := sampleProc()
	p.PID, p.StartTicks, p.Comm = pid, start, "worker"
	p.Args = []string{"/usr/bin/worker", "--id", strconv.Itoa(pid)}
	p.Exe = "/usr/bin/worker"
	return p
}

func matchWarnings(ws []string) []string {
	var out []string
	for _, w := range ws {
		if strings.Contains(w, "matches") {
			out = append(out, w)
		}
	}
	return out
}

func TestRunSeveralMatches(t *testing.T) {
	workers := []fproc{worker(300, 5000), worker(301, 4000), worker(302, 6000)}
	tests := []struct {
		name         string
		change       func(f *fixture) // after the first tick
		want         []brief
		wantWarnings []string
	}{
		{
			name: "steady",
			want: []brief{
				{Target: "worker", Up: true, Matches: 3, PID: 301, StartTicks: 4000},
				{Target: "worker", Up: true, Matches: 3, PID: 300, StartTicks: 5000},
				{Target: "worker", Up: true, Matches: 3, PID: 302, StartTicks: 6000},
				{Target: "worker", Up: true, Matches: 3, PID: 301, StartTicks: 4000},
				{Target: "worker", Up: true, Matches: 3, PID: 300, StartTicks: 5000},
				{Target: "worker", Up: true, Matches: 3, PID: 302, StartTicks: 6000},
			},
			wantWarnings: []string{
				`target "worker" matches 3 processes (pid 301 worker "/usr/bin/worker --id 301", pid 300 worker "/usr/bin/worker --id 300", pid 302 worker "/usr/bin/worker --id 302"): sampling each`,
			},
		},
		{
			name:   "one of them ends",
			change: func(f *fixture) { f.remove(pidDir(300)) },
			want: []brief{
				{Target: "worker", Up: true, Matches: 3, PID: 301, StartTicks: 4000},
				{Target: "worker", Up: true, Matches: 3, PID: 300, StartTicks: 5000},
				{Target: "worker", Up: true, Matches: 3, PID: 302, StartTicks: 6000},
				{Target: "worker", Matches: 2, PID: 300, StartTicks: 5000, Exit: &event.Exit{PID: 300, Noticed: event.NoticedGone}},
				{Target: "worker", Up: true, Matches: 2, PID: 301, StartTicks: 4000},
				{Target: "worker", Up: true, Matches: 2, PID: 302, StartTicks: 6000},
			},
			wantWarnings: []string{
				`target "worker" matches 3 processes (pid 301 worker "/usr/bin/worker --id 301", pid 300 worker "/usr/bin/worker --id 300", pid 302 worker "/usr/bin/worker --id 302"): sampling each`,
				`target "worker" matches 2 processes (pid 301 worker "/usr/bin/worker --id 301", pid 302 worker "/usr/bin/worker --id 302"): sampling each`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for _, w := range workers {
				f.add(w)
			}
			f.add(sampleProc()) // does not match
			r := f.run(2, []Target{nameTarget("worker")}, nil, func(i int, _ *event.Sample) {
				if i == len(workers)-1 && tt.change != nil {
					tt.change(f)
				}
			})
			if r.err != nil {
				t.Fatalf("Run: %v", r.err)
			}
			if diff := cmp.Diff(tt.want, briefs(t, r.samples)); diff != "" {
				t.Errorf("samples (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantWarnings, matchWarnings(r.warnings)); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunOneAmbiguous(t *testing.T) {
	f := newFixture(t)
	f.add(worker(300, 5000))
	f.add(worker(301, 4000))
	r := f.run(1, []Target{nameTarget("worker")}, func(c *Config) { c.One = true }, nil)
	if !errors.Is(r.err, ErrAmbiguous) {
		t.Fatalf("Run: %v, want an error wrapping ErrAmbiguous", r.err)
	}
	for _, want := range []string{`"worker"`, `2 processes`, `pid 301 worker "/usr/bin/worker --id 301"`, `pid 300 worker "/usr/bin/worker --id 300"`} {
		if !strings.Contains(r.err.Error(), want) {
			t.Errorf("Run: %v\nwant it to contain %q", r.err, want)
		}
	}
	if len(r.samples) != 0 {
		t.Errorf("Run emitted %d samples before refusing, want 0", len(r.samples))
	}
}

func TestRunOneAmbiguousSecondTarget(t *testing.T) {
	f := newFixture(t)
	f.add(sampleProc())
	f.add(worker(300, 5000))
	f.add(worker(301, 4000))
	r := f.run(1, []Target{nameTarget(fixName), nameTarget("worker")}, func(c *Config) { c.One = true }, nil)
	if !errors.Is(r.err, ErrAmbiguous) {
		t.Fatalf("Run: %v, want an error wrapping ErrAmbiguous (samples: %v)", r.err, briefs(t, r.samples))
	}
}

func TestRunOneLaterMatches(t *testing.T) {
	f := newFixture(t)
	f.add(worker(300, 5000))
	r := f.run(3, []Target{nameTarget("worker")}, func(c *Config) { c.One = true }, func(i int, _ *event.Sample) {
		if i == 0 {
			f.add(worker(301, 7000)) // a newer one appears
		}
	})
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	want := []brief{
		{Target: "worker", Up: true, Matches: 1, PID: 300, StartTicks: 5000},
		{Target: "worker", Up: true, Matches: 1, PID: 300, StartTicks: 5000},
		{Target: "worker", Up: true, Matches: 1, PID: 300, StartTicks: 5000},
	}
	if diff := cmp.Diff(want, briefs(t, r.samples)); diff != "" {
		t.Errorf("samples (-want +got):\n%s", diff)
	}
	t.Run("warns once", func(t *testing.T) {
		wantWarnings := []string{
			`target "worker" matches 2 processes (pid 300 worker "/usr/bin/worker --id 300", pid 301 worker "/usr/bin/worker --id 301"): --one samples only the oldest, pid 300`,
		}
		if diff := cmp.Diff(wantWarnings, matchWarnings(r.warnings)); diff != "" {
			t.Errorf("warnings (-want +got):\n%s", diff)
		}
	})
}

// jsonField reports whether the marshalled sample has the dotted path
// (process.fds) set.
func jsonField(t *testing.T, s *event.Sample, path string) bool {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var v any = m
	for _, k := range strings.Split(path, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = obj[k]; !ok {
			return false
		}
	}
	return true
}

func TestRunUnavailable(t *testing.T) {
	tests := []struct {
		name   string
		change func(f *fixture)
		field  string // absent from the sample and a key of unavailable
		reason string // regexp of the reason
		root   bool   // the change has no effect when running as root
	}{
		{
			name:   "fd is not a directory",
			change: func(f *fixture) { f.remove(pidDir(fixPID) + "/fd"); f.write(pidDir(fixPID)+"/fd", "") },
			field:  "process.fds", reason: `^not a directory$`,
		},
		{
			name:   "fd missing",
			change: func(f *fixture) { f.remove(pidDir(fixPID) + "/fd") },
			field:  "process.fds", reason: `^not present: no such file or directory$`,
		},
		{
			name: "fd unreadable",
			change: func(f *fixture) {
				fd := filepath.Join(f.proc, strconv.Itoa(fixPID), "fd")
				if err := os.Chmod(fd, 0); err != nil {
					f.t.Fatal(err)
				}
				f.t.Cleanup(func() { os.Chmod(fd, 0o755) }) // before TempDir's removal
			},
			field: "process.fds", reason: "^" + regexp.QuoteMeta(reasonPermission) + "$", root: true,
		},
		{
			name:   "no pressure stall information",
			change: func(f *fixture) { f.remove("proc/pressure") },
			field:  "system.psi_mem_some_avg10", reason: `CONFIG_PSI`,
		},
		{
			name:   "pressure file garbled",
			change: func(f *fixture) { f.write("proc/pressure/memory", "garbage\n") },
			field:  "system.psi_mem_some_avg10", reason: `^parse error: pressure: `,
		},
		{
			name:   "vmstat without oom_kill",
			change: func(f *fixture) { f.write("proc/vmstat", "nr_free_pages 1\n") },
			field:  "system.oom_kills", reason: `4\.13`,
		},
		{
			name:   "vmstat missing",
			change: func(f *fixture) { f.remove("proc/vmstat") },
			field:  "system.oom_kills", reason: `^not present: `,
		},
		{
			name:   "meminfo missing",
			change: func(f *fixture) { f.remove("proc/meminfo") },
			field:  "system.mem_available_bytes", reason: `meminfo`,
		},
		{
			name:   "limits missing",
			change: func(f *fixture) { f.remove(pidDir(fixPID) + "/limits") },
			field:  "process.fds_limit", reason: `^not present: `,
		},
		{
			name:   "limits garbled",
			change: func(f *fixture) { f.write(pidDir(fixPID)+"/limits", "Max open files  lots  lots  files\n") },
			field:  "process.fds_limit", reason: `^parse error: limits: `,
		},
		{
			name:   "cgroup missing",
			change: func(f *fixture) { f.remove(pidDir(fixPID) + "/cgroup") },
			field:  "process.cgroup", reason: `^not present: `,
		},
		{
			name:   "cgroup garbled",
			change: func(f *fixture) { f.write(pidDir(fixPID)+"/cgroup", "garbage\n") },
			field:  "process.cgroup", reason: `^parse error: cgroup: `,
		},
		{
			name:   "memory.events missing",
			change: func(f *fixture) { f.remove("sys/fs/cgroup" + dockerScope + "/memory.events") },
			field:  "process.cgroup_oom_kills", reason: `^not present: `,
		},
		{
			name:   "exe link missing on a user process",
			change: func(f *fixture) { f.remove(pidDir(fixPID) + "/exe") },
			field:  "process.exe", reason: `^not present: `,
		},
		{
			name: "kernel thread has no exe",
			change: func(f *fixture) {
				f.remove(pidDir(fixPID) + "/exe")
				f.write(pidDir(fixPID)+"/cmdline", "")
			},
			field: "process.exe", reason: "^" + regexp.QuoteMeta(reasonKernel) + "$",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root && os.Geteuid() == 0 {
				t.Skip("running as root: file modes do not deny root; the regular-file and missing cases cover the reason plumbing")
			}
			f := newFixture(t)
			f.add(sampleProc())
			tt.change(f)
			r := f.run(1, []Target{nameTarget(fixName)}, nil, nil)
			if r.err != nil {
				t.Fatalf("Run: %v", r.err)
			}
			if len(r.samples) != 1 {
				t.Fatalf("got %d samples, want 1", len(r.samples))
			}
			s := r.samples[0]
			if !s.Up {
				t.Fatalf("sample is not up: %+v", s)
			}
			if jsonField(t, s, tt.field) {
				t.Errorf("%s is present, want it absent", tt.field)
			}
			reason, ok := s.Unavailable[tt.field]
			if !ok {
				t.Fatalf("%s not named in unavailable: %q", tt.field, s.Unavailable)
			}
			if !regexp.MustCompile(tt.reason).MatchString(reason) {
				t.Errorf("unavailable[%s] = %q, want it to match %q", tt.field, reason, tt.reason)
			}
			// Every field named unavailable is absent.
			for k := range s.Unavailable {
				if jsonField(t, s, k) {
					t.Errorf("%s is named unavailable but present", k)
				}
			}
			if !slicesContain(r.warnings, tt.field) && tt.field != "process.cpu_pct" {
				t.Errorf("warnings %q do not mention %s", r.warnings, tt.field)
			}
		})
	}
}

func slicesContain(ws []string, sub string) bool {
	for _, w := range ws {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

func TestRunCgroupMemory(t *testing.T) {
	const svc = "/system.slice/app.service"
	tests := []struct {
		name   string
		cgroup string
		files  map[string]string // under sys/fs/cgroup
		want   *event.Process    // only the cgroup fields
	}{
		{
			name:   "v2",
			cgroup: "0::" + svc + "\n",
			files: map[string]string{
				svc + "/memory.events": "low 0\nhigh 0\nmax 0\noom 4\noom_kill 3\n",
				svc + "/memory.max":    "max\n",
			},
			want: &event.Process{Cgroup: svc, CgroupOOM: ptr[uint64](4), CgroupOOMKills: ptr[uint64](3)},
		},
		{
			name:   "v1",
			cgroup: v1Lines(svc, svc),
			files: map[string]string{
				"memory" + svc + "/memory.limit_in_bytes": "268435456\n",
				"memory" + svc + "/memory.oom_control":    "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n",
			},
			want: &event.Process{Cgroup: svc, CgroupMemMaxBytes: ptr[uint64](268435456), CgroupOOMKills: ptr[uint64](5)},
		},
		{
			name:   "v1 unlimited",
			cgroup: v1Lines(svc, svc),
			files: map[string]string{
				"memory" + svc + "/memory.limit_in_bytes": "9223372036854771712\n",
				"memory" + svc + "/memory.oom_control":    "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
			},
			want: &event.Process{Cgroup: svc, CgroupOOMKills: ptr[uint64](0)},
		},
		{
			name:   "hybrid: memory on v1",
			cgroup: v1Lines(svc, svc) + "0::" + svc + "\n",
			files: map[string]string{
				"memory" + svc + "/memory.limit_in_bytes": "268435456\n",
				"memory" + svc + "/memory.oom_control":    "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n",
				"unified" + svc + "/cgroup.procs":         "4242\n",
			},
			want: &event.Process{Cgroup: svc, CgroupMemMaxBytes: ptr[uint64](268435456), CgroupOOMKills: ptr[uint64](5)},
		},
		{
			name:   "hybrid: memory on the unified hierarchy",
			cgroup: "3:cpu,cpuacct:" + svc + "\n1:name=systemd:" + svc + "\n0::" + svc + "\n",
			files: map[string]string{
				"unified" + svc + "/memory.events": "low 0\nhigh 0\nmax 0\noom 1\noom_kill 1\n",
				"unified" + svc + "/memory.max":    "1073741824\n",
			},
			want: &event.Process{Cgroup: svc, CgroupMemMaxBytes: ptr[uint64](1073741824), CgroupOOM: ptr[uint64](1), CgroupOOMKills: ptr[uint64](1)},
		},
		{
			name:   "kubepods",
			cgroup: "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + strings.ReplaceAll(podUID, "-", "_") + ".slice/cri-containerd-" + hexID + ".scope\n",
			files:  map[string]string{},
			want: &event.Process{
				Cgroup:      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + strings.ReplaceAll(podUID, "-", "_") + ".slice/cri-containerd-" + hexID + ".scope",
				ContainerID: hexID, Runtime: "containerd", PodUID: podUID,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			p := sampleProc()
			p.Cgroup = tt.cgroup
			f.add(p)
			for rel, content := range tt.files {
				f.write("sys/fs/cgroup/"+rel, content)
			}
			r := f.run(1, []Target{nameTarget(fixName)}, nil, nil)
			if r.err != nil {
				t.Fatalf("Run: %v", r.err)
			}
			got := r.samples[0].Process
			cg := &event.Process{
				Cgroup: got.Cgroup, ContainerID: got.ContainerID, Runtime: got.Runtime, PodUID: got.PodUID,
				CgroupMemMaxBytes: got.CgroupMemMaxBytes, CgroupOOM: got.CgroupOOM, CgroupOOMKills: got.CgroupOOMKills,
			}
			if diff := cmp.Diff(tt.want, cg); diff != "" {
				t.Errorf("cgroup fields (-want +got):\n%s\nunavailable: %q", diff, r.samples[0].Unavailable)
			}
		})
	}
}

// Two targets that select the same process (a name and a --match, say)
// both carry its CPU use from the second tick on: one reading, not a
// "first sample" for the second target.
func TestRunCPUTwoTargets(t *testing.T) {
	f := newFixture(t)
	p := sampleProc()
	f.add(p)
	targets := []Target{nameTarget(fixName), {Label: "match", Kind: ByMatch, Match: regexp.MustCompile(`--port 8080`)}}
	r := f.run(3, targets, nil, func(i int, _ *event.Sample) {
		if i%2 == 1 { // after each tick's second sample: 400 ticks of CPU in the next 10s
			st := p.Stat
			st.UTime += 400 * uint64(i+1) / 2
			f.writeStat(st)
		}
	})
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	if len(r.samples) != 6 {
		t.Fatalf("got %d samples, want 6", len(r.samples))
	}
	for i, smp := range r.samples[2:] {
		if smp.Process.CPUPct == nil {
			t.Fatalf("tick %d, target %q: cpu_pct absent (unavailable: %q)", 2+i/2, smp.Target, smp.Unavailable)
		}
		if *smp.Process.CPUPct != 40 {
			t.Errorf("tick %d, target %q: cpu_pct %v, want 40", 2+i/2, smp.Target, *smp.Process.CPUPct)
		}
	}
}

func TestRunOtherSelectors(t *testing.T) {
	me := os.Geteuid()
	tests := []struct {
		name   string
		target func(f *fixture) Target
		want   []brief
	}{
		{
			name: "pidfile",
			target: func(f *fixture) Target {
				path := filepath.Join(filepath.Dir(f.proc), "app.pid")
				f.write("app.pid", "4242\n")
				return Target{Label: "pidfile", Kind: ByPidfile, Pidfile: path}
			},
			want: []brief{{Target: "pidfile", Up: true, Matches: 1, PID: fixPID, StartTicks: 123456}},
		},
		{
			name: "pidfile garbled",
			target: func(f *fixture) Target {
				f.write("app.pid", "garbage\n")
				return Target{Label: "pidfile", Kind: ByPidfile, Pidfile: filepath.Join(filepath.Dir(f.proc), "app.pid")}
			},
			want: []brief{{Target: "pidfile"}},
		},
		{
			name: "match",
			target: func(*fixture) Target {
				return Target{Label: "match", Kind: ByMatch, Match: regexp.MustCompile(`--port 8080`)}
			},
			want: []brief{{Target: "match", Up: true, Matches: 1, PID: fixPID, StartTicks: 123456}},
		},
		{
			name: "owner of the process directory",
			target: func(*fixture) Target {
				return Target{Label: "user", Kind: ByUser, User: &UserFilter{Spec: "me", UID: me}}
			},
			want: []brief{{Target: "user", Up: true, Matches: 1, PID: fixPID, StartTicks: 123456}},
		},
		{
			name: "another user",
			target: func(*fixture) Target {
				return Target{Label: "user", Kind: ByUser, User: &UserFilter{Spec: "other", UID: me + 1}}
			},
			want: []brief{{Target: "user"}},
		},
		{
			name: "pid that does not exist",
			target: func(*fixture) Target {
				return Target{Label: "pid:99999", Kind: ByPID, PID: 99999}
			},
			want: []brief{{Target: "pid:99999"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.add(sampleProc())
			r := f.run(1, []Target{tt.target(f)}, nil, nil)
			if r.err != nil {
				t.Fatalf("Run: %v", r.err)
			}
			if diff := cmp.Diff(tt.want, briefs(t, r.samples)); diff != "" {
				t.Errorf("samples (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunBootTime(t *testing.T) {
	tests := []struct {
		name    string
		stat    string // contents of <proc>/stat; "" removes it
		want    event.Time
		wantErr error
	}{
		{name: "btime", stat: "cpu  1 2 3 4\nbtime 1767225600\nprocesses 5\n", want: startOf(123456)},
		{name: "btime last, without newline", stat: "cpu  1 2 3 4\nbtime 1767225700", want: event.At(bootAt.Add(100*time.Second + 1234560*time.Millisecond))},
		{name: "no btime line", stat: "cpu  1 2 3 4\nprocesses 5\n", wantErr: ErrParse},
		{name: "btime garbled", stat: "btime soon\n", wantErr: ErrParse},
		{name: "stat missing", wantErr: os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.add(sampleProc())
			if tt.stat == "" {
				f.remove("proc/stat")
			} else {
				f.write("proc/stat", tt.stat)
			}
			r := f.run(1, []Target{nameTarget(fixName)}, nil, nil)
			if tt.wantErr != nil {
				if !errors.Is(r.err, tt.wantErr) {
					t.Fatalf("Run: %v, want an error wrapping %v", r.err, tt.wantErr)
				}
				if len(r.samples) != 0 {
					t.Errorf("Run emitted %d samples, want none", len(r.samples))
				}
				return
			}
			if r.err != nil {
				t.Fatalf("Run: %v", r.err)
			}
			if diff := cmp.Diff(tt.want, r.samples[0].Process.Start, equateTime); diff != "" {
				t.Errorf("start (-want +got):\n%s", diff)
			}
		})
	}
}

// A death after the host's OOM kill count rose sends the sampler to the
// kernel's log: exit.oom_killed says whether a line since the process
// started names it (by pid and name) as the OOM killer's victim. No rise,
// no look; a log that cannot be read is named in unavailable. The cgroup's
// OOM counter is read again at the death.
func TestRunExitOOMNamed(t *testing.T) {
	// sampleProc started 1234.56 s after boot; kmsg times are µs after boot.
	const (
		named   = "3,410,1300000000,-;Memory cgroup out of memory: Killed process 4242 (myapp) total-vm:218752kB, anon-rss:32512kB"
		summary = "6,409,1300000000,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,task=myapp,pid=4242,uid=0"
		other   = "3,410,1300000000,-;Out of memory: Killed process 999 (hog) total-vm:218752kB"
		before  = "3,12,1000000000,-;Out of memory: Killed process 4242 (myapp) total-vm:1kB"
		other15 = "3,410,1300000000,-;Out of memory: Killed process 4242 (somethingelse) total-vm:1kB"
	)
	tests := []struct {
		name    string
		vmstat  int    // the host's oom_kill count at the death (7 before)
		kmsg    string // the log's records; "-" for no log file
		want    *bool
		wantMsg string
		unav    bool
	}{
		{"named", 8, "6,1,5,-;Linux version\n" + named + "\n", ptr(true), named[strings.IndexByte(named, ';')+1:], false},
		{"named by the summary line", 8, summary + "\n", ptr(true), summary[strings.IndexByte(summary, ';')+1:], false},
		{"another process named", 8, other + "\n", ptr(false), "", false},
		{"named before it started: another process with its pid", 8, before + "\n", ptr(false), "", false},
		{"its pid under another name", 8, other15 + "\n", ptr(false), "", false},
		{"no rise: the log is not read", 7, named + "\n", nil, "", false},
		{"no log", 8, "-", nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.add(sampleProc())
			kmsg := filepath.Join(filepath.Dir(f.proc), "kmsg")
			r := f.run(3, []Target{nameTarget(fixName)}, func(c *Config) { c.Kmsg = kmsg }, func(i int, s *event.Sample) {
				if i != 0 {
					return
				}
				f.write("proc/vmstat", fmt.Sprintf("nr_free_pages 250000\noom_kill %d\n", tt.vmstat))
				f.write("sys/fs/cgroup"+dockerScope+"/memory.events", "low 0\nhigh 0\nmax 9\noom 3\noom_kill 2\noom_group_kill 0\n")
				if tt.kmsg != "-" {
					f.write("kmsg", tt.kmsg)
				}
				f.remove(pidDir(fixPID))
			})
			if r.err != nil {
				t.Fatal(r.err)
			}
			var ex *event.Sample
			for _, s := range r.samples {
				if s.Exit != nil {
					ex = s
				}
			}
			if ex == nil {
				t.Fatalf("no exit sample in %d samples", len(r.samples))
			}
			if d := cmp.Diff(tt.want, ex.Exit.OOMKilled); d != "" {
				t.Errorf("exit.oom_killed (-want +got):\n%s", d)
			}
			if ex.Exit.OOMKernelMsg != tt.wantMsg {
				t.Errorf("exit.oom_kernel_msg = %q, want %q", ex.Exit.OOMKernelMsg, tt.wantMsg)
			}
			if _, got := ex.Unavailable["exit.oom_killed"]; got != tt.unav {
				t.Errorf("unavailable[exit.oom_killed] present %v, want %v: %v", got, tt.unav, ex.Unavailable)
			}
			if c := ex.Process.CgroupOOMKills; c == nil || *c != 2 {
				t.Errorf("process.cgroup_oom_kills at the death = %v, want 2 (read again)", c)
			}
		})
	}
}

func TestParseOOMVictim(t *testing.T) {
	tests := []struct {
		msg  string
		want oomVictim
		ok   bool
	}{
		{"Out of memory: Killed process 12292 (python3) total-vm:218752kB, anon-rss:32512kB", oomVictim{12292, "python3"}, true},
		{"Memory cgroup out of memory: Killed process 7 (a b) total-vm:1kB", oomVictim{7, "a b"}, true},
		{"oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/x,task=my,app,pid=42,uid=0", oomVictim{42, "my,app"}, true},
		{"oom-kill:constraint=CONSTRAINT_NONE,task=x,pid=,uid=0", oomVictim{}, false},
		{"Killed process abc (x)", oomVictim{}, false},
		{"Killed process 12 x", oomVictim{}, false},
		{"Killed process 12 (unterminated", oomVictim{}, false},
		{"python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0", oomVictim{}, false},
		{"", oomVictim{}, false},
	}
	for _, tt := range tests {
		got, ok := parseOOMVictim(tt.msg)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseOOMVictim(%q) = %+v, %v; want %+v, %v", tt.msg, got, ok, tt.want, tt.ok)
		}
	}
}
