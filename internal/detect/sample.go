package detect

import (
	"errors"
	"fmt"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// Sample is the part of a sample record the detectors use. It is filled
// from the raw line without building the whole record; Raw keeps the line
// so that an event can carry the full process and system.
type Sample struct {
	Raw     []byte
	TS      time.Time
	Host    string
	Target  string
	Up      bool
	Matches int // -1 when the record does not say

	HasProc    bool
	PID        int
	StartTicks uint64
	Start      time.Time
	Name       string
	State      string
	Cgroup     string
	RSS        uint64
	VMS        opt[uint64]
	Threads    int
	CPU        opt[float64]
	FDs        opt[int]
	FDsLimit   opt[uint64]
	CgroupMax  opt[uint64]
	CgroupOOMs opt[uint64]

	MemTotal opt[uint64]
	MemAvail opt[uint64]
	PSISome  opt[float64]
	OOMKills opt[uint64]

	HasExit bool
	Exit    Exit

	// Checked reports that reading the line also proved it valid JSON, with
	// its "v" and "kind" keys each once and unescaped and no other key that
	// encoding/json could take for them: all that the ndjson reader checks
	// of a line past its first bytes, so that a reader deferring that check
	// (ndjson.DeferCheck) need not scan the line again.
	Checked bool
}

// Exit is what a sample says of how a process ended.
type Exit struct {
	PID     int
	Noticed string
	Code    opt[int]
	Signal  string
	UptimeS opt[float64]
	// OOMKilled: the kernel's log named it the OOM killer's victim (V), or
	// was read and did not (!V); absent when nobody looked.
	OOMKilled opt[bool]
}

// opt is a field that may be absent: absent is not zero (DESIGN §3).
type opt[T any] struct {
	V  T
	OK bool
}

func some[T any](v T) opt[T] { return opt[T]{v, true} }

// ID is the sample's process identity (zero without a process).
func (s *Sample) ID() event.Identity { return event.Identity{PID: s.PID, StartTicks: s.StartTicks} }

// ErrBadSample wraps why a sample record cannot be used.
var ErrBadSample = errors.New("unusable sample")

func badSample(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadSample, fmt.Sprintf(format, a...))
}

// interner keeps one copy of each repeated string (targets, hosts, names),
// so reading a sample does not allocate. A few recent strings are checked
// first, which is cheaper than the map (a sample carries four or more).
// The zero interner keeps nothing: each get allocates.
type interner struct{ t *internTable }

type internTable struct {
	m      map[string]string
	recent [64]string
}

func newInterner() interner { return interner{&internTable{m: map[string]string{}}} }

func (in interner) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if in.t == nil {
		return string(b)
	}
	slot := &in.t.recent[(uint(len(b))*7^uint(b[0])^uint(b[len(b)-1])<<2)%uint(len(in.t.recent))]
	if *slot == string(b) {
		return *slot
	}
	s, ok := in.t.m[string(b)]
	if !ok {
		if len(in.t.m) > 4096 {
			clear(in.t.m)
		}
		s = string(b)
		in.t.m[s] = s
	}
	*slot = s
	return s
}

// ParseSample fills s from one sample line. It checks what the detectors
// rely on: ts, target and up; a process with pid, start_ticks, rss_bytes
// and threads; an up sample has a process, an exit has a pid.
func ParseSample(raw []byte, s *Sample, in interner) error {
	*s = Sample{Raw: raw, Matches: -1}
	l := lex{b: raw}
	var hasTS, hasTarget, hasUp bool
	var nv, nkind int
	plain := true // no key encoding/json might read as "v" or "kind" but those two
	if !l.open() {
		return badSample("not an object")
	}
	for first := true; l.more(first); first = false {
		k, esc := l.key()
		if esc {
			plain = false
		}
		switch string(k) {
		case "v":
			nv++
			l.skip(1)
		case "kind":
			nkind++
			l.skip(1)
		case "ts":
			t, ok := parseTime(l.text())
			if !ok {
				return badSample("ts: not an RFC 3339 time")
			}
			s.TS, hasTS = t, true
		case "host":
			s.Host = in.get(l.text())
		case "target":
			s.Target = in.get(l.text())
			hasTarget = s.Target != ""
		case "up":
			s.Up, hasUp = l.boolean(), true
		case "matches":
			if n, ok := l.int(); ok {
				s.Matches = n
			}
		case "process":
			if l.peek() == 'n' {
				l.lit("null")
				continue
			}
			if err := parseProcess(&l, s, in); err != nil {
				return err
			}
		case "system":
			if l.peek() == 'n' {
				l.lit("null")
				continue
			}
			parseSystem(&l, s)
		case "exit":
			if l.peek() == 'n' {
				l.lit("null")
				continue
			}
			if err := parseExit(&l, s, in); err != nil {
				return err
			}
		default:
			if mayFold(k) {
				plain = false
			}
			l.skip(1)
		}
	}
	switch {
	case l.bad:
		return badSample("malformed at byte %d", l.i)
	case !hasTS:
		return badSample("no ts")
	case !hasTarget:
		return badSample("no target")
	case !hasUp:
		return badSample("no up")
	case s.Up && !s.HasProc:
		return badSample("up without process")
	case s.Up && s.HasExit:
		return badSample("up with exit")
	}
	s.Checked = plain && nv == 1 && nkind == 1 && l.end()
	return nil
}

// mayFold reports whether encoding/json might match key to "v" or "kind"
// without it being exactly that: another case, or non-ASCII (the Kelvin
// sign folds to k).
func mayFold(key []byte) bool {
	for _, c := range key {
		if c >= 0x80 {
			return true
		}
	}
	switch len(key) {
	case 1:
		return key[0] == 'V'
	case 4:
		return (key[0]|0x20) == 'k' && (key[1]|0x20) == 'i' && (key[2]|0x20) == 'n' && (key[3]|0x20) == 'd' && string(key) != "kind"
	}
	return false
}

func parseProcess(l *lex, s *Sample, in interner) error {
	var pid, start, rss, threads bool
	if !l.open() {
		return badSample("process: not an object")
	}
	for first := true; l.more(first); first = false {
		k, _ := l.key()
		switch string(k) {
		case "pid":
			s.PID, pid = l.int()
		case "start_ticks":
			s.StartTicks, start = l.uint()
		case "start":
			s.Start, _ = parseTime(l.text())
		case "name":
			s.Name = in.get(l.text())
		case "state":
			// Only for labelling a teardown reading: a value of another
			// kind is passed over, not a reason to drop the sample.
			if l.peek() == '"' {
				s.State = in.get(l.text())
			} else {
				l.skip(2)
			}
		case "cgroup":
			s.Cgroup = in.get(l.text())
		case "rss_bytes":
			s.RSS, rss = l.uint()
		case "vms_bytes":
			// Only for telling a teardown reading (see Engine.update): a
			// value of another kind is passed over, the field taken as absent.
			if c := l.peek(); c >= '0' && c <= '9' {
				s.VMS = l.optUint()
			} else {
				l.skip(2)
			}
		case "threads":
			s.Threads, threads = l.int()
		case "cpu_pct":
			s.CPU = l.optFloat()
		case "fds":
			s.FDs = l.optInt()
		case "fds_limit":
			s.FDsLimit = l.optUint()
		case "cgroup_mem_max_bytes":
			s.CgroupMax = l.optUint()
		case "cgroup_oom_kills":
			s.CgroupOOMs = l.optUint()
		default:
			l.skip(2)
		}
	}
	switch {
	case l.bad:
		return badSample("process: malformed")
	case !pid || s.PID <= 0:
		return badSample("process.pid: missing")
	case !start:
		return badSample("process.start_ticks: missing")
	case !rss:
		return badSample("process.rss_bytes: missing")
	case !threads:
		return badSample("process.threads: missing")
	}
	s.HasProc = true
	return nil
}

func parseSystem(l *lex, s *Sample) {
	if !l.open() {
		return
	}
	for first := true; l.more(first); first = false {
		k, _ := l.key()
		switch string(k) {
		case "mem_total_bytes":
			s.MemTotal = l.optUint()
		case "mem_available_bytes":
			s.MemAvail = l.optUint()
		case "psi_mem_some_avg10":
			s.PSISome = l.optFloat()
		case "oom_kills":
			s.OOMKills = l.optUint()
		default:
			l.skip(2)
		}
	}
}

func parseExit(l *lex, s *Sample, in interner) error {
	var pid bool
	if !l.open() {
		return badSample("exit: not an object")
	}
	for first := true; l.more(first); first = false {
		k, _ := l.key()
		switch string(k) {
		case "pid":
			s.Exit.PID, pid = l.int()
		case "noticed":
			s.Exit.Noticed = in.get(l.text())
		case "code":
			s.Exit.Code = l.optInt()
		case "signal":
			s.Exit.Signal = in.get(l.text())
		case "uptime_s":
			s.Exit.UptimeS = l.optFloat()
		case "oom_killed":
			if l.peek() == 'n' {
				l.lit("null")
			} else {
				s.Exit.OOMKilled = opt[bool]{l.boolean(), true}
			}
		default:
			l.skip(2)
		}
	}
	if l.bad || !pid || s.Exit.PID <= 0 {
		return badSample("exit.pid: missing")
	}
	s.HasExit = true
	return nil
}

// parseTime reads RFC 3339. The fixed-width UTC form every sre-* tool
// writes is parsed by hand (time.Parse costs more than the detectors).
func parseTime(b []byte) (time.Time, bool) {
	// 2006-01-02T15:04:05.000000000Z
	if n := len(b); n >= 20 && n <= 30 && b[n-1] == 'Z' && b[4] == '-' && b[7] == '-' &&
		b[10] == 'T' && b[13] == ':' && b[16] == ':' && (n == 20 || b[19] == '.' && n > 21) {
		d := func(i, w int) (int, bool) {
			v := 0
			for _, c := range b[i : i+w] {
				if c < '0' || c > '9' {
					return 0, false
				}
				v = v*10 + int(c-'0')
			}
			return v, true
		}
		y, ok1 := d(0, 4)
		mo, ok2 := d(5, 2)
		dd, ok3 := d(8, 2)
		h, ok4 := d(11, 2)
		mi, ok5 := d(14, 2)
		sec, ok6 := d(17, 2)
		ns, ok7 := 0, true
		if n > 20 {
			w := n - 21
			ns, ok7 = d(20, w)
			for ; w < 9; w++ {
				ns *= 10
			}
		}
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && mo >= 1 && mo <= 12 && dd >= 1 && dd <= daysIn(mo, y) && h < 24 && mi < 60 && sec < 60 {
			// rejects 2023-02-30 as time.Parse does
			if y < 400 { // before the first whole era of daysSinceEpoch
				return time.Date(y, time.Month(mo), dd, h, mi, sec, ns, time.UTC), true
			}
			unix := daysSinceEpoch(y, mo, dd)*86400 + int64(h*3600+mi*60+sec)
			return time.Unix(unix, int64(ns)).UTC(), true
		}
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// daysIn is the number of days in month mo of year y.
func daysIn(mo, y int) int {
	switch mo {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch counts the days from 1970-01-01 to y-mo-d (y >= 400), in
// the proleptic Gregorian calendar: eras of 400 years starting in March
// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms"). time.Date
// gives the same, at about twice the cost of this on every sample.
func daysSinceEpoch(y, mo, d int) int64 {
	if mo <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	doy := (153*((mo+9)%12)+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
