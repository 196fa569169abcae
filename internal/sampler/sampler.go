package sampler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/procfs"
	"github.com/localsre/sre-agent/internal/waitset"
)

// Src is the src field of every record the sampler makes.
const Src = "sre-sample"

// clockTicks is USER_HZ, the unit of /proc times; 100 on every Linux ABI
// that Go supports.
const clockTicks = 100

// Config is everything the sampler needs from its caller.
type Config struct {
	ProcRoot string // "/proc", or a fixture tree
	SysRoot  string // "/sys", or a fixture tree
	Host     string
	Interval time.Duration
	Count    int // ticks to run; 0 = until cancelled
	Disks    []string
	Targets  []Target
	// One refuses a target that matches several processes at the first
	// tick (ErrAmbiguous) and afterwards samples only the oldest match.
	One bool
	// NoPidfd forces the polling fallback for exit detection.
	NoPidfd bool
	// ExitPoll is how often watched processes are checked when pidfd is
	// not available; default 100ms.
	ExitPoll time.Duration
	// Self is excluded from every match (the sampler's own PID).
	Self int
	// Exclude names process trees no NAME, --match or --user target
	// selects: each PID, its descendants, and the ancestors that launched
	// it (sudo, timeout); see excluder.
	Exclude []int
	// Kmsg is the kernel's log (/dev/kmsg), read at a death when the
	// host's OOM kill counter rose since the process's last sample, to
	// tell whether the OOM killer named it (Exit.OOMKilled); "" never reads it.
	Kmsg string
	// Docker is the daemon container targets ask; needed only with a
	// ByContainer target or ContainerLabels.
	Docker DockerAPI
	// ContainerLabels select containers by label (KEY or KEY=VALUE): each
	// running one, and each that starts later, is a target of its own.
	ContainerLabels []string
	Now             func() time.Time
	// Warnf prints a warning line on the tool's stderr.
	Warnf func(format string, args ...any)
}

// ErrAmbiguous is returned by Run when One is set and a target matches
// several processes.
var ErrAmbiguous = errors.New("ambiguous target")

// Emit receives each sample as soon as it exists. The sample, and all it
// points to, is the sampler's to reuse once Emit returns: a caller that
// keeps a sample keeps a copy (its JSON line, say). So a tick of a known
// --pid or launched process allocates nothing, which at a 1 s interval
// matters as much as the reads: fresh memory is cold memory. (A NAME,
// --match or --user target lists /proc, and a pidfile is read, each tick.)
type Emit func(*event.Sample) error

// Sampler samples its targets until cancelled.
type Sampler struct {
	cfg     Config
	targets []*targetState
	watched map[event.Identity]*proc
	// While Run runs: what it waits on, which ChildExited (from another
	// goroutine) wakes.
	wait     atomic.Pointer[waitset.Set]
	pidfds   bool // exits are noticed through pidfds in the wait set
	child    chan childExit
	seq      uint64
	ticks    int       // ticks completed
	boot     time.Time // wall-clock time of boot; process starts are offsets from it
	bootLive bool      // boot is read from this host's clocks (see refreshBoot)
	bootRead time.Time // time.Now() when boot was read: wall and monotonic readings
	bootWall time.Time // the wall reading alone
	pageSize uint64
	warned   map[warnKey]bool
	users    map[int]string
	names    map[nameKey]nameHit // match cache per (pid, start, comm)
	exclude  *excluder           // nil when Config.Exclude is empty

	files     *procfs.Reader          // every /proc and /sys read, into one buffer
	slow      slowHost                // host figures the kernel updates slowly, or costly ones
	oomSeq    uint64                  // bumped when the system oom_kill counter changes
	cgTick    map[string]cgroupOOM    // per-tick cache of cgroup OOM counters by memory dir
	memMax    map[string]*uint64      // per-tick cache of cgroup memory limits by memory dir
	byPID     map[int]*proc           // watched processes by PID, for their kept stat files
	hostFiles map[string]*procfs.File // host-wide /proc files by name, kept open
	disks     map[string]bool         // disk path → on a local filesystem (see diskUsage)

	// Reused from sample to sample (see Emit).
	smp     event.Sample
	sys     event.System
	mem     [4]uint64               // the memory figures sys points to
	sysUnav map[string]string       // what readSystem could not read
	unav    map[string]string       // a process sample's unavailable fields
	ids     []event.Identity        // watchedBy's answer
	cands   []candidate             // selectPID's answer
	live    map[event.Identity]bool // a target's candidates at this tick

	// Container targets (container.go): the daemon's events on their way
	// from the follower, and Run's context for questions to the daemon.
	ctrQ   ctrQueue
	ctrBuf []ctrMsg
	ctrOn  bool // container targets are followed: the queue is read
	// ctrGone: the daemon's event stream is broken (the follower said so).
	ctrGone atomic.Bool
	ctx     context.Context
}

type targetState struct {
	Target
	pinned    *event.Identity // ByPID: the identity first seen at the PID
	lastCount int
	done      bool      // ByChild: the child has ended; ByContainer by label: removed
	ctr       *ctrState // ByContainer
}

// proc is one watched process identity.
type proc struct {
	id      event.Identity
	targets map[int]bool
	static  event.Process // fields read once at discovery
	unav    map[string]string
	dir     string // /proc/PID under ProcRoot
	memPath string // cgroup memory directory under SysRoot, "" if none
	memV2   bool
	lastCPU uint64
	lastAt  time.Time
	hasLast bool
	last    *event.Process // as last emitted
	cur     event.Process  // the process record of the latest sample
	pct     float64        // cur.CPUPct points here
	hasPct  bool           // pct holds the CPU use of the tick at lastAt
	fds     int            // and cur.FDs here
	samples int            // up samples made
	stat    procfs.File    // /proc/PID/stat, kept open on the real /proc from the second sample
	fdDir   procfs.File    // /proc/PID/fd opened O_PATH, whose size is the fd count
	oomFile procfs.File    // the cgroup's memory.events (v2) or memory.oom_control (v1)
	oom     cgroupOOM
	oomOK   bool
	oomSeq  uint64
	oomAt   time.Time
	child   bool
	// exitHidden: this user may not read the process's exit status (the
	// kernel shows another user's as 0 in /proc/PID/stat unless ptrace
	// would be allowed; /proc/PID/exe answers EACCES under the same rule).
	exitHidden bool
	// The host's OOM kill count beside its last up sample: a death after
	// which it rose sends the sampler to the kernel's log.
	hostOOM   uint64
	hostOOMOK bool
}

type nameKey struct {
	pid   int
	start uint64
	comm  string
}

type nameHit struct {
	args []string
}

type childExit struct {
	pid    int
	status syscall.WaitStatus
	at     time.Time
}

// New checks cfg and returns a Sampler.
func New(cfg Config) (*Sampler, error) {
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = "/proc"
	}
	if cfg.SysRoot == "" {
		cfg.SysRoot = "/sys"
	}
	if cfg.Interval <= 0 {
		return nil, fmt.Errorf("interval %v: must be positive", cfg.Interval)
	}
	if cfg.ExitPoll <= 0 {
		cfg.ExitPoll = 100 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Warnf == nil {
		cfg.Warnf = func(string, ...any) {}
	}
	if len(cfg.Targets) == 0 && len(cfg.ContainerLabels) == 0 {
		return nil, errors.New("no target")
	}
	s := &Sampler{
		cfg:       cfg,
		watched:   map[event.Identity]*proc{},
		child:     make(chan childExit, 1),
		warned:    map[warnKey]bool{},
		users:     map[int]string{},
		names:     map[nameKey]nameHit{},
		cgTick:    map[string]cgroupOOM{},
		memMax:    map[string]*uint64{},
		byPID:     map[int]*proc{},
		hostFiles: map[string]*procfs.File{},
		files:     procfs.NewReader(cfg.ProcRoot, cfg.SysRoot, procfs.Budget()),
		disks:     map[string]bool{},
		pageSize:  uint64(os.Getpagesize()),
		sysUnav:   map[string]string{},
		unav:      map[string]string{},
		live:      map[event.Identity]bool{},
	}
	for _, t := range cfg.Targets {
		s.targets = append(s.targets, &targetState{Target: t})
	}
	if len(cfg.Exclude) > 0 {
		s.exclude = &excluder{roots: slices.Clone(cfg.Exclude), ppid: map[int]int{}}
	}
	return s, nil
}

// ChildExited hands the sampler the wait status of launch mode's child; the
// up:false sample with the exact status follows at once.
func (s *Sampler) ChildExited(pid int, ws syscall.WaitStatus, at time.Time) {
	s.child <- childExit{pid: pid, status: ws, at: at}
	if w := s.wait.Load(); w != nil {
		w.Wake()
	}
}

// Run samples at every tick until ctx ends, Count ticks have passed, or (in
// launch mode) the child has ended and been reported. It returns emit's
// first error.
func (s *Sampler) Run(ctx context.Context, emit Emit) error {
	if err := s.initBoot(); err != nil {
		return err
	}

	ws, err := waitset.New()
	if err != nil {
		return fmt.Errorf("cannot wait for ticks: %w", err)
	}
	s.wait.Store(ws)
	defer func() {
		s.wait.Store(nil)
		ws.Close()
	}()
	ws.Wake() // a child that ended before this point is seen at the first wait
	defer context.AfterFunc(ctx, ws.Wake)()
	s.ctx = ctx
	if s.hasContainers() {
		stop, err := s.startContainers(ctx, ws)
		if err != nil {
			return err
		}
		defer stop()
		s.ctrOn = true
	}
	s.pidfds = false
	if !s.cfg.NoPidfd && s.cfg.ProcRoot == "/proc" {
		if err := waitset.ProbePidfd(); err != nil {
			s.cfg.Warnf("exit notification unavailable (%v): checking watched processes every %v instead", err, s.cfg.ExitPoll)
		} else {
			s.pidfds = true
		}
	}
	if !s.pidfds && s.cfg.ProcRoot == "/proc" {
		ws.SetTimer(waitset.Poll, s.cfg.ExitPoll)
	}
	ws.SetTimer(waitset.Tick, s.cfg.Interval)
	defer s.closeFDs()
	ticks := 0
	for {
		if err := s.tick(emit); err != nil {
			return err
		}
		s.ticks++
		ticks++
		if s.cfg.Count > 0 && ticks >= s.cfg.Count || s.childDone() {
			return nil
		}
		for {
			wu, err := ws.Wait()
			if err != nil {
				return err
			}
			// Deaths first: never lose one to a cancellation.
			for _, id := range wu.Dead {
				if err := s.exited(id, event.NoticedPidfd, s.cfg.Now(), emit); err != nil {
					return err
				}
			}
			if wu.Woken && s.ctrOn {
				if err := s.containerEvents(emit); err != nil {
					return err
				}
			}
			if wu.Woken {
				select {
				case ce := <-s.child:
					if err := s.childEnded(ce, emit); err != nil {
						return err
					}
					if s.childDone() {
						return nil
					}
				default:
				}
				if ctx.Err() != nil {
					return nil
				}
			}
			if wu.Poll {
				if err := s.pollExits(emit); err != nil {
					return err
				}
			}
			if wu.Tick {
				break
			}
		}
	}
}

func (s *Sampler) childDone() bool {
	for _, t := range s.targets {
		if t.Kind == ByChild {
			return t.done
		}
	}
	return false
}

// warnKey names a warning printed once: what it is about ("pidfile",
// "unav", …) and of which file or field. Two strings rather than one joined
// string, so a per-tick check or delete allocates nothing.
type warnKey struct{ what, name string }

func (s *Sampler) warnOnce(key warnKey, format string, args ...any) {
	if s.warned[key] {
		return
	}
	s.warned[key] = true
	s.cfg.Warnf(format, args...)
}

func (s *Sampler) path(parts ...string) string {
	return filepath.Join(append([]string{s.cfg.ProcRoot}, parts...)...)
}

// statOf reads pid's stat through the file kept open for the watched
// process at that PID, or by path when there is none or it has ended (the
// PID may hold another process now).
func (s *Sampler) statOf(pid int) (Stat, error) {
	if p := s.byPID[pid]; p != nil && p.stat.Kept() {
		if b, err := s.files.ReadKept(&p.stat); err == nil {
			return parseStatComm(b, p.cur.Name)
		}
	}
	return s.readStat(pid)
}

// closeFDs closes every file kept open across ticks.
func (s *Sampler) closeFDs() {
	for _, p := range s.watched {
		s.unkeepFiles(p)
	}
	for _, k := range s.hostFiles {
		s.files.Unkeep(k)
	}
}

func (s *Sampler) readStat(pid int) (Stat, error) {
	b, err := s.files.Read(s.path(strconv.Itoa(pid), "stat"))
	if err != nil {
		return Stat{}, err
	}
	return parseStat(b)
}

// alive reports whether a stat describes a running (not dead) process.
func alive(st Stat) bool { return st.State != "Z" && st.State != "X" && st.State != "x" }

// candidate is a live process that a target selects at this tick.
type candidate struct {
	st   Stat
	args []string // nil when not read yet
}

// initBoot sets the boot time process starts are counted from. On a real
// procfs (/proc, or this kernel's procfs mounted elsewhere, as /host/proc in
// a container) it is read from the clocks, to the nanosecond: btime is whole
// seconds, so every start would be early by up to a second and every
// downtime measured against it off by as much. A tree that is not a procfs
// (a fixture given as --proc-root) describes another machine: its own
// stat's btime is its boot, which keeps tests on it deterministic.
func (s *Sampler) initBoot() error {
	if isProcfs(s.cfg.ProcRoot) {
		b, err := clockBoot()
		if err != nil {
			return fmt.Errorf("boot time: %w", err)
		}
		s.boot, s.bootLive = b, true
		s.bootRead = time.Now()
		s.bootWall = s.bootRead.Round(0)
		return nil
	}
	bt, err := readBootTime(s.cfg.ProcRoot)
	if err != nil {
		return fmt.Errorf("boot time from %s/stat: %w", s.cfg.ProcRoot, err)
	}
	s.boot = time.Unix(int64(bt), 0)
	return nil
}

// refreshBoot reads the boot time again when the wall clock stepped since
// it was read (settimeofday, NTP's first sync after boot, a leap second).
// A step is seen for free in time.Now(), which carries a wall and a
// monotonic reading: between two of them the wall clock moves as much as
// the monotonic one unless it stepped (NTP's slewing changes both rates
// alike). Reading the clocks themselves at each tick would cost a system
// call each for CLOCK_BOOTTIME, which has no vDSO path in Go: measured at
// 9–18 µs per tick on a 2-core VM (BenchmarkRefreshBoot), half a tick's CPU.
// A suspend stops the monotonic clock and is taken for a step too; the
// boot time read again is then the same. Called at each tick, so a step is
// followed within one interval.
func (s *Sampler) refreshBoot(now time.Time) {
	if !s.bootLive {
		return
	}
	step := now.Round(0).Sub(s.bootWall) - now.Sub(s.bootRead)
	if step <= bootStep && step >= -bootStep {
		return
	}
	if b, err := clockBoot(); err == nil {
		s.boot = nextBoot(s.boot, b)
		s.bootRead = time.Now()
		s.bootWall = s.bootRead.Round(0)
	}
}

// startOf is the wall-clock start of a process that started ticks clock
// ticks after boot. The kernel truncates the start to a tick, so this is
// up to one tick (10 ms) before the real start, never after.
func (s *Sampler) startOf(ticks uint64) time.Time {
	return s.boot.Add(time.Duration(ticks) * time.Second / clockTicks)
}

// tick samples every target once.
func (s *Sampler) tick(emit Emit) error {
	if s.ctrOn {
		// The daemon's word on a death, if it is in, before a tick's
		// question finds the container dead without it (and before the
		// tick's time, which its samples must not precede).
		if err := s.containerEvents(emit); err != nil {
			return err
		}
	}
	s.refreshBoot(time.Now())
	now := s.cfg.Now()
	var scan []candidate
	scanned := false
	clear(s.cgTick)
	clear(s.memMax)
	sys, sysUnav := s.readSystem(now, false)
	for ti, t := range s.targets {
		if t.done {
			continue
		}
		var cands []candidate
		switch t.Kind {
		case ByName, ByMatch, ByUser:
			if !scanned {
				scan = s.scan()
				scanned = true
			}
			cands = s.selectFrom(t, scan)
		case ByPID:
			cands = s.selectPID(t, t.PID)
		case ByPidfile:
			pid, err := readPidfile(t.Pidfile)
			if err != nil {
				s.warnOnce(warnKey{"pidfile", t.Pidfile}, "target %q: %v: counted as down", t.Label, err)
				break
			}
			delete(s.warned, warnKey{"pidfile", t.Pidfile})
			cands = s.selectPID(t, pid)
		case ByContainer:
			if err := s.containerSample(ti, nil, byTick, now, emit); err != nil {
				return err
			}
			continue
		case ByChild:
			st, err := s.statOf(t.PID)
			if err == nil && alive(st) {
				s.cands = append(s.cands[:0], candidate{st: st})
				cands = s.cands
			} else {
				// The child's exact status is on its way from Wait.
				continue
			}
		}
		slices.SortFunc(cands, func(a, b candidate) int {
			return cmp.Or(cmp.Compare(a.st.StartTicks, b.st.StartTicks), cmp.Compare(a.st.PID, b.st.PID))
		})
		matched := len(cands)
		if len(cands) > 1 {
			if s.cfg.One {
				if s.ticks == 0 {
					return fmt.Errorf("%w %q: it matches %d processes: %s (use --pid, or a narrower --match)",
						ErrAmbiguous, t.Label, len(cands), describe(cands))
				}
				if t.lastCount != matched {
					s.cfg.Warnf("target %q matches %d processes (%s): --one samples only the oldest, pid %d",
						t.Label, len(cands), describe(cands), cands[0].st.PID)
				}
				cands = cands[:1]
			} else if len(cands) != t.lastCount {
				s.cfg.Warnf("target %q matches %d processes (%s): sampling each", t.Label, len(cands), describe(cands))
			}
		}
		// Identities this target watched that are no longer among its
		// candidates have ended (or stopped matching).
		live := s.live
		clear(live)
		for _, c := range cands {
			live[event.Identity{PID: c.st.PID, StartTicks: c.st.StartTicks}] = true
		}
		for _, id := range s.watchedBy(ti) {
			if live[id] {
				continue
			}
			if err := s.ended(id, ti, now, emit); err != nil {
				return err
			}
		}
		t.lastCount = matched
		if len(cands) == 0 {
			smp := s.newSample(t.Label, now)
			smp.System, smp.Unavailable = sys, orNil(sysUnav)
			if err := emit(smp); err != nil {
				return err
			}
			continue
		}
		for _, c := range cands {
			if err := s.sampleOne(ti, c, len(cands), now, sys, sysUnav, emit); err != nil {
				return err
			}
		}
	}
	return nil
}

func describe(cands []candidate) string {
	var b strings.Builder
	for i, c := range cands {
		if i == 8 {
			fmt.Fprintf(&b, ", … %d more", len(cands)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "pid %d %s", c.st.PID, c.st.Comm)
		if len(c.args) > 0 {
			fmt.Fprintf(&b, " %q", strings.Join(c.args, " "))
		}
	}
	return b.String()
}

// newSample starts the next sample in s.smp (see Emit).
func (s *Sampler) newSample(target string, now time.Time) *event.Sample {
	s.seq++
	s.smp = event.Sample{
		Header: event.NewHeader(event.KindSample, Src, s.cfg.Host, now),
		Target: target,
		Seq:    s.seq,
	}
	return &s.smp
}

// watchedBy lists the identities target ti watches, by PID, in a slice
// valid until the next call.
func (s *Sampler) watchedBy(ti int) []event.Identity {
	ids := s.ids[:0]
	for id, p := range s.watched {
		if p.targets[ti] {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b event.Identity) int { return a.PID - b.PID })
	s.ids = ids
	return ids
}

// countWatchedBy is len(watchedBy(ti)), leaving watchedBy's slice alone.
func (s *Sampler) countWatchedBy(ti int) int {
	n := 0
	for _, p := range s.watched {
		if p.targets[ti] {
			n++
		}
	}
	return n
}

// scan lists /proc once and reads each process's stat.
func (s *Sampler) scan() []candidate {
	entries, err := os.ReadDir(s.cfg.ProcRoot)
	if err != nil {
		s.warnOnce(warnKey{what: "scan"}, "cannot list %s: %v", s.cfg.ProcRoot, err)
		return nil
	}
	out := make([]candidate, 0, len(entries))
	x := s.exclude
	if x != nil {
		clear(x.ppid)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == s.cfg.Self && x == nil {
			continue
		}
		st, err := s.readStat(pid)
		if err != nil {
			continue // gone since the listing
		}
		if x != nil {
			x.ppid[pid] = st.PPID // Self's too: its launchers are left out
		}
		if pid == s.cfg.Self || !alive(st) {
			continue // a zombie: not up
		}
		out = append(out, candidate{st: st})
	}
	return out
}

func (s *Sampler) args(c *candidate) []string {
	if c.args != nil {
		return c.args
	}
	k := nameKey{c.st.PID, c.st.StartTicks, c.st.Comm}
	if hit, ok := s.names[k]; ok {
		c.args = hit.args
		return c.args
	}
	b, err := s.files.ReadWaiting(s.path(strconv.Itoa(c.st.PID), "cmdline"))
	if err != nil {
		return nil
	}
	c.args = parseCmdline(b)
	if c.args == nil {
		c.args = []string{}
	}
	s.names[k] = nameHit{args: c.args}
	return c.args
}

func (s *Sampler) selectFrom(t *targetState, scan []candidate) []candidate {
	var out []candidate
	for i := range scan {
		c := &scan[i]
		if t.User != nil {
			uid, ok := s.ownerUID(c.st.PID)
			if !ok || uid != t.User.UID {
				continue
			}
		}
		switch t.Kind {
		case ByName:
			exe := func() string {
				e, _ := os.Readlink(s.path(strconv.Itoa(c.st.PID), "exe"))
				return e
			}
			if !matchesName(t.Name, c.st.Comm, s.args(c), exe) {
				continue
			}
		case ByMatch:
			a := s.args(c)
			if len(a) == 0 || !t.Match.MatchString(strings.Join(a, " ")) {
				continue
			}
		}
		if s.exclude != nil && s.exclude.excluded(s, c.st.PID) {
			continue
		}
		out = append(out, *c)
	}
	s.pruneNames(scan)
	return out
}

// pruneNames drops cache entries of processes no longer listed, so the cache
// stays as large as the process table.
func (s *Sampler) pruneNames(scan []candidate) {
	if len(s.names) <= 2*len(scan)+64 {
		return
	}
	keep := make(map[nameKey]bool, len(scan))
	for _, c := range scan {
		keep[nameKey{c.st.PID, c.st.StartTicks, c.st.Comm}] = true
	}
	for k := range s.names {
		if !keep[k] {
			delete(s.names, k)
		}
	}
}

// ownerUID is the effective UID of a process: the owner of its /proc dir.
func (s *Sampler) ownerUID(pid int) (int, bool) {
	fi, err := os.Stat(s.path(strconv.Itoa(pid)))
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

func (s *Sampler) selectPID(t *targetState, pid int) []candidate {
	st, err := s.statOf(pid)
	if err != nil || !alive(st) {
		return nil
	}
	id := event.Identity{PID: st.PID, StartTicks: st.StartTicks}
	if t.Kind == ByPID {
		if t.pinned == nil {
			pinned := id // only this branch allocates
			t.pinned = &pinned
		} else if *t.pinned != id {
			return nil // the PID was reused: not the process asked for
		}
	}
	s.cands = append(s.cands[:0], candidate{st: st})
	return s.cands
}

func readPidfile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("pidfile %s: %w", path, unwrapPath(err))
	}
	pid, err := ParsePidfile(b)
	if err != nil {
		return 0, fmt.Errorf("pidfile %s: %w", path, err)
	}
	return pid, nil
}

// ParsePidfile parses a pidfile's contents: one positive decimal PID,
// optionally surrounded by whitespace.
func ParsePidfile(b []byte) (int, error) {
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, errors.New("empty")
	}
	if len(f) > 1 {
		return 0, fmt.Errorf("%q: more than one PID", strings.Join(f, " "))
	}
	if strings.Trim(f[0], "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a PID", f[0])
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%q is not a PID", f[0])
	}
	return pid, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// orNil is m, or nil when m is empty (an absent unavailable field).
func orNil(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func (s *Sampler) userName(uid int) string {
	if n, ok := s.users[uid]; ok {
		return n
	}
	n := ""
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		n = u.Username
	}
	s.users[uid] = n
	return n
}
