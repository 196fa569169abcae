package sampler

import (
	"errors"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/procfs"
)

// slowEvery is how often host figures that the kernel itself updates slowly
// (loadavg every 5 s, PSI averages every 2 s) or that change little and are
// costly to read (/proc/vmstat, ~150 lines generated per read, for the OOM
// kill count; disk usage; a cgroup's OOM counters) are read again: PSI's
// period, so no PSI or load update is missed. At the default 1 s interval
// every other tick reads them. An exit sample reads the host figures
// afresh, so the OOM kill count beside a death is current.
const slowEvery = 2 * time.Second

type slowHost struct {
	at                   time.Time
	load1, load5, load15 *float64
	psiSome, psiFull     *float64
	oomKills             *uint64
	disk                 []event.Disk
	unav                 map[string]string // nil until the first read
	// The figures the pointers above point to.
	load [3]float64
	psi  [2]float64
	oom  uint64
}

// readSystem reads the host's state; fields it cannot read are left out
// and named in the returned map. fresh forces the slow figures to be read
// (an exit sample always carries a fresh oom_kill count). Both answers are
// the sampler's, valid until the next call.
func (s *Sampler) readSystem(now time.Time, fresh bool) (*event.System, map[string]string) {
	sys := &s.sys
	*sys = event.System{}
	unav := s.sysUnav
	clear(unav)
	memUnav := func(why string) {
		for _, k := range []string{"mem_total_bytes", "mem_available_bytes", "swap_total_bytes", "swap_used_bytes"} {
			unav["system."+k] = why
		}
	}
	if b, err := s.readHost("meminfo"); err != nil {
		memUnav("meminfo: " + reasonOf(err))
	} else if m, err := parseMeminfo(b); err != nil {
		memUnav(err.Error())
	} else {
		s.mem = [4]uint64{m.Total, m.SwapTotal, m.SwapTotal - min(m.SwapFree, m.SwapTotal), m.Available}
		sys.MemTotalBytes, sys.SwapTotalBytes, sys.SwapUsedBytes = &s.mem[0], &s.mem[1], &s.mem[2]
		if m.HasAvailable {
			sys.MemAvailableBytes = &s.mem[3]
		} else {
			unav["system.mem_available_bytes"] = "not present: kernel older than 3.14"
		}
	}
	if fresh || s.slow.unav == nil || now.Sub(s.slow.at) >= slowEvery || now.Before(s.slow.at) {
		s.readSlow(now)
	}
	sl := &s.slow
	sys.Load1, sys.Load5, sys.Load15 = sl.load1, sl.load5, sl.load15
	sys.PSIMemSomeAvg10, sys.PSIMemFullAvg10 = sl.psiSome, sl.psiFull
	sys.OOMKills = sl.oomKills
	sys.Disk = sl.disk
	for k, v := range sl.unav {
		unav[k] = v
	}
	return sys, unav
}

// readHost reads a host-wide /proc file (meminfo, loadavg, …) by its path
// under the proc root, keeping it open after the first read.
func (s *Sampler) readHost(name string) ([]byte, error) {
	k := s.hostFiles[name]
	if k == nil {
		k = &procfs.File{}
		*k = s.files.Keep(filepath.Join(s.cfg.ProcRoot, name), wholeHostFile(name))
		s.hostFiles[name] = k
	}
	if k.Kept() {
		if b, err := s.files.ReadKept(k); err == nil {
			return b, nil
		}
		s.files.Unkeep(k) // read by path from now on
	}
	return s.files.Read(filepath.Join(s.cfg.ProcRoot, name))
}

// wholeHostFile says whether the kernel hands a host file out whole in one
// read (see procfs.Reader.Keep): true of meminfo, loadavg and PSI, not of
// vmstat, a file of many records.
func wholeHostFile(name string) bool {
	switch name {
	case "meminfo", "loadavg", "pressure/memory":
		return true
	}
	return false
}

func (s *Sampler) readSlow(now time.Time) {
	sl := &s.slow
	prev, hadPrev := sl.oom, sl.oomKills != nil
	if sl.unav == nil {
		sl.unav = map[string]string{}
	}
	clear(sl.unav)
	sl.at, sl.load1, sl.load5, sl.load15, sl.psiSome, sl.psiFull, sl.oomKills = now, nil, nil, nil, nil, nil, nil
	sl.disk = sl.disk[:0]
	// Disks last, after the raw reads: see diskUsage.
	defer func() {
		for _, path := range s.cfg.Disks {
			d, err := s.diskUsage(path)
			if err != nil {
				sl.unav["system.disk:"+path] = reasonOf(err)
				continue
			}
			sl.disk = append(sl.disk, d)
		}
	}()
	loadUnav := func(why string) {
		for _, k := range []string{"load1", "load5", "load15"} {
			sl.unav["system."+k] = why
		}
	}
	if b, err := s.readHost("loadavg"); err != nil {
		loadUnav(reasonOf(err))
	} else if l1, l5, l15, err := parseLoadavg(b); err != nil {
		loadUnav(err.Error())
	} else {
		sl.load = [3]float64{l1, l5, l15}
		sl.load1, sl.load5, sl.load15 = &sl.load[0], &sl.load[1], &sl.load[2]
	}
	if b, err := s.readHost("pressure/memory"); err == nil {
		if p, err := parsePSI(b); err == nil {
			sl.psi = [2]float64{p.SomeAvg10, p.FullAvg10}
			sl.psiSome = &sl.psi[0]
			if p.HasFull {
				sl.psiFull = &sl.psi[1]
			}
		} else {
			sl.unav["system.psi_mem_some_avg10"] = err.Error()
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		sl.unav["system.psi_mem_some_avg10"] = "not present: kernel without pressure stall information (CONFIG_PSI)"
	} else {
		sl.unav["system.psi_mem_some_avg10"] = reasonOf(err)
	}
	if b, err := s.readHost("vmstat"); err == nil {
		if n, ok, err := parseVmstat(b); err == nil && ok {
			sl.oom = n
			sl.oomKills = &sl.oom
		} else if err != nil {
			sl.unav["system.oom_kills"] = err.Error()
		} else {
			sl.unav["system.oom_kills"] = "not present: kernel older than 4.13 does not count OOM kills"
		}
	} else {
		sl.unav["system.oom_kills"] = reasonOf(err)
	}
	if sl.oomKills == nil || !hadPrev || prev != sl.oom {
		s.oomSeq++ // cgroup OOM counters may have moved: read them again
	}
}
