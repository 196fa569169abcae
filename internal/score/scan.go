package score

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// The archive is mostly bytes the score does not read: a crash carries its
// process, host and sample history. encoding/json spends ~14 µs a record
// on them (DESIGN §7 wants 1M records in 2 s), so decodeFast walks the top
// level of a line the ndjson reader has already found to be valid JSON,
// skipping values it does not need, and hands anything unusual (escaped
// keys) to encoding/json.

var errSlow = errors.New("needs encoding/json")

// errDone stops the walk of an event once its needed fields are read: the
// process, host and history after them are most of its bytes. (A key given
// twice then counts the first time; sre-* tools never write one twice.)
var errDone = errors.New("done")

// members calls fn for each key and raw value of the object at b, which
// must be valid JSON.
func members(b []byte, fn func(key, val []byte) error) error {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errSlow
	}
	i++
	for {
		i = skipWS(b, i)
		if i >= len(b) {
			return errSlow
		}
		switch b[i] {
		case '}':
			return nil
		case ',':
			i++
			continue
		case '"':
		default:
			return errSlow
		}
		ke := endString(b, i)
		if ke < 0 {
			return errSlow
		}
		key := b[i+1 : ke-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return errSlow
		}
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return errSlow
		}
		i = skipWS(b, i+1)
		ve := endValue(b, i)
		if ve < 0 {
			return errSlow
		}
		if err := fn(key, b[i:ve]); err != nil {
			return err
		}
		i = ve
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// endString returns the index after the string starting at b[i] == '"'.
func endString(b []byte, i int) int {
	i++
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		i += j
		// count the backslashes before the quote
		n := 0
		for k := i - 1; k >= 0 && b[k] == '\\'; k-- {
			n++
		}
		i++
		if n%2 == 0 {
			return i
		}
	}
}

// endValue returns the index after the value starting at b[i].
func endValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return endString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = endString(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default:
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
			i++
		}
		return i
	}
}

func str(v []byte) (string, error) {
	if len(v) >= 2 && v[0] == '"' && bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1]), nil
	}
	if string(v) == "null" {
		return "", nil
	}
	var s string
	err := json.Unmarshal(v, &s)
	return s, err
}

func num(v []byte) (*float64, error) {
	if string(v) == "null" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return nil, errors.New("not a number: " + string(v))
	}
	return &f, nil
}

func tstamp(v []byte) (time.Time, error) {
	if t, ok := utcStamp(v); ok {
		return t, nil
	}
	s, err := str(v)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err
}

// wantsDetail tells whether an event of type t needs its detail read. A
// crash's detail (with its run-up history, the largest part of most
// archives) is walked only when it names oom_killed, and a started's only
// when it has a process_start: a substring search costs a fraction of
// walking what lies between the target and the detail, which scoring a
// 1M-record archive within its bar depends on.
func wantsDetail(t string, raw []byte) bool {
	switch t {
	case TypeRecovered, TypeOOMKill:
		return true
	case TypeCrash:
		return bytes.Contains(raw, []byte(`"oom_killed"`))
	case TypeStarted:
		return bytes.Contains(raw, []byte(`"process_start"`))
	}
	return false
}

// decodeFast fills r from raw; errSlow asks for encoding/json.
func decodeFast(kind string, raw []byte, r *Rec, in interner) error {
	r.Kind = kind
	var detail, idRaw []byte
	defer func() {
		if idRaw != nil && (r.Type == TypeCrash || kind != "event") {
			r.ID, _ = str(idRaw)
		}
	}()
	const need = 1 | 2 | 4 | 8
	have := 0
	err := members(raw, func(k, v []byte) error {
		var err error
		switch string(k) {
		case "ts":
			r.TS, err = tstamp(v)
			have |= 1
		case "id":
			idRaw = v // a string only for a crash: only crashes are looked up by id
			have |= 2
		case "type":
			r.Type, err = known(v)
			have |= 4
		case "target":
			r.Target, err = in.str(v)
			have |= 8
		case "detail":
			detail = v
		case "rule":
			r.Rule, err = str(v)
		case "action":
			r.Action, err = str(v)
		case "result":
			r.Result, err = str(v)
		case "dry_run":
			switch string(v) {
			case "true":
				r.DryRun = true
			case "false", "null":
				r.DryRun = false
			default:
				err = errors.New("dry_run: not a bool")
			}
		case "rss_bytes":
			if kind == "summary" && string(v) != "null" {
				err = members(v, func(k, v []byte) error {
					if string(k) == "avg" {
						var e error
						r.RSSAvg, e = num(v)
						return e
					}
					return nil
				})
			}
		case "rss_slope_bytes_per_s":
			r.Slope, err = num(v)
		}
		if err == nil && kind == "event" && have == need && !wantsDetail(r.Type, raw) {
			return errDone
		}
		return err
	})
	if errors.Is(err, errDone) {
		return nil
	}
	if err != nil {
		return err
	}
	if kind == "event" && (r.Type == TypeOOMKill || r.Type == TypeCrash) && detail != nil && string(detail) != "null" {
		return members(detail, func(k, v []byte) error {
			var err error
			switch string(k) {
			case "scope":
				r.Scope, err = str(v)
			case "oom_killed":
				r.OOMKilled = string(v) == "true"
			}
			return err
		})
	}
	if kind == "event" && r.Type == TypeRecovered && detail != nil && string(detail) != "null" {
		return members(detail, func(k, v []byte) error {
			var err error
			switch string(k) {
			case "downtime_s":
				r.DowntimeS, err = num(v)
			case "crash_id":
				r.CrashID, err = str(v)
			case "down_since":
				var t time.Time
				if t, err = tstamp(v); err == nil && !t.IsZero() {
					r.DownSince = &t
				}
			}
			return err
		})
	}
	if kind == "event" && r.Type == TypeStarted && detail != nil && string(detail) != "null" {
		return members(detail, func(k, v []byte) error {
			if string(k) != "process_start" {
				return nil
			}
			t, err := tstamp(v)
			if err == nil && !t.IsZero() {
				r.UpSince = &t
			}
			return err
		})
	}
	return nil
}

// known returns the event types the score reads as constants, so that a
// million records do not allocate a million copies of "memory_high".
func known(v []byte) (string, error) {
	if len(v) >= 2 {
		switch string(v[1 : len(v)-1]) {
		case TypeCrash:
			return TypeCrash, nil
		case TypeRecovered:
			return TypeRecovered, nil
		case TypeRestarted:
			return TypeRestarted, nil
		case TypeOOMKill:
			return TypeOOMKill, nil
		case TypeStabilityLow:
			return TypeStabilityLow, nil
		case TypeStarted:
			return TypeStarted, nil
		}
	}
	return str(v)
}

// interner hands out one string per distinct target name.
type interner map[string]string

func (in interner) str(v []byte) (string, error) {
	if len(v) >= 2 && v[0] == '"' && in != nil {
		if s, ok := in[string(v[1:len(v)-1])]; ok {
			return s, nil
		}
	}
	s, err := str(v)
	if err == nil && in != nil && len(in) < 1<<16 {
		in[s] = s
	}
	return s, err
}

// utcStamp parses "YYYY-MM-DDTHH:MM:SS[.fraction]Z" (event.TimeLayout, what
// every sre-* tool writes) without allocating; anything else is left to
// time.Parse.
func utcStamp(v []byte) (time.Time, bool) {
	if len(v) < 22 || v[0] != '"' || v[len(v)-1] != '"' || v[len(v)-2] != 'Z' {
		return time.Time{}, false
	}
	b := v[1 : len(v)-2]
	if b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(b[0:4])
	mon, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hh, ok4 := num(b[11:13])
	mm, ok5 := num(b[14:16])
	ss, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 59 {
		return time.Time{}, false
	}
	ns := 0
	if rest := b[19:]; len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return time.Time{}, false
		}
		f, ok := num(rest[1:])
		if !ok {
			return time.Time{}, false
		}
		for i := len(rest) - 1; i < 9; i++ {
			f *= 10
		}
		ns = f
	}
	t := time.Date(year, time.Month(mon), day, hh, mm, ss, ns, time.UTC)
	if t.Day() != day { // 31 February: let time.Parse say no
		return time.Time{}, false
	}
	return t, true
}
