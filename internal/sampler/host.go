package sampler

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/localsre/sre-agent/internal/event"
)

// readSystem reads the host's state; fields it cannot read are left out
// and named in the returned map.
func (s *Sampler) readSystem() (*event.System, map[string]string) {
	sys := &event.System{}
	unav := map[string]string{}
	if vm, err := mem.VirtualMemoryWithContext(s.ctx); err == nil {
		total, avail := vm.Total, vm.Available
		swapTotal, swapUsed := vm.SwapTotal, vm.SwapTotal-min(vm.SwapFree, vm.SwapTotal)
		sys.MemTotalBytes, sys.MemAvailableBytes = &total, &avail
		sys.SwapTotalBytes, sys.SwapUsedBytes = &swapTotal, &swapUsed
	} else {
		for _, k := range []string{"mem_total_bytes", "mem_available_bytes", "swap_total_bytes", "swap_used_bytes"} {
			unav["system."+k] = err.Error()
		}
	}
	if la, err := load.AvgWithContext(s.ctx); err == nil {
		l1, l5, l15 := la.Load1, la.Load5, la.Load15
		sys.Load1, sys.Load5, sys.Load15 = &l1, &l5, &l15
	} else {
		for _, k := range []string{"load1", "load5", "load15"} {
			unav["system."+k] = err.Error()
		}
	}
	for _, path := range s.cfg.Disks {
		u, err := disk.UsageWithContext(s.ctx, path)
		if err != nil {
			unav["system.disk:"+path] = reasonOf(err)
			continue
		}
		pct := float64(int64(u.UsedPercent*100+0.5)) / 100
		sys.Disk = append(sys.Disk, event.Disk{Path: path, TotalBytes: u.Total, UsedBytes: u.Used, FreeBytes: u.Free, UsedPct: min(pct, 100)})
	}
	if b, err := os.ReadFile(filepath.Join(s.cfg.ProcRoot, "pressure", "memory")); err == nil {
		if p, err := parsePSI(b); err == nil {
			some := p.SomeAvg10
			sys.PSIMemSomeAvg10 = &some
			if p.HasFull {
				full := p.FullAvg10
				sys.PSIMemFullAvg10 = &full
			}
		} else {
			unav["system.psi_mem_some_avg10"] = err.Error()
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		unav["system.psi_mem_some_avg10"] = "not present: kernel without pressure stall information (CONFIG_PSI)"
	} else {
		unav["system.psi_mem_some_avg10"] = reasonOf(err)
	}
	if b, err := os.ReadFile(filepath.Join(s.cfg.ProcRoot, "vmstat")); err == nil {
		if n, ok, err := parseVmstat(b); err == nil && ok {
			sys.OOMKills = &n
		} else if err != nil {
			unav["system.oom_kills"] = err.Error()
		} else {
			unav["system.oom_kills"] = "not present: kernel older than 4.13 does not count OOM kills"
		}
	} else {
		unav["system.oom_kills"] = reasonOf(err)
	}
	return sys, unav
}

// readBootTime reads the boot time (seconds since the epoch) from the btime
// line of /proc/stat: process start times are offsets from it.
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
