package sampler

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/event"
)

// Reasons recorded in a sample's unavailable map.
const (
	reasonPermission = "permission denied: another user's process or a restricted /proc (run as its user or root)"
	reasonFirst      = "first sample of this process: CPU use needs two readings"
	reasonKernel     = "kernel thread: no executable"
)

func reasonOf(err error) string {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return reasonPermission
	case errors.Is(err, fs.ErrNotExist):
		return "not present: " + unwrapPath(err).Error()
	}
	return unwrapPath(err).Error()
}

// discover reads what does not change during a process's life and starts
// watching it for its exit.
func (s *Sampler) discover(ti int, c candidate, child bool) *proc {
	id := event.Identity{PID: c.st.PID, StartTicks: c.st.StartTicks}
	if p, ok := s.watched[id]; ok {
		if !p.targets[ti] {
			p.targets[ti] = true
		}
		return p
	}
	dir := s.path(strconv.Itoa(c.st.PID))
	p := &proc{id: id, targets: map[int]bool{ti: true}, unav: map[string]string{}, child: child, dir: dir}
	p.static.Args = s.args(&c)
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		p.static.Exe = exe
	} else if errors.Is(err, fs.ErrNotExist) && len(p.static.Args) == 0 {
		p.unav["process.exe"] = reasonKernel
	} else {
		p.unav["process.exe"] = reasonOf(err)
		p.exitHidden = errors.Is(err, fs.ErrPermission)
	}
	if uid, ok := s.ownerUID(c.st.PID); ok {
		p.static.UID = &uid
		if n := s.userName(uid); n != "" {
			p.static.User = n
		} else {
			p.unav["process.user"] = "uid " + strconv.Itoa(uid) + " has no user name on this host"
		}
	} else {
		p.unav["process.user"] = reasonPermission
	}
	if b, err := s.files.Read(filepath.Join(dir, "cgroup")); err == nil {
		if cg, err := parseCgroup(b); err == nil {
			p.static.Cgroup = cg.Path
			p.static.ContainerID = cg.ContainerID
			p.static.Runtime = cg.Runtime
			p.static.PodUID = cg.PodUID
			s.cgroupMemory(p, cg)
		} else {
			p.unav["process.cgroup"] = err.Error()
		}
	} else {
		p.unav["process.cgroup"] = reasonOf(err)
	}
	var lim unix.Rlimit
	if s.cfg.ProcRoot == "/proc" && unix.Prlimit(c.st.PID, unix.RLIMIT_NOFILE, nil, &lim) == nil {
		if lim.Cur != unix.RLIM_INFINITY {
			n := lim.Cur
			p.static.FDsLimit = &n
		}
	} else if b, err := os.ReadFile(filepath.Join(dir, "limits")); err == nil {
		if n, ok, err := parseLimits(b); err == nil && ok {
			p.static.FDsLimit = &n
		} else if err != nil {
			p.unav["process.fds_limit"] = err.Error()
		}
	} else {
		p.unav["process.fds_limit"] = reasonOf(err)
	}
	s.watched[id] = p
	s.byPID[id.PID] = p
	// On the run's last tick there is no later moment to report an exit
	// in: watching would only cost a pidfd per process (--count 1).
	lastTick := s.cfg.Count > 0 && s.ticks+1 >= s.cfg.Count
	if ws := s.wait.Load(); ws != nil && s.pidfds && !child && !lastTick {
		gone, err := ws.Watch(id)
		if err != nil {
			s.warnOnce(warnKey{what: "pidfd"}, "cannot watch pid %d for its exit (%v): its end is seen at the next tick", id.PID, err)
		}
		_ = gone // the tick that follows sees it gone and reports it
	}
	return p
}

// cgroupMemory finds the memory accounting directory of a cgroup and reads
// its limit.
func (s *Sampler) cgroupMemory(p *proc, cg Cgroup) {
	if cg.MemoryPath == "" {
		return
	}
	var dir, limitFile string
	if cg.V2 {
		dir = filepath.Join(s.cfg.SysRoot, "fs/cgroup", cg.MemoryPath)
		limitFile = "memory.max"
		if _, err := os.Stat(filepath.Join(dir, "memory.events")); err != nil {
			// Hybrid hierarchy: v2 is mounted at fs/cgroup/unified.
			alt := filepath.Join(s.cfg.SysRoot, "fs/cgroup/unified", cg.MemoryPath)
			if _, err := os.Stat(filepath.Join(alt, "memory.events")); err == nil {
				dir = alt
			}
		}
	} else {
		dir = filepath.Join(s.cfg.SysRoot, "fs/cgroup/memory", cg.MemoryPath)
		limitFile = "memory.limit_in_bytes"
	}
	p.memPath, p.memV2 = dir, cg.V2
	if v, ok := s.memMax[dir]; ok {
		p.static.CgroupMemMaxBytes = v
		return
	}
	var max *uint64
	if b, err := s.files.Read(filepath.Join(dir, limitFile)); err == nil {
		if v, ok, err := parseMemMax(b); err == nil && ok {
			max = &v
		}
	}
	s.memMax[dir] = max
	p.static.CgroupMemMaxBytes = max
}

// readOOM reads the cgroup's OOM counters: memory.events on v2, the
// oom_kill line of memory.oom_control on v1 (which has no "oom" count).
func (s *Sampler) readOOM(p *proc, out *event.Process, unav map[string]string, now time.Time) {
	if p.memPath == "" {
		return
	}
	// The cgroup's counters move only with an OOM kill, which the system
	// counter in /proc/vmstat also counts: read them again only when that
	// moved, or at least every slowEvery (v2's "oom" can move alone).
	if !p.oomOK || p.oomSeq != s.oomSeq || now.Sub(p.oomAt) >= slowEvery || now.Before(p.oomAt) {
		c, ok := s.cgTick[p.memPath]
		if !ok {
			c = s.readCgroupOOM(p)
			s.cgTick[p.memPath] = c
		}
		p.oom, p.oomOK, p.oomSeq, p.oomAt = c, true, s.oomSeq, now
	}
	if p.oom.hasOOM {
		out.CgroupOOM = &p.oom.oom
	}
	if p.oom.hasKills {
		out.CgroupOOMKills = &p.oom.kills
	}
	if p.oom.why != "" {
		unav["process.cgroup_oom_kills"] = p.oom.why
	}
}

// cgroupOOM is what a cgroup's OOM counters file said.
type cgroupOOM struct {
	oom, kills       uint64
	hasOOM, hasKills bool
	why              string // why process.cgroup_oom_kills is left out, or ""
}

func (s *Sampler) readCgroupOOM(p *proc) cgroupOOM {
	b, err := s.readOOMFile(p)
	if err != nil {
		return cgroupOOM{why: reasonOf(err)}
	}
	if p.memV2 {
		ev, err := parseMemoryEvents(b)
		if err != nil {
			return cgroupOOM{why: err.Error()}
		}
		return cgroupOOM{oom: ev.OOM, kills: ev.OOMKill, hasOOM: true, hasKills: true}
	}
	n, ok, err := parseOOMControl(b)
	if err != nil {
		return cgroupOOM{why: err.Error()}
	}
	return cgroupOOM{kills: n, hasKills: ok}
}

// keepFiles keeps open the files read from p at every tick. It waits for
// p's second sample: a single pass (--count 1, a short-lived match) would
// only pay for the opens.
func (s *Sampler) keepFiles(p *proc, dir string) {
	p.stat = s.files.Keep(filepath.Join(dir, "stat"), true)
	s.keepFDCount(p, filepath.Join(dir, "fd"))
	if p.memPath != "" {
		p.oomFile = s.files.Keep(p.oomPath(), true)
	}
}

// unkeepFiles closes the files kept open for p.
func (s *Sampler) unkeepFiles(p *proc) {
	s.files.Unkeep(&p.stat)
	s.files.Unkeep(&p.fdDir)
	s.files.Unkeep(&p.oomFile)
}

// oomPath is the cgroup file with p's OOM counters.
func (p *proc) oomPath() string {
	if p.memV2 {
		return filepath.Join(p.memPath, "memory.events")
	}
	return filepath.Join(p.memPath, "memory.oom_control")
}

// readOOMFile reads p's cgroup OOM counters file, kept open or by path.
func (s *Sampler) readOOMFile(p *proc) ([]byte, error) {
	if p.oomFile.Kept() {
		if b, err := s.files.ReadKept(&p.oomFile); err == nil {
			return b, nil
		}
		s.files.Unkeep(&p.oomFile) // the cgroup is gone or changed: by path from now on
	}
	return s.files.Read(p.oomPath())
}

// keepFDCount opens /proc/PID/fd with O_PATH when the kernel gives its
// entry count as the directory's size (Linux 6.2+): one fstat per tick
// instead of open, getdents and close. Only where the directory could be
// listed, so the field is left out for exactly the processes it was before.
func (s *Sampler) keepFDCount(p *proc, dir string) {
	if _, err := s.files.CountEntries(dir); err != nil {
		return
	}
	k := s.files.KeepDir(dir)
	if !k.Kept() {
		return
	}
	if n, err := k.Size(); err != nil || n <= 0 {
		s.files.Unkeep(&k) // an older kernel (size 0), or a process with no fds: list them
		return
	}
	p.fdDir = k
}

// fdCount counts the process's open descriptors.
func (s *Sampler) fdCount(p *proc) (int, error) {
	if p.fdDir.Kept() {
		if n, err := p.fdDir.Size(); err == nil {
			return int(n), nil
		}
	}
	return s.files.CountEntries(filepath.Join(p.dir, "fd"))
}

// forget stops watching p.
func (s *Sampler) forget(p *proc) {
	delete(s.watched, p.id)
	if s.byPID[p.id.PID] == p {
		delete(s.byPID, p.id.PID)
	}
	if ws := s.wait.Load(); ws != nil {
		ws.Unwatch(p.id)
	}
	s.unkeepFiles(p)
}

// sampleOne emits the up sample of one candidate of target ti.
func (s *Sampler) sampleOne(ti int, c candidate, matches int, now time.Time, sys *event.System, sysUnav map[string]string, emit Emit) error {
	t := s.targets[ti]
	// A child's end comes from its wait status, a container's from the
	// daemon: neither is watched for its exit here.
	p := s.discover(ti, c, t.Kind == ByChild || t.Kind == ByContainer)
	pr := s.processFrom(p, c.st, now)
	unav := s.unav
	clear(unav)
	for k, v := range p.unav {
		unav[k] = v
	}
	if pr.CPUPct == nil {
		unav["process.cpu_pct"] = reasonFirst
	}
	if p.samples++; p.samples == 2 {
		s.keepFiles(p, p.dir)
	}
	if n, err := s.fdCount(p); err == nil {
		p.fds = n
		pr.FDs = &p.fds
	} else {
		unav["process.fds"] = reasonOf(err)
	}
	s.readOOM(p, pr, unav, now)
	for k, v := range sysUnav {
		unav[k] = v
	}
	for k, v := range unav {
		if v == reasonFirst {
			continue
		}
		// Checked here first: the arguments would be boxed at every tick.
		if key := (warnKey{"unav", k}); !s.warned[key] {
			s.warnOnce(key, "%s of pid %d (%s) left out: %s", k, c.st.PID, c.st.Comm, v)
		}
	}
	p.last = pr
	if sys.OOMKills != nil {
		p.hostOOM, p.hostOOMOK = *sys.OOMKills, true
	}
	smp := s.newSample(t.Label, now)
	smp.Up, smp.Matches, smp.Process, smp.System = true, matches, pr, sys
	if t.ctr != nil && t.ctr.known {
		smp.Container = &t.ctr.info
	}
	if len(unav) > 0 {
		smp.Unavailable = unav
	}
	return emit(smp)
}

// processFrom builds the process record from the static fields and a fresh
// stat in p.cur, and advances the CPU baseline.
func (s *Sampler) processFrom(p *proc, st Stat, now time.Time) *event.Process {
	p.cur = p.static
	pr := &p.cur
	pr.PID, pr.PPID, pr.Name, pr.State = st.PID, st.PPID, st.Comm, st.State
	pr.Exiting = st.Exiting
	pr.StartTicks = st.StartTicks
	pr.Start = event.At(s.startOf(st.StartTicks))
	pr.RSSBytes = uint64(max(st.RSSPages, 0)) * s.pageSize
	pr.VMSBytes = st.VSize
	pr.Threads = st.Threads
	cpu := st.UTime + st.STime
	pr.CPUTimeS = float64(cpu) / clockTicks
	switch {
	case p.hasLast && now.Equal(p.lastAt):
		// Another target selecting the same process at the same tick: the
		// same reading, and the baseline stays where the interval began.
		if p.hasPct {
			pr.CPUPct = &p.pct
		}
		return pr
	case p.hasLast && now.After(p.lastAt) && cpu >= p.lastCPU:
		pct := float64(cpu-p.lastCPU) / clockTicks / now.Sub(p.lastAt).Seconds() * 100
		p.pct, p.hasPct = float64(int64(pct*100+0.5))/100, true
		pr.CPUPct = &p.pct
	default:
		p.hasPct = false
	}
	p.lastCPU, p.lastAt, p.hasLast = cpu, now, true
	return pr
}

// exitOf reads how a process ended: a zombie's stat still carries its wait
// status (Linux 3.5+), which is all that can be known of another process's
// end without being its parent.
func (s *Sampler) exitOf(p *proc, noticed string, now time.Time) *event.Exit {
	ex := &event.Exit{PID: p.id.PID, Noticed: noticed}
	if st, err := s.readStat(p.id.PID); err == nil && st.StartTicks == p.id.StartTicks {
		if st.State == "Z" && noticed == event.NoticedGone {
			ex.Noticed = event.NoticedZombie
		}
		// A status this user may not read shows as 0: not a clean exit.
		if st.HasExitCode && !p.exitHidden && (st.State == "Z" || st.State == "X") {
			setStatus(ex, syscall.WaitStatus(st.ExitCode))
		}
	} else if err == nil && noticed == event.NoticedGone {
		ex.Noticed = event.NoticedReused
	}
	start := s.startOf(p.id.StartTicks)
	if up := now.Sub(start).Seconds(); up > 0 {
		ex.UptimeS = float64(int64(up*1000)) / 1000
	}
	return ex
}

func setStatus(ex *event.Exit, ws syscall.WaitStatus) {
	switch {
	case ws.Exited():
		c := ws.ExitStatus()
		ex.Code = &c
	case ws.Signaled():
		sig := ws.Signal()
		ex.SignalNum = int(sig)
		ex.Signal = unix.SignalName(sig)
		if ex.Signal == "" {
			ex.Signal = "SIG" + strconv.Itoa(int(sig))
		}
		ex.CoreDump = ws.CoreDump()
	}
}

// oomNamed asks the kernel's log whether the OOM killer killed p, when
// it may have: p was killed by a signal or its status is unknown, and the
// host's OOM kill counter rose since p's last sample. It sets
// ex.OOMKilled, or returns why it could not tell.
func (s *Sampler) oomNamed(p *proc, ex *event.Exit, sys *event.System) (why string) {
	if s.cfg.Kmsg == "" || ex.Code != nil || ex.Signal != "" && ex.Signal != "SIGKILL" ||
		!p.hostOOMOK || sys.OOMKills == nil || *sys.OOMKills <= p.hostOOM {
		return ""
	}
	name := ""
	if p.last != nil {
		name = p.last.Name
	}
	// The log's clock and start_ticks' both count from boot; a second of
	// slack for their rounding.
	start := float64(p.id.StartTicks) / clockTicks
	line, err := readOOMNamed(s.cfg.Kmsg, p.id.PID, name, start-1)
	if err != nil {
		return "kernel log: " + reasonOf(err)
	}
	named := line != ""
	ex.OOMKilled, ex.OOMKernelMsg = &named, line
	return ""
}

// exited reports the end of a watched identity to every target watching it;
// now is when it was noticed.
func (s *Sampler) exited(id event.Identity, noticed string, now time.Time, emit Emit) error {
	p, ok := s.watched[id]
	if !ok {
		return nil
	}
	ex := s.exitOf(p, noticed, now)
	return s.reportExit(p, ex, nil, now, emit)
}

// reportExit emits the death of p to every target watching it; ct is the
// container whose main process it was, if any.
func (s *Sampler) reportExit(p *proc, ex *event.Exit, ct *event.Container, now time.Time, emit Emit) error {
	// The cgroup's OOM counters as of the death, read while its file is
	// still kept: a kill in the cgroup between the last tick and now shows.
	if p.last != nil && p.oomOK && p.memPath != "" {
		if c := s.readCgroupOOM(p); c.why == "" && c.hasKills == p.oom.hasKills && c.hasOOM == p.oom.hasOOM {
			p.oom = c // p.last's counters point into p.oom
		}
	}
	s.forget(p)
	sys, sysUnav := s.readSystem(now, true)
	why := s.oomNamed(p, ex, sys)
	for ti := range s.targets {
		if !p.targets[ti] {
			continue
		}
		smp := s.newSample(s.targets[ti].Label, now)
		smp.Process, smp.Exit, smp.System, smp.Container = p.last, ex, sys, ct
		smp.Matches = s.countWatchedBy(ti)
		smp.Unavailable = orNil(sysUnav)
		if why != "" {
			smp.Unavailable = maps.Clone(sysUnav)
			smp.Unavailable["exit.oom_killed"] = why
		}
		if err := emit(smp); err != nil {
			return err
		}
	}
	return nil
}

// ended handles an identity that target ti no longer selects at a tick: if
// it still runs it merely stopped matching (exec, a new pidfile); otherwise
// it died without a notification reaching us first.
func (s *Sampler) ended(id event.Identity, ti int, now time.Time, emit Emit) error {
	p := s.watched[id]
	if p.child {
		return nil // the child's end is reported from its wait status
	}
	st, err := s.readStat(id.PID)
	if err == nil && st.StartTicks == id.StartTicks && alive(st) {
		delete(p.targets, ti)
		if len(p.targets) == 0 {
			s.forget(p)
		}
		return nil
	}
	return s.exited(id, event.NoticedGone, now, emit)
}

// pollExits is the fallback when pidfd is unavailable: check each watched
// process's stat.
func (s *Sampler) pollExits(emit Emit) error {
	for id, p := range s.watched {
		if p.child {
			continue
		}
		st, err := s.readStat(id.PID)
		if err == nil && st.StartTicks == id.StartTicks && alive(st) {
			continue
		}
		if err := s.exited(id, event.NoticedGone, s.cfg.Now(), emit); err != nil {
			return err
		}
	}
	return nil
}

// childEnded reports launch mode's child with its exact wait status.
func (s *Sampler) childEnded(ce childExit, emit Emit) error {
	for _, t := range s.targets {
		if t.Kind == ByChild && t.PID == ce.pid {
			t.done = true
		}
	}
	var p *proc
	for _, w := range s.watched {
		if w.child && w.id.PID == ce.pid {
			p = w
		}
	}
	if p == nil { // ended before its first sample
		p = &proc{id: event.Identity{PID: ce.pid}, targets: map[int]bool{}, child: true}
		for ti, t := range s.targets {
			if t.Kind == ByChild {
				p.targets[ti] = true
			}
		}
	}
	ex := &event.Exit{PID: ce.pid, Noticed: event.NoticedWait}
	setStatus(ex, ce.status)
	if p.last != nil {
		if up := ce.at.Sub(p.last.Start.Time).Seconds(); up > 0 {
			ex.UptimeS = float64(int64(up*1000)) / 1000
		}
	}
	return s.reportExit(p, ex, nil, ce.at, emit)
}
