package forensics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/procfs"
)

// kernelCollector reports what the kernel said about memory: the host's
// OOM-kill counter, the process's cgroup counters, and the kernel log lines
// about this process or about OOM kills in the last hour, from the first of
// dmesg, /dev/kmsg and journalctl -k that it is allowed to read.
type kernelCollector struct {
	procRoot   string
	dmesg      string // program; found on PATH when not absolute
	kmsg       string // the kernel log device
	journalctl string
	lookPath   func(string) (string, error)
	window     time.Duration // how far back before the incident
	maxLines   int           // matching lines kept (the last ones)
	maxLine    int           // bytes of one line shown
	maxBytes   int64         // bytes of log read from one source
	cred       *syscall.Credential
}

var _ Collector = (*kernelCollector)(nil)

// NewKernelCollector returns the "Kernel OOM signals" collector; procRoot
// is the procfs mount (/proc).
func NewKernelCollector(procRoot string) Collector {
	return &kernelCollector{
		procRoot: procRoot, dmesg: "dmesg", kmsg: "/dev/kmsg", journalctl: "journalctl",
		lookPath: exec.LookPath, window: time.Hour,
		maxLines: 40, maxLine: 512, maxBytes: 16 << 20,
	}
}

func (c *kernelCollector) Collect(ctx context.Context, inc *Incident) (Section, error) {
	s := Section{Title: "Kernel OOM signals"}
	if b, err := readBounded(filepath.Join(c.procRoot, "vmstat"), 64<<10); err == nil {
		if n, ok := vmstatOOMKills(b); ok {
			s.Addf("Host OOM kills", "%d since boot (/proc/vmstat oom_kill)", n)
		} else {
			s.Note("host OOM kills: no oom_kill line in %s/vmstat (kernel older than 4.13)", c.procRoot)
		}
	} else {
		s.Note("host OOM kills: %v", reason(err))
	}
	if p := inc.Process; p != nil {
		switch {
		case p.CgroupOOMKills != nil:
			s.Addf("Cgroup OOM kills", "%d (memory.events oom_kill at the last sample)", *p.CgroupOOMKills)
		case p.Cgroup != "":
			s.Note("cgroup OOM kills: not read for cgroup %s at the last sample (see the sample's unavailable list)", p.Cgroup)
		}
		if p.CgroupOOM != nil {
			s.Addf("Cgroup OOM events", "%d (memory.events oom: the limit was hit)", *p.CgroupOOM)
		}
		if p.CgroupMemMaxBytes != nil {
			v := humanBytes(*p.CgroupMemMaxBytes)
			if p.RSSBytes > 0 {
				v += fmt.Sprintf(" (last RSS %s, %s of it)", humanBytes(p.RSSBytes), pct(p.RSSBytes, *p.CgroupMemMaxBytes))
			}
			s.Add("Cgroup memory limit", v)
		}
	}
	c.kernelLog(ctx, inc, &s)
	return s, ctx.Err()
}

// kernelLog fills the kernel log lines from the first permitted source.
func (c *kernelCollector) kernelLog(ctx context.Context, inc *Incident, s *Section) {
	now := inc.Now
	if now.IsZero() {
		now = time.Now()
	}
	at := inc.At
	if at.IsZero() {
		at = now
	}
	w := &logWindow{from: at.Add(-c.window), max: c.maxLines, maxLine: c.maxLine}
	if b, err := readBounded(filepath.Join(c.procRoot, "uptime"), 256); err == nil {
		if up, err := parseUptime(b); err == nil {
			w.boot, w.haveBoot = now.Add(-up), true
		}
	}
	if !w.haveBoot {
		s.Note("kernel log: %s/uptime unreadable: lines are not limited to the last %v and show the kernel's own clock", c.procRoot, c.window)
	}
	if p := inc.Process; p != nil {
		w.m = newKernelMatcher(p.PID, p.Name)
	} else {
		w.m = newKernelMatcher(0, "")
	}
	restrict := c.dmesgRestrict()
	type source struct {
		name string
		read func() error
	}
	for _, src := range []source{
		{"dmesg", func() error { return c.readDmesg(ctx, w) }},
		{c.kmsg, func() error { return c.readKmsg(ctx, w) }},
		{"journalctl -k", func() error { return c.readJournal(ctx, w) }},
	} {
		if ctx.Err() != nil {
			s.Note("%s: not tried: %v", src.name, ctx.Err())
			return
		}
		w.reset()
		err := src.read()
		if err != nil {
			s.Note("%s: %s", src.name, refusal(src.name, err, restrict))
			continue
		}
		s.Add("Kernel log source", src.name)
		what := "in the last " + c.window.String()
		if !w.haveBoot {
			what = "in the kernel's buffer"
		}
		v := fmt.Sprintf("%d about pid %d, its name or OOM kills %s (%d read)", w.matched, w.m.pid, what, w.read)
		if w.m.pid == 0 {
			v = fmt.Sprintf("%d about OOM kills %s (%d read)", w.matched, what, w.read)
		}
		if w.matched > len(w.lines) {
			v += fmt.Sprintf("; the last %d shown", len(w.lines))
		}
		if w.truncated {
			v += fmt.Sprintf("; stopped after %s of log", humanBytes(uint64(c.maxBytes)))
		}
		s.Add("Kernel log lines", v)
		s.Lines = append(s.Lines, w.lines...)
		return
	}
	s.Note("kernel log: no source could be read; the kernel's OOM report is not in this report")
}

// dmesgRestrict reads kernel.dmesg_restrict: "1", "0", or "" when unknown.
func (c *kernelCollector) dmesgRestrict() string {
	b, err := readBounded(filepath.Join(c.procRoot, "sys", "kernel", "dmesg_restrict"), 16)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// refusal says why source could not be read, naming dmesg_restrict when
// it is what refused us.
func refusal(source string, err error, restrict string) string {
	var ee *exec.Error
	if errors.As(err, &ee) && errors.Is(ee.Err, exec.ErrNotFound) {
		return "not installed (not on PATH)"
	}
	msg := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		switch {
		case errors.Is(err, fs.ErrNotExist) && pe.Path == source:
			return "absent"
		case errors.Is(err, fs.ErrNotExist):
			return pe.Path + " absent"
		case pe.Path == source:
			msg = pe.Op + ": " + pe.Err.Error()
		}
	}
	// "dmesg: read kernel buffer failed: …" under the heading dmesg.
	prog, _, _ := strings.Cut(source, " ")
	msg = strings.TrimPrefix(msg, prog+": ")
	perm := errors.Is(err, fs.ErrPermission) || strings.Contains(msg, "Operation not permitted") ||
		strings.Contains(msg, "Permission denied")
	if perm && restrict == "1" {
		return msg + " (kernel.dmesg_restrict=1: only root or CAP_SYSLOG may read the kernel log)"
	}
	return msg
}

func (c *kernelCollector) program(name string) (string, error) {
	if filepath.IsAbs(name) {
		return name, nil
	}
	return c.lookPath(name)
}

// readDmesg runs dmesg and reads its "[  secs.usecs] message" lines.
func (c *kernelCollector) readDmesg(ctx context.Context, w *logWindow) error {
	prog, err := c.program(c.dmesg)
	if err != nil {
		return err
	}
	// Without a terminal dmesg neither pages nor colours; --notime is not
	// wanted: the kernel's timestamps place a line in the window.
	cmd := command{argv: []string{prog}, cred: c.cred}
	trunc, _, err := cmd.lines(ctx, c.maxBytes, 8192, func(line []byte) {
		if kl, ok := parseKernelLine(string(line)); ok {
			w.add(kl)
		}
	})
	w.truncated = trunc
	return err
}

// readJournal runs journalctl -k (this boot's kernel messages) with the
// kernel's monotonic timestamps, which dmesg's parser reads too.
func (c *kernelCollector) readJournal(ctx context.Context, w *logWindow) error {
	prog, err := c.program(c.journalctl)
	if err != nil {
		return err
	}
	cmd := command{argv: []string{prog, "-k", "--no-pager", "-o", "short-monotonic"}, cred: c.cred}
	trunc, stderr, err := cmd.lines(ctx, c.maxBytes, 8192, func(line []byte) {
		// "-- No entries --" and "-- Boot … --" are not kernel lines.
		if kl, ok := parseKernelLine(string(line)); ok && kl.hasTS {
			kl.msg = stripJournalPrefix(kl.msg)
			w.add(kl)
		}
	})
	w.truncated = trunc
	if err == nil && w.read == 0 {
		// journalctl exits 0 when it finds nothing, and says why on stderr:
		// "No journal files were found." where no journald runs.
		if stderr == "" {
			stderr = "no kernel messages of this boot in the journal"
		}
		return errors.New(stderr)
	}
	return err
}

// readKmsg reads the records now in the kernel's log buffer from
// /dev/kmsg without waiting for new ones (O_NONBLOCK: EAGAIN is the end).
// It uses raw reads: the os package would park on EAGAIN and wait.
func (c *kernelCollector) readKmsg(ctx context.Context, w *logWindow) error {
	fd, err := unix.Open(c.kmsg, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: c.kmsg, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 16<<10) // one record per read; records are < 8 KiB
	var carry []byte
	var total int64
	for ctx.Err() == nil {
		n, err := unix.Read(fd, buf)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EPIPE):
			continue // a record was overwritten while we read: skip to the next
		case errors.Is(err, unix.EAGAIN):
			n = 0
		case err != nil:
			return &fs.PathError{Op: "read", Path: c.kmsg, Err: err}
		}
		if n <= 0 {
			break
		}
		total += int64(n)
		// /dev/kmsg gives one record per read; a plain file (a saved
		// buffer) gives many, split anywhere: split at newlines and carry.
		data := append(carry, buf[:n]...)
		last := bytes.LastIndexByte(data, '\n')
		if last < 0 {
			carry = data
		} else {
			for _, line := range bytes.Split(data[:last], []byte{'\n'}) {
				if kl, ok := parseKmsgRecord(line); ok {
					w.add(kl)
				}
			}
			carry = append([]byte(nil), data[last+1:]...)
		}
		if len(carry) > 16<<10 {
			carry = carry[:0] // no record is that long: not a log
		}
		if total >= c.maxBytes {
			w.truncated = true
			break
		}
	}
	if kl, ok := parseKmsgRecord(carry); ok {
		w.add(kl)
	}
	return ctx.Err()
}

// kline is one kernel log line: its time after boot, when it has one.
type kline struct {
	secs  float64
	hasTS bool
	msg   string
}

// parseKernelLine parses a dmesg line, "[ 8123.456789] message", with an
// optional "<6>" priority (dmesg -r) and an optional caller id "[T1234]".
// A line without a timestamp is a message without a time (printk.time=0).
func parseKernelLine(line string) (kline, bool) {
	s := strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(s, "<") { // <6>[...] from dmesg -r
		if i := strings.IndexByte(s, '>'); i > 0 && i < 6 {
			if _, err := strconv.Atoi(s[1:i]); err == nil {
				s = s[i+1:]
			}
		}
	}
	if strings.TrimSpace(s) == "" {
		return kline{}, false
	}
	if !strings.HasPrefix(s, "[") {
		return kline{msg: s}, true
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return kline{msg: s}, true
	}
	secs, err := strconv.ParseFloat(strings.TrimSpace(s[1:end]), 64)
	if err != nil || !(secs >= 0) || secs > 1e12 {
		return kline{msg: s}, true
	}
	msg := strings.TrimPrefix(s[end+1:], " ")
	// A caller id: "[    T1]" or "[  C0]" (CONFIG_PRINTK_CALLER).
	if strings.HasPrefix(msg, "[") {
		if j := strings.IndexByte(msg, ']'); j > 0 {
			id := strings.TrimSpace(msg[1:j])
			if len(id) > 1 && (id[0] == 'T' || id[0] == 'C') {
				if _, err := strconv.Atoi(id[1:]); err == nil {
					msg = strings.TrimPrefix(msg[j+1:], " ")
				}
			}
		}
	}
	return kline{secs: secs, hasTS: true, msg: msg}, true
}

// parseKmsgRecord parses one /dev/kmsg record (procfs.ParseKmsgRecord);
// an empty message is no line.
func parseKmsgRecord(rec []byte) (kline, bool) {
	usec, msg, ok := procfs.ParseKmsgRecord(rec)
	if !ok || strings.TrimSpace(msg) == "" {
		return kline{}, false
	}
	return kline{secs: float64(usec) / 1e6, hasTS: true, msg: msg}, true
}

// stripJournalPrefix removes "host kernel: " that journalctl puts before
// the kernel's message.
func stripJournalPrefix(msg string) string {
	if i := strings.Index(msg, " kernel: "); i >= 0 && i < 80 && !strings.Contains(msg[:i], " ") {
		return msg[i+len(" kernel: "):]
	}
	return msg
}

// kernelMatcher picks the lines about one process or about OOM kills.
type kernelMatcher struct {
	pid   int
	pidRe *regexp.Regexp
	name  *regexp.Regexp
}

// oomWords mark a kernel OOM report's key lines (not its call trace, whose
// frames read out_of_memory and oom_kill_process).
var oomWords = []string{"out of memory", "oom-kill", "killed process", "oom_reaper:"}

func newKernelMatcher(pid int, name string) kernelMatcher {
	m := kernelMatcher{pid: pid}
	if pid > 0 {
		p := strconv.Itoa(pid)
		// "PID: 4242", "pid=4242", "process 4242", "(4242)", "[ 4242]", "name[4242]".
		m.pidRe = regexp.MustCompile(`(?i)(?:\bpid[=:]?\s*|\bprocess\s+|\(|\[\s*)` + p + `(?:[^0-9]|$)`)
	}
	// The kernel prints the command name cut to 15 bytes (TASK_COMM_LEN):
	// a cut name may end anywhere, even inside a character.
	end := `(?:$|[\s)\[,:])`
	if len(name) > 15 {
		name, end = name[:15], ""
	}
	for i, r := range name {
		if r == utf8.RuneError {
			name, end = name[:i], "" // match up to the first byte that is no character
			break
		}
	}
	if len(name) >= 2 {
		m.name, _ = regexp.Compile(`(?:^|[\s(=,])` + regexp.QuoteMeta(name) + end)
	}
	return m
}

func (m kernelMatcher) match(msg string) bool {
	lower := strings.ToLower(msg)
	for _, w := range oomWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return (m.pidRe != nil && m.pidRe.MatchString(msg)) || (m.name != nil && m.name.MatchString(msg))
}

// logWindow keeps the last max matching lines at or after from.
type logWindow struct {
	m         kernelMatcher
	from      time.Time
	boot      time.Time
	haveBoot  bool
	max       int
	maxLine   int
	lines     []string
	matched   int
	read      int
	truncated bool
}

func (w *logWindow) reset() {
	w.lines, w.matched, w.read, w.truncated = nil, 0, 0, false
}

func (w *logWindow) add(kl kline) {
	w.read++
	var at time.Time
	if kl.hasTS && w.haveBoot {
		// The kernel's clock stops during suspend and /proc/uptime's does
		// not: after a suspend, lines look older than they are.
		at = w.boot.Add(time.Duration(kl.secs * float64(time.Second)))
		if at.Before(w.from) {
			return
		}
	}
	if !w.m.match(kl.msg) {
		return
	}
	w.matched++
	var line string
	switch {
	case !at.IsZero():
		line = at.UTC().Format("2006-01-02T15:04:05.000Z") + " " + kl.msg
	case kl.hasTS:
		line = fmt.Sprintf("[%12.6f] %s", kl.secs, kl.msg)
	default:
		line = kl.msg
	}
	if len(w.lines) == w.max {
		copy(w.lines, w.lines[1:])
		w.lines = w.lines[:w.max-1]
	}
	w.lines = append(w.lines, truncate(line, w.maxLine))
}

// parseUptime reads the first number of /proc/uptime.
func parseUptime(b []byte) (time.Duration, error) {
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, errors.New("parse uptime: empty")
	}
	secs, err := strconv.ParseFloat(f[0], 64)
	if err != nil || !(secs >= 0) || secs > 1e10 {
		return 0, fmt.Errorf("parse uptime: %q", f[0])
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// vmstatOOMKills returns the oom_kill counter of /proc/vmstat.
func vmstatOOMKills(b []byte) (uint64, bool) {
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
