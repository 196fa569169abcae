package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Event types that tools other than sre-detect read (docs/detect.md).
const (
	TypeCrash        = "crash"
	TypeRecovered    = "recovered"
	TypeRestarted    = "restarted"
	TypeOOMKill      = "oom_kill"
	TypeStabilityLow = "stability_low"
	TypeStarted      = "started"
	// TypeDeleted: a pod target's pod was deleted; the target is gone.
	TypeDeleted = "deleted"
)

// RecordView is the part of an event, action or summary record that
// sre-score reads.
type RecordView struct {
	Kind   string
	TS     time.Time
	ID     string
	Type   string
	Target string
	// Severity of an event, and RawID its id as the line has it (a JSON
	// value, valid as long as the line is): the dashboard indexes every
	// event by its id, while the score looks only crashes up (ID).
	Severity string
	RawID    []byte
	// recovered
	CrashID   string
	DownSince *time.Time
	DowntimeS *float64
	// started: the process's start (detail.process_start)
	UpSince *time.Time
	// oom_kill: detail.scope; "host" is a kill somewhere on the host, which
	// older sre-detect builds told as an event of whichever target's sample
	// showed it, and which counts for no target.
	Scope string
	// crash: detail.oom_killed, the kernel's OOM killer ended it (docs/detect.md)
	OOMKilled bool
	// action; EventID is the event it answers
	Rule, Action, Result string
	DryRun               bool
	EventID              string
	// summary
	RSSAvg, Slope *float64
}

// ReadRecord reads the view of one record of kind from a line that
// ReadHead has found valid. Kinds the view does not cover give ok false
// and no error; a field of the wrong type is an error, the same whether
// the line is read by hand or by encoding/json.
//
// The archive is mostly bytes the score does not read: a crash carries its
// process, host and sample history. encoding/json spends ~14 µs a record on
// them (DESIGN §7 wants 1M records in 2 s), so readRecordFast walks the top
// level of the line with lex, passing over values it does not need, and
// hands anything unusual (escaped keys, a value of an odd type) to
// encoding/json. in may be nil.
func ReadRecord(kind string, raw []byte, in *Interner) (r RecordView, ok bool, err error) {
	switch kind {
	case KindEvent, KindAction, KindSummary:
	default:
		return r, false, nil
	}
	if err := readRecordFast(kind, raw, &r, in); err == nil {
		return r, true, nil
	} else if !errors.Is(err, errSlow) {
		return RecordView{}, false, fmt.Errorf("decode %s: %w", kind, err)
	}
	r, err = readRecordJSON(kind, raw)
	if err != nil {
		return RecordView{}, false, err
	}
	return r, true, nil
}

var errSlow = errors.New("needs encoding/json")

// errDone stops the walk of an event once its needed fields are read: the
// process, host and history after them are most of its bytes. (A key given
// twice then counts the first time; sre-* tools never write one twice.)
var errDone = errors.New("done")

// members calls fn for each key and raw value of the object at b.
func members(b []byte, fn func(key, val []byte) error) error {
	l := lex{b: b}
	if !l.open() {
		return errSlow
	}
	for first := true; l.more(first); first = false {
		k, esc := l.key()
		if esc {
			return errSlow
		}
		v := l.value()
		if l.bad {
			return errSlow
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	if l.bad {
		return errSlow
	}
	return nil
}

// boolean reads true, false or null (false); anything else asks for
// encoding/json, whose error then names the type.
func boolean(v []byte) (bool, error) {
	switch string(v) {
	case "true":
		return true, nil
	case "false", "null":
		return false, nil
	}
	return false, errSlow
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

// tstamp reads a timestamp as Time.UnmarshalJSON does: null is zero, a
// string that is not RFC 3339 an error.
func tstamp(v []byte) (time.Time, error) {
	if len(v) >= 2 && v[0] == '"' && bytes.IndexByte(v, '\\') < 0 {
		if t, ok := ParseTime(v[1 : len(v)-1]); ok {
			return t, nil
		}
	}
	if string(v) == "null" {
		return time.Time{}, nil
	}
	var t Time
	if err := t.UnmarshalJSON(v); err != nil {
		return time.Time{}, err
	}
	return t.Time, nil
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

// readRecordFast fills r from raw; errSlow asks for encoding/json.
func readRecordFast(kind string, raw []byte, r *RecordView, in *Interner) error {
	r.Kind = kind
	var detail, idRaw []byte
	defer func() {
		if idRaw != nil && (r.Type == TypeCrash || kind != KindEvent) {
			r.ID, _ = str(idRaw)
		}
	}()
	const need = 1 | 2 | 4 | 8 | 16
	have := 0
	err := members(raw, func(k, v []byte) error {
		var err error
		switch string(k) {
		case "ts":
			r.TS, err = tstamp(v)
			have |= 1
		case "id":
			idRaw = v // a string only for a crash: only crashes are looked up by id
			if kind == KindEvent {
				r.RawID = v
			}
			have |= 2
		case "severity":
			if kind == KindEvent {
				r.Severity, err = in.str(v)
			}
			have |= 16
		case "event_id":
			if kind == KindAction {
				r.EventID, err = str(v)
			}
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
			r.DryRun, err = boolean(v)
		case "rss_bytes":
			if kind == KindSummary && string(v) != "null" {
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
		if err == nil && kind == KindEvent && have == need && !wantsDetail(r.Type, raw) {
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
	if kind == KindEvent && (r.Type == TypeOOMKill || r.Type == TypeCrash) && detail != nil && string(detail) != "null" {
		return members(detail, func(k, v []byte) error {
			var err error
			switch string(k) {
			case "scope":
				r.Scope, err = str(v)
			case "oom_killed":
				r.OOMKilled, err = boolean(v)
			}
			return err
		})
	}
	if kind == KindEvent && r.Type == TypeRecovered && detail != nil && string(detail) != "null" {
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
	if kind == KindEvent && r.Type == TypeStarted && detail != nil && string(detail) != "null" {
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

// str reads a JSON string through in (v as it is, escapes and all).
func (in *Interner) str(v []byte) (string, error) {
	if len(v) >= 2 && v[0] == '"' && bytes.IndexByte(v, '\\') < 0 {
		return in.get(v[1 : len(v)-1]), nil
	}
	return str(v)
}

type leanDetail struct {
	DowntimeS    *float64 `json:"downtime_s"`
	CrashID      string   `json:"crash_id"`
	DownSince    *Time    `json:"down_since"`
	ProcessStart *Time    `json:"process_start"`
	Scope        string   `json:"scope"`
	OOMKilled    bool     `json:"oom_killed"`
}

type lean struct {
	TS Time `json:"ts"`
	// ID is read only where the score looks it up (a crash, an action), as
	// the hand-written path does.
	ID       json.RawMessage `json:"id"`
	Type     string          `json:"type"`
	Target   string          `json:"target"`
	Severity json.RawMessage `json:"severity"` // read for an event only
	EventID  json.RawMessage `json:"event_id"` // read for an action only
	// Detail is decoded only for the types that need it: a crash's detail
	// carries its sample history, the bulk of the archive.
	Detail json.RawMessage `json:"detail"`
	Rule   string          `json:"rule"`
	Action string          `json:"action"`
	Result string          `json:"result"`
	DryRun bool            `json:"dry_run"`
	RSS    *Stat           `json:"rss_bytes"`
	Slope  *float64        `json:"rss_slope_bytes_per_s"`
}

// readRecordJSON is ReadRecord by encoding/json, for the lines the fast
// path hands over.
func readRecordJSON(kind string, raw []byte) (RecordView, error) {
	var l lean
	if err := json.Unmarshal(raw, &l); err != nil {
		return RecordView{}, fmt.Errorf("decode %s: %w", kind, err)
	}
	r := RecordView{Kind: kind, TS: l.TS.Time, Target: l.Target, Type: l.Type,
		Rule: l.Rule, Action: l.Action, Result: l.Result, DryRun: l.DryRun, Slope: l.Slope}
	if l.ID != nil && (r.Type == TypeCrash || kind != KindEvent) {
		r.ID, _ = str(l.ID)
	}
	var err error
	switch {
	case kind == KindEvent && l.Severity != nil:
		r.Severity, err = str(l.Severity)
	case kind == KindAction && l.EventID != nil:
		r.EventID, err = str(l.EventID)
	}
	if err != nil {
		return RecordView{}, fmt.Errorf("decode %s: %w", kind, err)
	}
	if kind == KindEvent {
		r.RawID = l.ID
	}
	if l.RSS != nil && kind == KindSummary {
		v := l.RSS.Avg
		r.RSSAvg = &v
	}
	if kind != KindEvent || len(l.Detail) == 0 || string(l.Detail) == "null" {
		return r, nil
	}
	switch l.Type {
	case TypeRecovered, TypeStarted, TypeOOMKill, TypeCrash:
	default:
		return r, nil
	}
	var d leanDetail
	if err := json.Unmarshal(l.Detail, &d); err != nil {
		return RecordView{}, fmt.Errorf("decode %s detail: %w", l.Type, err)
	}
	switch l.Type {
	case TypeStarted:
		if d.ProcessStart != nil && !d.ProcessStart.IsZero() {
			t := d.ProcessStart.Time
			r.UpSince = &t
		}
	case TypeRecovered:
		r.CrashID, r.DowntimeS = d.CrashID, d.DowntimeS
		if d.DownSince != nil && !d.DownSince.IsZero() {
			t := d.DownSince.Time
			r.DownSince = &t
		}
	case TypeOOMKill, TypeCrash:
		r.Scope, r.OOMKilled = d.Scope, d.OOMKilled
	}
	return r, nil
}
