package event

import (
	"errors"
	"fmt"
	"time"
)

// SampleView is the part of a sample record the detectors use. It is filled
// from the raw line without building the whole record (Sample is the whole
// record); Raw keeps the line so that an event can carry the full process
// and system. A field the detectors come to need is read in parseSample,
// parseProcess, parseSystem or parseExit, and TestSampleViewMatchesSample
// holds each to what encoding/json reads into Sample.
type SampleView struct {
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
	Exiting    bool // the sampler saw the kernel ending it (process.exiting)
	Cgroup     string
	RSS        uint64
	VMS        Opt[uint64]
	Threads    int
	CPU        Opt[float64]
	FDs        Opt[int]
	FDsLimit   Opt[uint64]
	CgroupMax  Opt[uint64]
	CgroupOOMs Opt[uint64]

	MemTotal Opt[uint64]
	MemAvail Opt[uint64]
	PSISome  Opt[float64]
	OOMKills Opt[uint64]

	HasExit bool
	Exit    ExitView

	HasContainer bool
	Container    ContainerView

	// Pod is what a pod target's sample says of its pod; nil for any
	// other target.
	Pod *Pod

	// checked reports that reading the line also proved it valid JSON, with
	// its "v" and "kind" keys each once and unescaped and no other key that
	// encoding/json could take for them: all that ReadHead checks of a line,
	// so that ReadSample need not scan the line a second time.
	checked bool
}

// ExitView is what a sample says of how a process ended.
type ExitView struct {
	PID     int
	Noticed string
	Code    Opt[int]
	Signal  string
	UptimeS Opt[float64]
	// OOMKilled: the kernel's log named it the OOM killer's victim (V), or
	// was read and did not (!V); absent when nobody looked.
	OOMKilled Opt[bool]
}

// ContainerView is what a sample says of a container target.
type ContainerView struct {
	ID           string
	State        string
	Health       string
	HealthOutput string
	RestartCount int
	ExitCode     Opt[int]
	OOMKilled    Opt[bool]
}

// Opt is a field that may be absent: absent is not zero (DESIGN §3).
type Opt[T any] struct {
	V  T
	OK bool
}

// Some is a present value.
func Some[T any](v T) Opt[T] { return Opt[T]{v, true} }

// ID is the sample's process identity (zero without a process).
func (s *SampleView) ID() Identity { return Identity{PID: s.PID, StartTicks: s.StartTicks} }

// Interner keeps one copy of each repeated string (targets, hosts, names),
// so reading a record does not allocate. A few recent strings are checked
// first, which is cheaper than the map (a sample carries four or more).
// A nil *Interner keeps nothing: each string allocates. It is not safe for
// concurrent use.
type Interner struct {
	m      map[string]string
	recent [64]string
}

// NewInterner returns an empty Interner.
func NewInterner() *Interner { return &Interner{m: map[string]string{}} }

// maxInterned bounds an Interner: past it, the map starts again.
const maxInterned = 4096

func (in *Interner) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if in == nil {
		return string(b)
	}
	slot := &in.recent[(uint(len(b))*7^uint(b[0])^uint(b[len(b)-1])<<2)%uint(len(in.recent))]
	if *slot == string(b) {
		return *slot
	}
	s, ok := in.m[string(b)]
	if !ok {
		if len(in.m) > maxInterned {
			clear(in.m)
		}
		s = string(b)
		in.m[s] = s
	}
	*slot = s
	return s
}

// ErrBadSample is wrapped by ReadSample's error for a line that is a valid
// record of kind sample but not a usable one.
var ErrBadSample = errors.New("unusable sample")

func badSample(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadSample, fmt.Sprintf(format, a...))
}

// ReadSample is ReadHead for a stage that reads samples: it returns the
// line's head, or the error, exactly as ReadHead would, and when the line
// is a sample (its "kind") it fills s with its view. A sample it cannot use
// gives the head and an error wrapping ErrBadSample. A sample line as the
// tools write it is scanned once, for both.
func ReadSample(raw []byte, s *SampleView, in *Interner) (Head, error) {
	if v, k, ok := prefixHeader(raw); ok && string(k) == KindSample {
		perr := parseSample(raw, s, in)
		if perr == nil && s.checked {
			return Head{V: version(v), Kind: kind(k)}, nil
		}
		h, err := ReadHead(raw)
		if err != nil || h.Kind == nil || *h.Kind != KindSample {
			*s = SampleView{}
			return h, err
		}
		return h, perr
	}
	h, err := ReadHead(raw)
	if err != nil || h.Kind == nil || *h.Kind != KindSample {
		return h, err
	}
	return h, parseSample(raw, s, in)
}

// ParseSample fills s from a line known to be a sample record (it does not
// tell an invalid line from an unusable sample: ReadSample does). It
// checks what the detectors rely on: ts, target and up; a process with
// pid, start_ticks, rss_bytes and threads; an up sample has a process, an
// exit has a pid. Its errors wrap ErrBadSample.
func ParseSample(raw []byte, s *SampleView, in *Interner) error { return parseSample(raw, s, in) }

func parseSample(raw []byte, s *SampleView, in *Interner) error {
	*s = SampleView{Raw: raw, Matches: -1}
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
			l.skip()
		case "kind":
			nkind++
			l.skip()
		case "ts":
			t, ok := ParseTime(l.text())
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
			if l.null() {
				continue
			}
			if err := parseProcess(&l, s, in); err != nil {
				return err
			}
		case "container":
			if l.null() {
				continue
			}
			if err := parseContainer(&l, s, in); err != nil {
				return err
			}
		case "pod":
			if l.null() {
				continue
			}
			if err := parsePod(&l, s); err != nil {
				return err
			}
		case "system":
			if l.null() {
				continue
			}
			parseSystem(&l, s)
		case "exit":
			if l.null() {
				continue
			}
			if err := parseExit(&l, s, in); err != nil {
				return err
			}
		default:
			if mayFold(k) {
				plain = false
			}
			l.skip()
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
	case s.Up && !s.HasProc && s.Pod == nil:
		return badSample("up without process")
	case s.Up && s.HasExit:
		return badSample("up with exit")
	}
	s.checked = plain && nv == 1 && nkind == 1 && l.end() && !l.deep
	return nil
}

func parseProcess(l *lex, s *SampleView, in *Interner) error {
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
			s.Start, _ = ParseTime(l.text())
		case "name":
			s.Name = in.get(l.text())
		case "state":
			// Only for labelling a teardown reading: a value of another
			// kind is passed over, not a reason to drop the sample.
			if l.peek() == '"' {
				s.State = in.get(l.text())
			} else {
				l.skip()
			}
		case "exiting":
			// Only for telling a teardown reading, like vms_bytes: a value
			// of another kind is passed over, the field taken as absent.
			if c := l.peek(); c == 't' || c == 'f' {
				s.Exiting = l.boolean()
			} else {
				l.skip()
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
				l.skip()
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
			l.skip()
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

func parseContainer(l *lex, s *SampleView, in *Interner) error {
	var id bool
	if !l.open() {
		return badSample("container: not an object")
	}
	c := &s.Container
	for first := true; l.more(first); first = false {
		k, _ := l.key()
		switch string(k) {
		case "id":
			c.ID, id = in.get(l.text()), true
		case "state":
			c.State = in.get(l.text())
		case "health":
			c.Health = in.get(l.text())
		case "health_output":
			c.HealthOutput = string(l.text())
		case "restart_count":
			c.RestartCount, _ = l.int()
		case "exit_code":
			c.ExitCode = l.optInt()
		case "oom_killed":
			if !l.null() {
				c.OOMKilled = Some(l.boolean())
			}
		default:
			l.skip()
		}
	}
	switch {
	case l.bad:
		return badSample("container: malformed")
	case !id || c.ID == "":
		return badSample("container.id: missing")
	}
	s.HasContainer = true
	return nil
}

func parseSystem(l *lex, s *SampleView) {
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
			l.skip()
		}
	}
}

func parseExit(l *lex, s *SampleView, in *Interner) error {
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
			if !l.null() {
				s.Exit.OOMKilled = Some(l.boolean())
			}
		default:
			l.skip()
		}
	}
	if l.bad || !pid || s.Exit.PID <= 0 {
		return badSample("exit.pid: missing")
	}
	s.HasExit = true
	return nil
}

// ParseTime reads an RFC 3339 timestamp (the contents of a JSON string). The
// fixed-width UTC form every sre-* tool writes is parsed by hand (time.Parse
// costs more than the detectors); any other form goes to time.Parse.
func ParseTime(b []byte) (time.Time, bool) {
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
