package event

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends s to dst as one JSON object without a newline, byte for
// byte what encoding/json's Encoder writes for s with SetEscapeHTML(false).
// sre-sample writes a sample every tick for every target, and encoding one
// this way costs a fraction of the CPU of reflection and allocates nothing.
//
// A NaN or infinite number is an error, as it is for encoding/json; the
// error names the field and wraps a *json.UnsupportedValueError. On error
// dst is returned at its original length.
//
// The tests fill every field of Sample by reflection and compare with
// encoding/json, so a field added to Sample or to a struct inside it fails
// them until it is written here too.
func (s *Sample) AppendJSON(dst []byte) ([]byte, error) {
	if s == nil {
		return append(dst, "null"...), nil
	}
	start := len(dst)
	b := append(dst, '{')
	b = appendHeaderFields(b, &s.Header)
	b = append(b, `,"target":`...)
	b = appendString(b, s.Target)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, s.Seq, 10)
	b = append(b, `,"up":`...)
	b = strconv.AppendBool(b, s.Up)
	b = append(b, `,"matches":`...)
	b = strconv.AppendInt(b, int64(s.Matches), 10)
	var err error
	if s.Process != nil {
		b = append(b, `,"process":`...)
		if b, err = appendProcess(b, s.Process); err != nil {
			return dst[:start], fmt.Errorf("process.%w", err)
		}
	}
	if s.Container != nil {
		b = append(b, `,"container":`...)
		b = appendContainer(b, s.Container)
	}
	if s.Pod != nil {
		b = append(b, `,"pod":`...)
		b = appendPod(b, s.Pod)
	}
	if s.System != nil {
		b = append(b, `,"system":`...)
		if b, err = appendSystem(b, s.System); err != nil {
			return dst[:start], fmt.Errorf("system.%w", err)
		}
	}
	if s.Exit != nil {
		b = append(b, `,"exit":`...)
		if b, err = appendExit(b, s.Exit); err != nil {
			return dst[:start], fmt.Errorf("exit.%w", err)
		}
	}
	if len(s.Unavailable) > 0 {
		b = append(b, `,"unavailable":`...)
		b = appendStringMap(b, s.Unavailable)
	}
	return append(b, '}'), nil
}

// appendHeaderFields appends h's fields without braces: Header is embedded
// in every record, so its fields sit inside the record's own object.
func appendHeaderFields(b []byte, h *Header) []byte {
	b = append(b, `"v":`...)
	b = strconv.AppendInt(b, int64(h.V), 10)
	b = append(b, `,"kind":`...)
	b = appendString(b, h.Kind)
	b = append(b, `,"ts":`...)
	b = appendTime(b, h.TS)
	b = append(b, `,"host":`...)
	b = appendString(b, h.Host)
	b = append(b, `,"src":`...)
	return appendString(b, h.Src)
}

func appendProcess(b []byte, p *Process) ([]byte, error) {
	var err error
	b = append(b, `{"pid":`...)
	b = strconv.AppendInt(b, int64(p.PID), 10)
	b = append(b, `,"ppid":`...)
	b = strconv.AppendInt(b, int64(p.PPID), 10)
	b = append(b, `,"start":`...)
	b = appendTime(b, p.Start)
	b = append(b, `,"start_ticks":`...)
	b = strconv.AppendUint(b, p.StartTicks, 10)
	b = append(b, `,"name":`...)
	b = appendString(b, p.Name)
	b = appendOptString(b, `,"exe":`, p.Exe)
	if len(p.Args) > 0 {
		b = append(b, `,"args":[`...)
		for i, a := range p.Args {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, a)
		}
		b = append(b, ']')
	}
	b = appendOptString(b, `,"user":`, p.User)
	b = appendOptInt(b, `,"uid":`, p.UID)
	b = append(b, `,"state":`...)
	b = appendString(b, p.State)
	if p.Exiting {
		b = append(b, `,"exiting":true`...)
	}
	if b, err = appendOptFloat(b, `,"cpu_pct":`, p.CPUPct); err != nil {
		return b, fmt.Errorf("cpu_pct: %w", err)
	}
	b = append(b, `,"cpu_time_s":`...)
	if b, err = appendFloat(b, p.CPUTimeS); err != nil {
		return b, fmt.Errorf("cpu_time_s: %w", err)
	}
	b = append(b, `,"rss_bytes":`...)
	b = strconv.AppendUint(b, p.RSSBytes, 10)
	b = append(b, `,"vms_bytes":`...)
	b = strconv.AppendUint(b, p.VMSBytes, 10)
	b = append(b, `,"threads":`...)
	b = strconv.AppendInt(b, int64(p.Threads), 10)
	b = appendOptInt(b, `,"fds":`, p.FDs)
	b = appendOptUint(b, `,"fds_limit":`, p.FDsLimit)
	b = appendOptString(b, `,"cgroup":`, p.Cgroup)
	b = appendOptString(b, `,"container_id":`, p.ContainerID)
	b = appendOptString(b, `,"container_runtime":`, p.Runtime)
	b = appendOptString(b, `,"pod_uid":`, p.PodUID)
	b = appendOptUint(b, `,"cgroup_mem_max_bytes":`, p.CgroupMemMaxBytes)
	b = appendOptUint(b, `,"cgroup_oom":`, p.CgroupOOM)
	b = appendOptUint(b, `,"cgroup_oom_kills":`, p.CgroupOOMKills)
	return append(b, '}'), nil
}

func appendSystem(b []byte, s *System) ([]byte, error) {
	// Every field of System may be absent: each key is written with a
	// leading comma, and the first one's is dropped at the end.
	b = append(b, '{')
	open := len(b)
	b = appendOptUint(b, `,"mem_total_bytes":`, s.MemTotalBytes)
	b = appendOptUint(b, `,"mem_available_bytes":`, s.MemAvailableBytes)
	b = appendOptUint(b, `,"swap_total_bytes":`, s.SwapTotalBytes)
	b = appendOptUint(b, `,"swap_used_bytes":`, s.SwapUsedBytes)
	var err error
	if b, err = appendOptFloat(b, `,"load1":`, s.Load1); err != nil {
		return b, fmt.Errorf("load1: %w", err)
	}
	if b, err = appendOptFloat(b, `,"load5":`, s.Load5); err != nil {
		return b, fmt.Errorf("load5: %w", err)
	}
	if b, err = appendOptFloat(b, `,"load15":`, s.Load15); err != nil {
		return b, fmt.Errorf("load15: %w", err)
	}
	if len(s.Disk) > 0 {
		b = append(b, `,"disk":[`...)
		for i := range s.Disk {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendDisk(b, &s.Disk[i]); err != nil {
				return b, fmt.Errorf("disk[%d].%w", i, err)
			}
		}
		b = append(b, ']')
	}
	if b, err = appendOptFloat(b, `,"psi_mem_some_avg10":`, s.PSIMemSomeAvg10); err != nil {
		return b, fmt.Errorf("psi_mem_some_avg10: %w", err)
	}
	if b, err = appendOptFloat(b, `,"psi_mem_full_avg10":`, s.PSIMemFullAvg10); err != nil {
		return b, fmt.Errorf("psi_mem_full_avg10: %w", err)
	}
	b = appendOptUint(b, `,"oom_kills":`, s.OOMKills)
	if len(b) > open {
		// Drop the first field's leading comma.
		copy(b[open:], b[open+1:])
		b = b[:len(b)-1]
	}
	return append(b, '}'), nil
}

func appendDisk(b []byte, d *Disk) ([]byte, error) {
	b = append(b, `{"path":`...)
	b = appendString(b, d.Path)
	b = append(b, `,"total_bytes":`...)
	b = strconv.AppendUint(b, d.TotalBytes, 10)
	b = append(b, `,"used_bytes":`...)
	b = strconv.AppendUint(b, d.UsedBytes, 10)
	b = append(b, `,"free_bytes":`...)
	b = strconv.AppendUint(b, d.FreeBytes, 10)
	b = append(b, `,"used_pct":`...)
	b, err := appendFloat(b, d.UsedPct)
	if err != nil {
		return b, fmt.Errorf("used_pct: %w", err)
	}
	return append(b, '}'), nil
}

func appendContainer(b []byte, c *Container) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, c.ID)
	b = append(b, `,"name":`...)
	b = appendString(b, c.Name)
	b = appendOptString(b, `,"image":`, c.Image)
	b = appendOptString(b, `,"compose_project":`, c.ComposeProject)
	b = appendOptString(b, `,"compose_service":`, c.ComposeService)
	b = append(b, `,"state":`...)
	b = appendString(b, c.State)
	b = appendOptString(b, `,"health":`, c.Health)
	b = appendOptString(b, `,"health_output":`, c.HealthOutput)
	b = append(b, `,"restart_count":`...)
	b = strconv.AppendInt(b, int64(c.RestartCount), 10)
	if c.StartedAt != nil {
		b = append(b, `,"started_at":`...)
		b = appendTime(b, *c.StartedAt)
	}
	b = appendOptUint(b, `,"memory_limit_bytes":`, c.MemoryLimitBytes)
	b = appendOptInt(b, `,"exit_code":`, c.ExitCode)
	if c.OOMKilled != nil {
		b = append(b, `,"oom_killed":`...)
		b = strconv.AppendBool(b, *c.OOMKilled)
	}
	return append(b, '}')
}

func appendExit(b []byte, e *Exit) ([]byte, error) {
	b = append(b, `{"pid":`...)
	b = strconv.AppendInt(b, int64(e.PID), 10)
	b = append(b, `,"noticed":`...)
	b = appendString(b, e.Noticed)
	b = appendOptInt(b, `,"code":`, e.Code)
	b = appendOptString(b, `,"signal":`, e.Signal)
	if e.SignalNum != 0 {
		b = append(b, `,"signal_num":`...)
		b = strconv.AppendInt(b, int64(e.SignalNum), 10)
	}
	if e.CoreDump {
		b = append(b, `,"core_dumped":true`...)
	}
	b = append(b, `,"uptime_s":`...)
	b, err := appendFloat(b, e.UptimeS)
	if err != nil {
		return b, fmt.Errorf("uptime_s: %w", err)
	}
	if e.OOMKilled != nil {
		b = append(b, `,"oom_killed":`...)
		b = strconv.AppendBool(b, *e.OOMKilled)
	}
	b = appendOptString(b, `,"oom_kernel_msg":`, e.OOMKernelMsg)
	return append(b, '}'), nil
}

// appendTime writes what Time.MarshalJSON returns; encoding/json's compaction
// of it changes nothing, as the layout has no spaces. Years 0 to 9999, the
// only ones a host clock gives, are written digit by digit: time's layout
// interpreter was a quarter of the cost of a sample.
func appendTime(b []byte, t Time) []byte {
	u := t.UTC()
	year, month, day := u.Date()
	if year < 0 || year > 9999 {
		b = append(b, '"')
		b = u.AppendFormat(b, TimeLayout)
		return append(b, '"')
	}
	hour, minute, sec := u.Clock()
	ns := u.Nanosecond()
	b = append(b, '"',
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.')
	var frac [9]byte
	for i := len(frac) - 1; i >= 0; i-- {
		frac[i] = byte('0' + ns%10)
		ns /= 10
	}
	b = append(b, frac[:]...)
	return append(b, 'Z', '"')
}

// appendOptString writes key and s unless s is empty (omitempty).
func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

// appendOptInt writes key and *p unless p is nil (omitempty on a pointer
// keeps a measured zero).
func appendOptInt(b []byte, key string, p *int) []byte {
	if p == nil {
		return b
	}
	return strconv.AppendInt(append(b, key...), int64(*p), 10)
}

func appendOptUint(b []byte, key string, p *uint64) []byte {
	if p == nil {
		return b
	}
	return strconv.AppendUint(append(b, key...), *p, 10)
}

func appendOptFloat(b []byte, key string, p *float64) ([]byte, error) {
	if p == nil {
		return b, nil
	}
	return appendFloat(append(b, key...), *p)
}

// appendFloat writes f as encoding/json does: like JavaScript's number to
// string, plain decimals for 1e-6 <= |f| < 1e21 and exponents outside, with
// a negative exponent's leading zero dropped (1e-07 is written 1e-7) while
// a positive one keeps its sign (1e+21).
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, &json.UnsupportedValueError{
			Value: reflect.ValueOf(f),
			Str:   strconv.FormatFloat(f, 'g', -1, 64),
		}
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// appendStringMap writes m with its keys sorted, as encoding/json does. The
// keys are sorted as raw strings, before escaping.
func appendStringMap(b []byte, m map[string]string) []byte {
	var stack [16]string // a sample has a handful; more spill to the heap
	keys := stack[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does with HTML escaping off: <, >
// and & stay as they are, \b \f \n \r \t and the other control characters
// are escaped, each invalid UTF-8 byte becomes \ufffd, and U+2028 and U+2029
// are escaped so the line stays one line for JavaScript readers.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
