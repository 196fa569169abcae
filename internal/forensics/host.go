package forensics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/shirou/gopsutil/v4/common"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/mem"
)

// hostCollector reports the host's health now: memory, swap, load, memory
// pressure, the disks that matter and the processes holding the most memory
// (the usual suspects in an OOM).
type hostCollector struct {
	procRoot string
	disks    []string
	topN     int
	pageSize uint64
	// maxCmdline bounds the bytes of a command line read and shown.
	maxCmdline int

	mu    sync.Mutex
	users map[int]string
}

var _ Collector = (*hostCollector)(nil)

// NewHostCollector returns the "Host health" collector. procRoot is the
// procfs mount (/proc); disks are paths whose filesystems are reported, to
// which the filesystems holding the process's executable and working
// directory are added when known.
func NewHostCollector(procRoot string, disks []string) Collector {
	return &hostCollector{
		procRoot: procRoot, disks: disks, topN: 5,
		pageSize: uint64(os.Getpagesize()), maxCmdline: 512,
		users: map[int]string{},
	}
}

func (c *hostCollector) Collect(ctx context.Context, inc *Incident) (Section, error) {
	s := Section{Title: "Host health"}
	gctx := context.WithValue(ctx, common.EnvKey, common.EnvMap{common.HostProcEnvKey: c.procRoot})

	if vm, err := mem.VirtualMemoryWithContext(gctx); err == nil {
		s.Addf("Memory", "%s available of %s (%s used)", humanBytes(vm.Available), humanBytes(vm.Total),
			pct(vm.Total-min(vm.Available, vm.Total), vm.Total))
		if vm.SwapTotal == 0 {
			s.Add("Swap", "none")
		} else {
			used := vm.SwapTotal - min(vm.SwapFree, vm.SwapTotal)
			s.Addf("Swap", "%s used of %s (%s)", humanBytes(used), humanBytes(vm.SwapTotal), pct(used, vm.SwapTotal))
		}
	} else {
		s.Note("memory: %v", reason(err))
	}
	if b, err := readBounded(filepath.Join(c.procRoot, "loadavg"), 256); err == nil {
		if la, err := parseLoadavg(b); err == nil {
			s.Addf("Load", "%.2f %.2f %.2f (1, 5, 15 min)", la[0], la[1], la[2])
		} else {
			s.Note("load: %v", err)
		}
	} else {
		s.Note("load: %v", reason(err))
	}
	if b, err := os.ReadFile(filepath.Join(c.procRoot, "pressure", "memory")); err == nil {
		if p, err := parsePressure(b); err == nil {
			v := fmt.Sprintf("some avg10=%.2f avg60=%.2f", p.Some.Avg10, p.Some.Avg60)
			if p.Full != nil {
				v += fmt.Sprintf(", full avg10=%.2f avg60=%.2f", p.Full.Avg10, p.Full.Avg60)
			}
			s.Add("Memory pressure", v+" (% of time stalled)")
		} else {
			s.Note("memory pressure: %v", err)
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		s.Note("memory pressure: %s/pressure/memory absent (kernel without CONFIG_PSI, or psi=0)", c.procRoot)
	} else {
		s.Note("memory pressure: %v", reason(err))
	}
	if ctx.Err() != nil {
		return s, ctx.Err()
	}
	c.disksOf(ctx, inc, &s)
	if ctx.Err() != nil {
		return s, ctx.Err()
	}
	c.topProcesses(ctx, inc, &s)
	return s, ctx.Err()
}

// A diskUse is one filesystem and why it is in the report.
type diskUse struct {
	mount string
	why   []string
}

func (c *hostCollector) disksOf(ctx context.Context, inc *Incident, s *Section) {
	var mounts []mount
	if b, err := readBounded(filepath.Join(c.procRoot, "self", "mountinfo"), 4<<20); err == nil {
		mounts = parseMountinfo(b)
	} else {
		s.Note("mounts: %v (each path is reported on its own)", reason(err))
	}
	var uses []*diskUse
	add := func(path, why string) {
		m := mountOf(mounts, path)
		if m == "" {
			m = path
		}
		for _, u := range uses {
			if u.mount == m {
				u.why = append(u.why, why)
				return
			}
		}
		uses = append(uses, &diskUse{mount: m, why: []string{why}})
	}
	for _, d := range c.disks {
		add(d, d)
	}
	if p := inc.Process; p != nil {
		switch {
		case p.ContainerID != "":
			s.Note("disk: the process's exe and working directory are paths inside container %s; see its own filesystem there", shortID(p.ContainerID))
		default:
			if filepath.IsAbs(p.Exe) {
				add(p.Exe, "exe "+p.Exe)
			}
			if cwd, ok := c.cwdOf(p.PID, p.StartTicks); ok {
				add(cwd, "cwd "+cwd)
			}
		}
	}
	for _, u := range uses {
		st, err := statfs(ctx, u.mount)
		if err != nil {
			s.Note("disk %s: %v", u.mount, reason(err))
			continue
		}
		// UsedPercent is df's: used of what an ordinary user can have.
		v := fmt.Sprintf("%s used of %s (%.1f%%), %s free", humanBytes(st.Used), humanBytes(st.Total), st.UsedPercent, humanBytes(st.Free))
		if st.InodesTotal > 0 {
			v += fmt.Sprintf(", inodes %s used", pct(st.InodesUsed, st.InodesTotal))
		}
		if len(u.why) > 1 || u.why[0] != u.mount {
			v += "; holds " + strings.Join(u.why, ", ")
		}
		s.Add("Disk "+u.mount, v)
	}
}

// statfs reads a filesystem's usage, giving up when ctx ends: statfs on a
// dead network mount blocks in the kernel.
func statfs(ctx context.Context, path string) (*disk.UsageStat, error) {
	type res struct {
		u   *disk.UsageStat
		err error
	}
	ch := make(chan res, 1)
	go func() {
		u, err := disk.UsageWithContext(ctx, path)
		ch <- res{u, err}
	}()
	select {
	case r := <-ch:
		return r.u, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("statfs %s: no answer: %w", path, ctx.Err())
	}
}

// cwdOf returns the process's working directory when it is still the same
// process (its start time unchanged).
func (c *hostCollector) cwdOf(pid int, startTicks uint64) (string, bool) {
	if pid <= 0 {
		return "", false
	}
	dir := filepath.Join(c.procRoot, strconv.Itoa(pid))
	b, err := readBounded(filepath.Join(dir, "stat"), 4096)
	if err != nil {
		return "", false
	}
	st, err := parseProcStat(b)
	if err != nil || st.startTicks != startTicks || st.state == "Z" || st.state == "X" {
		return "", false
	}
	cwd, err := os.Readlink(filepath.Join(dir, "cwd"))
	if err != nil || !filepath.IsAbs(cwd) {
		return "", false
	}
	return cwd, true
}

// topProcesses lists the processes with the largest RSS. It reads only
// /proc/PID/stat for every process (the cheap file), then the command line
// and owner of the few it shows.
func (c *hostCollector) topProcesses(ctx context.Context, inc *Incident, s *Section) {
	d, err := os.Open(c.procRoot)
	if err != nil {
		s.Note("top processes: %v", reason(err))
		return
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		s.Note("top processes: %v", reason(err))
		return
	}
	var top []procStat
	for i, n := range names {
		if i%128 == 0 && ctx.Err() != nil {
			s.Note("top processes: stopped after %d of %d: %v", i, len(names), ctx.Err())
			return
		}
		if n == "" || n[0] < '0' || n[0] > '9' {
			continue
		}
		b, err := readBounded(filepath.Join(c.procRoot, n, "stat"), 4096)
		if err != nil {
			continue // gone since the listing, or not ours to read
		}
		st, err := parseProcStat(b)
		if err != nil || st.rssPages <= 0 {
			continue
		}
		top = insertTop(top, st, c.topN)
	}
	if len(top) == 0 {
		s.Note("top processes: none readable under %s", c.procRoot)
		return
	}
	marked := false
	s.Lines = append(s.Lines, fmt.Sprintf("Top %d processes by RSS:", len(top)))
	s.Lines = append(s.Lines, fmt.Sprintf("  %7s  %-12s  %10s  %s", "PID", "USER", "RSS", "COMMAND"))
	for _, p := range top {
		mark := " "
		if inc.Process != nil && inc.Process.PID == p.pid && inc.Process.StartTicks == p.startTicks {
			mark, marked = "*", true
		}
		s.Lines = append(s.Lines, fmt.Sprintf("%s %7d  %-12s  %10s  %s", mark, p.pid, c.owner(p.pid),
			humanBytes(uint64(p.rssPages)*c.pageSize), c.command(p)))
	}
	if marked {
		s.Lines = append(s.Lines, "  (* the process of this incident)")
	}
}

// insertTop keeps the n largest by RSS, largest first.
func insertTop(top []procStat, p procStat, n int) []procStat {
	i := sort.Search(len(top), func(i int) bool { return top[i].rssPages < p.rssPages })
	if i >= n {
		return top
	}
	top = append(top, procStat{})
	copy(top[i+1:], top[i:])
	top[i] = p
	if len(top) > n {
		top = top[:n]
	}
	return top
}

func (c *hostCollector) command(p procStat) string {
	b, err := readBounded(filepath.Join(c.procRoot, strconv.Itoa(p.pid), "cmdline"), c.maxCmdline)
	args := splitCmdline(b)
	if err != nil || len(args) == 0 {
		return "[" + p.comm + "]" // a kernel thread, or a process that is gone
	}
	return truncate(strings.Join(Redact(args), " "), c.maxCmdline)
}

func (c *hostCollector) owner(pid int) string {
	b, err := readBounded(filepath.Join(c.procRoot, strconv.Itoa(pid), "status"), 16<<10)
	if err != nil {
		return "?"
	}
	uid, ok := parseStatusUID(b)
	if !ok {
		return "?"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.users[uid]; ok {
		return n
	}
	n := strconv.Itoa(uid)
	if u, err := user.LookupId(n); err == nil {
		n = u.Username
	}
	c.users[uid] = n
	return n
}

// procStat is the part of /proc/PID/stat this package uses.
type procStat struct {
	pid        int
	comm       string
	state      string
	startTicks uint64
	rssPages   int64
}

var errProcStat = errors.New("parse /proc/PID/stat")

// parseProcStat parses /proc/PID/stat. The command name sits in
// parentheses and may hold spaces and ')', so the fields after it are found
// from the last ')'.
func parseProcStat(b []byte) (procStat, error) {
	var p procStat
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return p, fmt.Errorf("%w: no (comm)", errProcStat)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil || pid <= 0 {
		return p, fmt.Errorf("%w: pid %q", errProcStat, bytes.TrimSpace(b[:open]))
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 22 { // f[i] is field i+3 of proc(5)
		return p, fmt.Errorf("%w: %d fields after comm, want 22 or more", errProcStat, len(f))
	}
	p.pid, p.comm, p.state = pid, string(b[open+1:end]), f[0]
	if p.startTicks, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return p, fmt.Errorf("%w: starttime %q", errProcStat, f[19])
	}
	if p.rssPages, err = strconv.ParseInt(f[21], 10, 64); err != nil {
		return p, fmt.Errorf("%w: rss %q", errProcStat, f[21])
	}
	return p, nil
}

// parseLoadavg parses /proc/loadavg: "0.58 0.81 0.65 1/94 23169".
func parseLoadavg(b []byte) ([3]float64, error) {
	var la [3]float64
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return la, fmt.Errorf("parse loadavg: %q", b)
	}
	for i := range la {
		x, err := strconv.ParseFloat(f[i], 64)
		if err != nil || !(x >= 0) || math.IsInf(x, 0) {
			return la, fmt.Errorf("parse loadavg: %q", f[i])
		}
		la[i] = x
	}
	return la, nil
}

// parseStatusUID returns the real uid from /proc/PID/status.
func parseStatusUID(b []byte) (int, bool) {
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Uid:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				return 0, false
			}
			uid, err := strconv.Atoi(f[0])
			return uid, err == nil && uid >= 0
		}
	}
	return 0, false
}

// splitCmdline splits /proc/PID/cmdline at its NULs.
func splitCmdline(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

// psi is one line of a pressure file.
type psi struct{ Avg10, Avg60, Avg300 float64 }

// pressure is a /proc/pressure file: "some" always, "full" on memory and io.
type pressure struct {
	Some psi
	Full *psi
}

var errPressure = errors.New("parse pressure")

// parsePressure parses /proc/pressure/memory:
//
//	some avg10=0.00 avg60=0.00 avg300=0.00 total=0
//	full avg10=0.00 avg60=0.00 avg300=0.00 total=0
func parsePressure(b []byte) (pressure, error) {
	var p pressure
	haveSome := false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var l psi
		seen := 0
		for _, kv := range f[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return p, fmt.Errorf("%w: %q", errPressure, line)
			}
			var dst *float64
			switch k {
			case "avg10":
				dst = &l.Avg10
			case "avg60":
				dst = &l.Avg60
			case "avg300":
				dst = &l.Avg300
			default:
				continue
			}
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || !(x >= 0) || math.IsInf(x, 0) {
				return p, fmt.Errorf("%w: %s %q", errPressure, k, v)
			}
			*dst = x
			seen++
		}
		if seen != 3 {
			return p, fmt.Errorf("%w: want avg10, avg60 and avg300 in %q", errPressure, line)
		}
		switch f[0] {
		case "some":
			p.Some, haveSome = l, true
		case "full":
			p.Full = &l
		default:
			return p, fmt.Errorf("%w: line %q", errPressure, line)
		}
	}
	if !haveSome {
		return p, fmt.Errorf("%w: no some line", errPressure)
	}
	return p, nil
}

// mount is one line of /proc/PID/mountinfo.
type mount struct{ Point, FSType, Source string }

// parseMountinfo parses /proc/self/mountinfo, skipping lines it cannot
// read: proc(5) "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw".
func parseMountinfo(b []byte) []mount {
	var out []mount
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		m := mount{Point: unescapeMount(f[4])}
		for i := 5; i+2 < len(f); i++ {
			if f[i] == "-" {
				m.FSType, m.Source = f[i+1], unescapeMount(f[i+2])
				break
			}
		}
		out = append(out, m)
	}
	return out
}

// unescapeMount decodes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountOf returns the mount point holding path: the longest that is path
// or a parent of it. The last of equal mount points wins (it is on top).
func mountOf(mounts []mount, path string) string {
	path = filepath.Clean(path)
	best := ""
	for _, m := range mounts {
		p := m.Point
		if p == path || p == "/" || strings.HasPrefix(path, p+"/") {
			if len(p) >= len(best) {
				best = p
			}
		}
	}
	return best
}

// readBounded reads at most max bytes of a file: /proc files are small, but
// a wrong --proc-root must not make us read a huge one.
func readBounded(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(max)))
}

// reason shortens an error to what a reader needs.
func reason(err error) string {
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrPermission) && errors.As(err, &pe):
		return pe.Path + ": permission denied"
	case errors.Is(err, fs.ErrNotExist) && errors.As(err, &pe):
		return pe.Path + ": absent"
	}
	return err.Error()
}

// humanBytes formats a byte count in binary units: 1.5 GiB.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// pct formats part of total as a percentage.
func pct(part, total uint64) string {
	if total == 0 {
		return "?%"
	}
	return strconv.FormatFloat(float64(part)*100/float64(total), 'f', 1, 64) + "%"
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// shortID is a container id as docker ps shows it.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
