package sampler_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/sampler"
)

// The sampler reads everything through ProcRoot and SysRoot, so it runs on
// a tree of files as well as on /proc. Here a process uses 2.5 seconds of
// CPU between two ticks 10 seconds apart; fields the tree does not provide
// are left out and named in Unavailable.
func Example() {
	dir, err := os.MkdirTemp("", "sampler-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	proc := filepath.Join(dir, "proc")
	stat := func(utime int) string {
		// pid (comm) state ppid … utime stime … threads … starttime vsize rss
		return fmt.Sprintf("42 (myapp) S 1 42 42 0 -1 0 0 0 0 0 %d 0 0 0 20 0 3 0 500 10485760 256", utime)
	}
	files := map[string]string{
		"stat":       "cpu  1 2 3 4\nbtime 1767225600\n",
		"meminfo":    "MemTotal: 8000000 kB\nMemAvailable: 6000000 kB\n",
		"loadavg":    "0.50 0.40 0.30 1/100 42\n",
		"42/stat":    stat(100),
		"42/cmdline": "/usr/bin/myapp\x00--serve\x00",
		"42/fd/0":    "",
		"42/fd/1":    "",
		"42/fd/2":    "",
		"42/status":  "Name:\tmyapp\nUid:\t0\t0\t0\t0\n",
		"42/limits":  "Max open files            1024                 4096                 files     \n",
		"42/cgroup":  "0::/system.slice/myapp.service\n",
	}
	for name, content := range files {
		path := filepath.Join(proc, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			fmt.Println(err)
			return
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			fmt.Println(err)
			return
		}
	}

	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	s, err := sampler.New(sampler.Config{
		ProcRoot: proc,
		SysRoot:  filepath.Join(dir, "sys"),
		Interval: 10 * time.Millisecond,
		Count:    2,
		Targets:  []sampler.Target{{Label: "myapp", Kind: sampler.ByName, Name: "myapp"}},
		// A scripted clock: each tick is 10s after the one before.
		Now: func() time.Time { t := now; now = now.Add(10 * time.Second); return t },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = s.Run(context.Background(), func(smp *event.Sample) error {
		p := smp.Process
		fmt.Printf("seq %d: up=%v pid=%d name=%s threads=%d fds=%d start=%s\n",
			smp.Seq, smp.Up, p.PID, p.Name, p.Threads, *p.FDs, p.Start.Format(time.RFC3339))
		if p.CPUPct != nil {
			fmt.Printf("  cpu_pct=%v\n", *p.CPUPct)
		}
		keys := slices.Sorted(maps.Keys(smp.Unavailable))
		fmt.Printf("  unavailable: %s\n", strings.Join(keys, ", "))
		// Between the ticks the process uses 250 clock ticks (2.5s) of CPU.
		return os.WriteFile(filepath.Join(proc, "42/stat"), []byte(stat(350)), 0o644)
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// seq 1: up=true pid=42 name=myapp threads=3 fds=3 start=2026-01-01T00:00:05Z
	//   unavailable: process.cgroup_oom_kills, process.cpu_pct, process.exe, system.oom_kills, system.psi_mem_some_avg10
	// seq 2: up=true pid=42 name=myapp threads=3 fds=3 start=2026-01-01T00:00:05Z
	//   cpu_pct=25
	//   unavailable: process.cgroup_oom_kills, process.exe, system.oom_kills, system.psi_mem_some_avg10
}
