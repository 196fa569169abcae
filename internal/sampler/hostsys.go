package sampler

import (
	"errors"
	"io/fs"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/event"
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
	unav                 map[string]string
}

// readSystem reads the host's state; fields it cannot read are left out
// and named in the returned map. fresh forces the slow figures to be read
// (an exit sample always carries a fresh oom_kill count).
func (s *Sampler) readSystem(now time.Time, fresh bool) (*event.System, map[string]string) {
	sys := &event.System{}
	unav := map[string]string{}
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
		total, swapTotal := m.Total, m.SwapTotal
		swapUsed := m.SwapTotal - min(m.SwapFree, m.SwapTotal)
		sys.MemTotalBytes, sys.SwapTotalBytes, sys.SwapUsedBytes = &total, &swapTotal, &swapUsed
		if m.HasAvailable {
			avail := m.Available
			sys.MemAvailableBytes = &avail
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
		k = &keptFile{}
		*k = s.keepOpen(filepath.Join(s.cfg.ProcRoot, name), unix.O_RDONLY)
		s.hostFiles[name] = k
	}
	if k.open {
		if b, err := s.preadInto(k.fd, k.path); err == nil {
			return b, nil
		}
		s.unkeep(k) // read by path from now on
	}
	return s.readInto(filepath.Join(s.cfg.ProcRoot, name))
}

func (s *Sampler) readSlow(now time.Time) {
	prev := s.slow.oomKills
	sl := slowHost{at: now, unav: map[string]string{}}
	// Disks last, after the raw reads: see diskUsage.
	defer func() {
		for _, path := range s.cfg.Disks {
			d, err := s.diskUsage(path)
			if err != nil {
				s.slow.unav["system.disk:"+path] = reasonOf(err)
				continue
			}
			s.slow.disk = append(s.slow.disk, d)
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
		sl.load1, sl.load5, sl.load15 = &l1, &l5, &l15
	}
	if b, err := s.readHost("pressure/memory"); err == nil {
		if p, err := parsePSI(b); err == nil {
			some := p.SomeAvg10
			sl.psiSome = &some
			if p.HasFull {
				full := p.FullAvg10
				sl.psiFull = &full
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
			sl.oomKills = &n
		} else if err != nil {
			sl.unav["system.oom_kills"] = err.Error()
		} else {
			sl.unav["system.oom_kills"] = "not present: kernel older than 4.13 does not count OOM kills"
		}
	} else {
		sl.unav["system.oom_kills"] = reasonOf(err)
	}
	if sl.oomKills == nil || prev == nil || *prev != *sl.oomKills {
		s.oomSeq++ // cgroup OOM counters may have moved: read them again
	}
	s.slow = sl
}
