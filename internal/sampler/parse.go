package sampler

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// ErrParse is wrapped by every parse failure of /proc or /sys text.
var ErrParse = errors.New("parse error")

// Stat is what one read of /proc/PID/stat tells.
type Stat struct {
	PID        int
	Comm       string
	State      string
	PPID       int
	UTime      uint64 // clock ticks
	STime      uint64 // clock ticks
	Threads    int
	StartTicks uint64 // clock ticks after boot
	VSize      uint64 // bytes
	RSSPages   int64
	// ExitCode is the wait status of a zombie (field 52, Linux 3.5+);
	// HasExitCode says whether the field was there.
	ExitCode    int
	HasExitCode bool
	// Exiting: the kernel is ending the process (see dying).
	Exiting bool
}

// Bits of the thread group leader's task in /proc/PID/stat: field 9 is its
// task->flags, field 31 its private pending signals (both printed for any
// reader, whatever ptrace_may_access says; fs/proc/array.c do_task_stat).
const (
	pfExiting      = 0x4   // PF_EXITING: do_exit has begun (exit_signals)
	pfSignaled     = 0x400 // PF_SIGNALED: get_signal took a fatal signal, do_group_exit follows
	sigkillPending = 1 << (9 - 1)
)

// dying reports whether the leader's flags and pending signals show the
// kernel ending the process. A SIGKILL, whoever sent it (kill -9, the OOM
// killer, exit_group in another thread, a fatal signal's group kill), is
// put in every thread's pending set at once under the signal lock; the
// leader then takes it (PF_SIGNALED) and enters do_exit (PF_EXITING) before
// its mm goes (vms_bytes 0). Meanwhile the other threads end and the
// memory is freed, so the readings of those moments show threads falling
// and RSS going while vms_bytes is still whole: only these bits tell them.
// Checked on Linux 6.18 by reading the stat of a SIGKILLed 512 MiB,
// 21-thread process in a loop: every reading after the kill showed one of
// the three, the first ones (threads 21 → 1, RSS whole) only the pending
// SIGKILL. Left unmarked are only instants inside the kernel: between the
// leader taking the SIGKILL and setting PF_SIGNALED, and, when the main
// thread itself calls exit, between its call and PF_EXITING.
//
// The bits are the leader's, not the process's: a leader that ends alone
// (pthread_exit in main while other threads run) shows PF_EXITING, and
// stays a zombie (state Z, vms_bytes 0) while the process lives on. The
// sampler takes a Z leader as ended (see alive), so such a process has no up
// reading after its leader's few microseconds in do_exit, and reading the
// other threads' /proc/PID/task/TID/stat to tell it apart would cost a
// read for nothing.
func dying(flags, pending uint64) bool {
	return flags&(pfExiting|pfSignaled) != 0 || pending&sigkillPending != 0
}

// parseStat parses /proc/PID/stat. The command name sits in parentheses and
// may itself contain spaces and ')', so the fields after it are found from
// the last ')'.
func parseStat(b []byte) (Stat, error) { return parseStatComm(b, "") }

// parseStatComm is parseStat, taking the command name from comm when it is
// the same, which spares a string at every tick of a watched process.
func parseStatComm(b []byte, comm string) (Stat, error) {
	var s Stat
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return s, fmt.Errorf("%w: stat: no (comm)", ErrParse)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil || pid <= 0 {
		return s, fmt.Errorf("%w: stat: pid %q", ErrParse, bytes.TrimSpace(b[:open]))
	}
	s.PID = pid
	if c := b[open+1 : end]; string(c) == comm {
		s.Comm = comm
	} else {
		s.Comm = string(c)
	}
	// f[i] is field i+3 of proc(5); split in place, without allocating.
	var fa [52][]byte
	f := fa[:0]
	for rest := b[end+1:]; len(f) < len(fa); {
		var field []byte
		if field, rest = nextField(rest); field == nil {
			break
		}
		f = append(f, field)
	}
	if len(f) < 22 {
		return s, fmt.Errorf("%w: stat: %d fields after comm, want at least 22", ErrParse, len(f))
	}
	if len(f[0]) != 1 {
		return s, fmt.Errorf("%w: stat: state %q", ErrParse, f[0])
	}
	s.State = string(f[0])
	num := func(i int) uint64 {
		if err != nil {
			return 0
		}
		v, ok := decimal(f[i])
		if !ok {
			err = fmt.Errorf("%w: stat: field %d %q: not a decimal number below 2^64", ErrParse, i+3, f[i])
		}
		return v
	}
	// A PID or thread count is far below 2^31; a larger one would wrap
	// negative as an int.
	small := func(i int) int {
		v := num(i)
		if err == nil && v > math.MaxInt32 {
			err = fmt.Errorf("%w: stat: field %d %q: out of range", ErrParse, i+3, f[i])
		}
		return int(v)
	}
	s.PPID = small(1)
	flags := num(6)
	s.UTime = num(11)
	s.STime = num(12)
	s.Threads = small(17)
	s.StartTicks = num(19)
	s.VSize = num(20)
	if err == nil {
		// rss may be negative (a kernel accounting race), so signed.
		neg := len(f[21]) > 1 && f[21][0] == '-'
		v, ok := decimal(f[21][btoi(neg):])
		if !ok || v > math.MaxInt64 {
			err = fmt.Errorf("%w: stat: field 24 %q: not a number", ErrParse, f[21])
		}
		s.RSSPages = int64(v)
		if neg {
			s.RSSPages = -s.RSSPages
		}
	}
	var pending uint64
	if len(f) > 28 {
		pending = num(28)
	}
	s.Exiting = err == nil && dying(flags, pending)
	if err == nil && len(f) >= 50 {
		if c, ok := decimal(f[49]); ok && c <= math.MaxInt32 {
			s.ExitCode, s.HasExitCode = int(c), true
		}
	}
	return s, err
}

// decimal parses an unsigned decimal number without a sign, as /proc
// writes them; ok is false for anything else or for an overflow.
func decimal(b []byte) (v uint64, ok bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Status is the part of /proc/PID/status the sampler uses.
type Status struct {
	Name    string
	UID     int // real
	EUID    int
	Threads int
	HasUID  bool
}

// parseStatus parses /proc/PID/status.
func parseStatus(b []byte) (Status, error) {
	var s Status
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Name":
			s.Name = v
		case "Uid":
			f := strings.Fields(v)
			if len(f) < 2 {
				return s, fmt.Errorf("%w: status: Uid %q", ErrParse, v)
			}
			r, err1 := strconv.Atoi(f[0])
			e, err2 := strconv.Atoi(f[1])
			if err1 != nil || err2 != nil {
				return s, fmt.Errorf("%w: status: Uid %q", ErrParse, v)
			}
			s.UID, s.EUID, s.HasUID = r, e, true
		case "Threads":
			n, err := strconv.Atoi(v)
			if err != nil {
				return s, fmt.Errorf("%w: status: Threads %q", ErrParse, v)
			}
			s.Threads = n
		}
	}
	if !s.HasUID {
		return s, fmt.Errorf("%w: status: no Uid line", ErrParse)
	}
	return s, nil
}

// Cgroup is a process's cgroup and the container it belongs to, if any.
type Cgroup struct {
	Path        string // the v1 memory controller's path if there is one, else the unified (v2) path
	V2          bool   // Path is a cgroup v2 path
	MemoryPath  string // where memory accounting lives (v1 memory controller or v2)
	ContainerID string
	Runtime     string // docker, containerd, podman, crio, kubepods
	PodUID      string
}

var (
	// A 64-hex container id as the last part of a path element, with the
	// prefixes systemd's cgroup driver adds.
	containerRe = regexp.MustCompile(`(?:^|/)(docker-|libpod-|libpod-conmon-|cri-containerd-|crio-|crio-conmon-)?([0-9a-f]{64})(?:\.scope)?(?:/|$)`)
	podRe       = regexp.MustCompile(`pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})`)
)

// parseCgroup parses /proc/PID/cgroup (v1, v2 or hybrid) and recognises the
// Docker, containerd, podman, CRI-O and kubepods path forms.
func parseCgroup(b []byte) (Cgroup, error) {
	var cg Cgroup
	var v2, mem, first string
	seen := false
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return cg, fmt.Errorf("%w: cgroup: line %q", ErrParse, line)
		}
		seen = true
		id, ctrls, path := parts[0], parts[1], parts[2]
		switch {
		case id == "0" && ctrls == "":
			v2 = path
		case hasController(ctrls, "memory"):
			mem = path
		}
		if first == "" && path != "/" {
			first = path
		}
	}
	if !seen {
		return cg, fmt.Errorf("%w: cgroup: empty", ErrParse)
	}
	// A controller is bound to one hierarchy: a v1 line naming memory wins
	// over the unified line, which in systemd's hybrid mode only tracks
	// processes and has no memory files.
	switch {
	case mem != "":
		cg.Path, cg.MemoryPath = mem, mem
	case v2 != "":
		cg.Path, cg.V2, cg.MemoryPath = v2, true, v2
	case first != "":
		cg.Path = first
	default:
		cg.Path = "/"
	}
	for _, p := range []string{v2, mem, first} {
		if p == "" {
			continue
		}
		if m := containerRe.FindAllStringSubmatch(p, -1); m != nil {
			last := m[len(m)-1]
			cg.ContainerID = last[2]
			cg.Runtime = runtimeOf(last[1], p)
		}
		if m := podRe.FindStringSubmatch(p); m != nil {
			cg.PodUID = strings.ReplaceAll(m[1], "_", "-")
			if cg.Runtime == "" {
				cg.Runtime = "kubepods"
			}
		}
		if cg.ContainerID != "" {
			break
		}
	}
	return cg, nil
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

func runtimeOf(prefix, path string) string {
	switch {
	case strings.HasPrefix(prefix, "docker"):
		return "docker"
	case strings.HasPrefix(prefix, "libpod"):
		return "podman"
	case strings.HasPrefix(prefix, "cri-containerd"):
		return "containerd"
	case strings.HasPrefix(prefix, "crio"):
		return "crio"
	case strings.Contains(path, "/docker/"):
		return "docker"
	case strings.Contains(path, "kubepods"):
		return "kubepods"
	case strings.Contains(path, "containerd"):
		return "containerd"
	case strings.Contains(path, "libpod"), strings.Contains(path, "podman"):
		return "podman"
	}
	return "containerd" // a bare id under a namespace (ctr run) is containerd's form
}

// eachKeyValue calls f with each "key value" line's key and number
// (memory.events, memory.oom_control); a line that is not two fields with
// a number is an error. Nothing is allocated: the cgroup's counters are read
// every 2 s.
func eachKeyValue(name string, b []byte, f func(k []byte, v uint64)) error {
	for len(b) > 0 {
		var line []byte
		line, b = cutLine(b)
		k, rest := nextField(line)
		if k == nil {
			continue
		}
		v, rest := nextField(rest)
		if extra, _ := nextField(rest); v == nil || extra != nil {
			return fmt.Errorf("%w: %s: line %q", ErrParse, name, line)
		}
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return fmt.Errorf("%w: %s: %s %q", ErrParse, name, k, v)
		}
		f(k, n)
	}
	return nil
}

// cutLine splits b at its first newline.
func cutLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// nextField returns the first field of b, delimited by ASCII white space
// as strings.Fields would (the kernel writes only ASCII here), and the rest
// of b after it; field is nil when there is none.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && asciiSpace(b[i]) {
		i++
	}
	if i == len(b) {
		return nil, nil
	}
	j := i
	for j < len(b) && !asciiSpace(b[j]) {
		j++
	}
	return b[i:j], b[j:]
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// parseVmstat returns the kernel's oom_kill counter from /proc/vmstat;
// ok is false on kernels older than 4.13, which do not count OOM kills.
func parseVmstat(b []byte) (oomKills uint64, ok bool, err error) {
	// Scan only for the one line: vmstat has ~150 of them.
	i := bytes.Index(b, []byte("\noom_kill "))
	if i < 0 {
		if !bytes.HasPrefix(b, []byte("oom_kill ")) {
			return 0, false, nil
		}
		i = -1
	}
	rest := b[i+1+len("oom_kill "):]
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	v, perr := strconv.ParseUint(string(bytes.TrimSpace(rest)), 10, 64)
	if perr != nil {
		return 0, false, fmt.Errorf("%w: vmstat: oom_kill %q", ErrParse, rest)
	}
	return v, true, nil
}

// PSI is one resource's pressure averages (percent of wall time stalled).
type PSI struct {
	SomeAvg10, FullAvg10 float64
	HasFull              bool
}

// parsePSI parses /proc/pressure/memory (or a cgroup's memory.pressure).
func parsePSI(b []byte) (PSI, error) {
	var p PSI
	haveSome := false
	for len(b) > 0 {
		var line []byte
		line, b = cutLine(b)
		kind, rest := nextField(line)
		if kind == nil {
			continue
		}
		var avg10 float64
		found := false
		for {
			var kv []byte
			if kv, rest = nextField(rest); kv == nil {
				break
			}
			k, v, ok := bytes.Cut(kv, []byte("="))
			if ok && string(k) == "avg10" {
				x, err := strconv.ParseFloat(string(v), 64)
				if err != nil || !(x >= 0) || math.IsInf(x, 0) { // NaN and Inf do not marshal
					return p, fmt.Errorf("%w: pressure: avg10 %q", ErrParse, v)
				}
				avg10, found = x, true
			}
		}
		if !found {
			return p, fmt.Errorf("%w: pressure: no avg10 in %q", ErrParse, line)
		}
		switch string(kind) {
		case "some":
			p.SomeAvg10, haveSome = avg10, true
		case "full":
			p.FullAvg10, p.HasFull = avg10, true
		default:
			return p, fmt.Errorf("%w: pressure: line %q", ErrParse, line)
		}
	}
	if !haveSome {
		return p, fmt.Errorf("%w: pressure: no some line", ErrParse)
	}
	return p, nil
}

// MemoryEvents are the cgroup v2 memory.events counters the sampler reports.
type MemoryEvents struct {
	OOM, OOMKill uint64
}

// parseMemoryEvents parses a cgroup v2 memory.events file.
func parseMemoryEvents(b []byte) (MemoryEvents, error) {
	var ev MemoryEvents
	var hasOOM, hasKill bool
	err := eachKeyValue("memory.events", b, func(k []byte, v uint64) {
		switch string(k) {
		case "oom":
			ev.OOM, hasOOM = v, true
		case "oom_kill":
			ev.OOMKill, hasKill = v, true
		}
	})
	if err != nil {
		return MemoryEvents{}, err
	}
	if !hasOOM || !hasKill {
		return MemoryEvents{}, fmt.Errorf("%w: memory.events: no oom/oom_kill", ErrParse)
	}
	return ev, nil
}

// parseOOMControl returns the oom_kill count of a cgroup v1
// memory.oom_control file; ok is false on kernels that do not count it
// there (before 4.13).
func parseOOMControl(b []byte) (kills uint64, ok bool, err error) {
	err = eachKeyValue("memory.oom_control", b, func(k []byte, v uint64) {
		if string(k) == "oom_kill" {
			kills, ok = v, true
		}
	})
	if err != nil {
		return 0, false, err
	}
	return kills, ok, nil
}

// parseLimits returns the soft "Max open files" limit from /proc/PID/limits;
// ok is false when it is unlimited.
func parseLimits(b []byte) (soft uint64, ok bool, err error) {
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "Max open files") {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, "Max open files"))
		if len(f) < 2 {
			return 0, false, fmt.Errorf("%w: limits: %q", ErrParse, line)
		}
		if f[0] == "unlimited" {
			return 0, false, nil
		}
		v, perr := strconv.ParseUint(f[0], 10, 64)
		if perr != nil {
			return 0, false, fmt.Errorf("%w: limits: %q", ErrParse, line)
		}
		return v, true, nil
	}
	return 0, false, fmt.Errorf("%w: limits: no Max open files line", ErrParse)
}

// parseCmdline splits /proc/PID/cmdline at NULs.
func parseCmdline(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	parts := bytes.Split(b, []byte{0})
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(p)
	}
	return out
}

// parseMemMax parses cgroup v2 memory.max or v1 memory.limit_in_bytes;
// ok is false for "max" or v1's effectively-unlimited huge value.
func parseMemMax(b []byte) (uint64, bool, error) {
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, false, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%w: memory limit %q", ErrParse, s)
	}
	if v >= 1<<62 { // v1 reports "unlimited" as a page-rounded LONG_MAX
		return 0, false, nil
	}
	return v, true, nil
}
