package ecs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Version is the ECS version whose field definitions the documents follow
// (ecs.version). The fields used here have the same types in ECS 9.
const Version = "8.17.0"

// Module is event.module; event.dataset is Module + "." + the record's kind.
const Module = "sre"

// ErrRecord is wrapped when a record is valid JSON but cannot be an ECS
// document: a field that moves to ECS has the wrong type (a pid that is
// not an integer, a ts that is not a date), so an index would refuse it.
var ErrRecord = errors.New("bad record")

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRecord, fmt.Sprintf(format, args...))
}

// A move takes a v1 field (a dotted path) to its ECS name, checking its
// type on the way. Only records of kind (when set) move it.
type move struct {
	from, to string
	kind     string
	conv     func(path string, v any) (any, error)
}

// moves is every v1 field with an ECS home. Whatever is not here stays
// under sre with its v1 name.
var moves = []move{
	{from: "ts", to: "@timestamp", conv: date},
	{from: "host", to: "host.name", conv: str},
	{from: "src", to: "event.provider", conv: str},
	{from: "msg", to: "message", conv: str},
	{from: "severity", to: "log.level", kind: "event", conv: str},
	{from: "target", to: "labels.target", conv: str},
	{from: "id", to: "event.id", kind: "event", conv: str},
	{from: "type", to: "event.action", kind: "event", conv: str},
	{from: "action", to: "event.action", kind: "action", conv: str},
	{from: "pid", to: "process.pid", kind: "action", conv: long},
	{from: "argv", to: "process.args", kind: "action", conv: strs},
	{from: "error", to: "error.message", kind: "action", conv: str},
	{from: "code", to: "event.code", kind: "notice", conv: str},
	{from: "process.pid", to: "process.pid", conv: long},
	{from: "process.ppid", to: "process.parent.pid", conv: long},
	{from: "process.name", to: "process.name", conv: str},
	{from: "process.exe", to: "process.executable", conv: str},
	{from: "process.args", to: "process.args", conv: strs},
	{from: "process.user", to: "process.user.name", conv: str},
	{from: "process.uid", to: "process.user.id", conv: idString},
	{from: "process.start", to: "process.start", conv: date},
	{from: "process.container_id", to: "container.id", conv: str},
	{from: "process.container_runtime", to: "container.runtime", conv: str},
	{from: "exit.code", to: "process.exit_code", kind: "sample", conv: long},
}

// Severities: log.level keeps the v1 word, event.severity is the syslog
// code of that word, so an ascending sort puts the worst first.
var severityCode = map[string]int{"critical": 2, "warning": 4, "info": 6}

// Convert returns the ECS document of one v1 record (a JSON object). It
// does not validate the record beyond what ECS needs; a record whose
// fields cannot take their ECS types is an error wrapping ErrRecord.
func Convert(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers pass through exactly as written
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, bad("not a JSON object: %v", err)
	}
	if m == nil {
		return nil, bad("not a JSON object")
	}
	kind, _ := m["kind"].(string)
	for _, k := range []string{"process", "exit"} {
		if v, ok := m[k]; ok {
			if _, ok := v.(map[string]any); !ok {
				return nil, bad("%s: want an object, have %s", k, jsonType(v))
			}
		}
	}
	doc := map[string]any{}
	for _, mv := range moves {
		if mv.kind != "" && mv.kind != kind {
			continue
		}
		v, ok := take(m, mv.from)
		if !ok {
			continue
		}
		out, err := mv.conv(mv.from, v)
		if err != nil {
			return nil, err
		}
		set(doc, mv.to, out)
	}
	if _, ok := doc["@timestamp"]; !ok {
		return nil, bad("ts: missing")
	}
	derive(doc, m, kind, raw)
	if len(m) > 0 {
		doc["sre"] = m
	}
	return doc, nil
}

// derive adds the fields ECS wants that v1 says in other ways: the
// categorisation, the level, ids and counts. m is what is left of the v1
// record after the moves (it becomes sre).
func derive(doc, m map[string]any, kind string, raw []byte) {
	set(doc, "ecs.version", Version)
	set(doc, "event.module", Module)
	set(doc, "event.dataset", Module+"."+kind)
	level := levelOf(doc, m, kind)
	if _, ok := get(doc, "log.level"); !ok && level != "" {
		set(doc, "log.level", level)
	}
	if c, ok := severityCode[level]; ok {
		set(doc, "event.severity", c)
	}
	ekind, category, etype := categorise(doc, m, kind, level)
	set(doc, "event.kind", ekind)
	set(doc, "event.category", []string{category})
	set(doc, "event.type", []string{etype})
	if kind == "action" {
		set(doc, "event.outcome", outcome(m))
	}
	if _, ok := get(doc, "event.id"); !ok {
		// Records other than events have no id: a digest of the line
		// itself, so converting the same archive twice gives the same
		// ids and a shipper can use them as document ids (no duplicates).
		sum := sha256.Sum256(raw)
		set(doc, "event.id", hex.EncodeToString(sum[:16]))
	}
	if t, ok := get(doc, "labels.target"); ok && plainName.MatchString(t.(string)) {
		set(doc, "service.name", t)
	}
	if a, ok := get(doc, "process.args"); ok {
		set(doc, "process.args_count", len(a.([]any)))
	}
	if pid, ok := get(doc, "process.pid"); ok {
		if ticks, ok := get(m, "process.start_ticks"); ok {
			if n, ok := ticks.(json.Number); ok {
				id := fmt.Sprintf("%s@%s", pid, n)
				if h, ok := get(doc, "host.name"); ok {
					id = fmt.Sprintf("%s/%s", h, id)
				}
				set(doc, "process.entity_id", id)
			}
		}
	}
	if up, ok := get(m, "exit.uptime_s"); ok {
		if n, ok := up.(json.Number); ok {
			if f, err := n.Float64(); err == nil && f >= 0 && f < 1<<62 {
				set(doc, "process.uptime", int64(f)) // ECS: whole seconds; sre.exit.uptime_s keeps the fraction
			}
		}
	}
	if _, ok := get(doc, "message"); !ok {
		set(doc, "message", message(doc, m, kind))
	}
}

// plainName is a target that names a service (nginx, api-1, app.py), not
// a regular expression, a path, pid:N or user:NAME: only such a target is
// service.name. Every target is labels.target.
var plainName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.@-]*$`)

func levelOf(doc, m map[string]any, kind string) string {
	switch kind {
	case "event":
		s, _ := get(doc, "log.level")
		l, _ := s.(string)
		return l
	case "action":
		switch r, _ := m["result"].(string); r {
		case "gave_up":
			return "critical"
		case "failed":
			return "warning"
		}
	case "notice":
		return "warning"
	}
	return "info"
}

// categorise returns event.kind, event.category and event.type, from the
// values ECS allows (the process and host categories both allow start,
// end, change and info).
func categorise(doc, m map[string]any, kind, level string) (ekind, category, etype string) {
	switch kind {
	case "sample":
		if _, ok := m["exit"]; ok {
			return "metric", "process", "end"
		}
		if _, ok := get(doc, "process.pid"); ok {
			return "metric", "process", "info"
		}
		return "metric", "host", "info"
	case "summary", "score":
		return "metric", "process", "info"
	case "action":
		if r, _ := m["result"].(string); r == "ok" && m["dry_run"] != true {
			return "event", "process", "change"
		}
		return "event", "process", "info"
	case "event":
		ekind = "event"
		if level == "critical" || level == "warning" {
			ekind = "alert" // a detector's finding that needs a person
		}
		t, _ := get(doc, "event.action")
		switch t {
		case "crash", "oom_kill":
			return ekind, "process", "end"
		case "started", "restarted", "recovered":
			return ekind, "process", "start"
		case "threads_changed":
			return ekind, "process", "change"
		}
		return ekind, "process", "info"
	}
	return "event", "host", "info"
}

func outcome(m map[string]any) string {
	switch r, _ := m["result"].(string); r {
	case "ok":
		return "success"
	case "failed", "gave_up":
		return "failure"
	}
	return "unknown"
}

// message is a sentence for the records that carry no msg, from their
// own fields, so every document has one to show.
func message(doc, m map[string]any, kind string) string {
	target := "?"
	if t, ok := get(doc, "labels.target"); ok {
		target = t.(string)
	}
	switch kind {
	case "sample":
		pid, hasPID := get(doc, "process.pid")
		switch {
		case m["exit"] != nil && hasPID:
			return fmt.Sprintf("%s: pid %v ended", target, pid)
		case m["up"] == true && hasPID:
			return fmt.Sprintf("%s: up, pid %v", target, pid)
		case m["up"] == true:
			return target + ": up"
		}
		return target + ": not running"
	case "action":
		act, _ := get(doc, "event.action")
		rule, _ := m["rule"].(string)
		result, _ := m["result"].(string)
		s := fmt.Sprintf("%s: %v by rule %s: %s", target, act, rule, result)
		if m["dry_run"] == true {
			s += " (dry run)"
		}
		return s
	case "score":
		w, _ := m["window"].(string)
		return fmt.Sprintf("%s: stability score %v over %s", target, m["score"], w)
	case "summary":
		return fmt.Sprintf("%s: summary of %v samples", target, m["samples"])
	}
	return fmt.Sprintf("%s record", kind)
}

func str(path string, v any) (any, error) {
	if _, ok := v.(string); !ok {
		return nil, bad("%s: want a string, have %s", path, jsonType(v))
	}
	return v, nil
}

func date(path string, v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, bad("%s: want a timestamp, have %s", path, jsonType(v))
	}
	if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
		return nil, bad("%s: want an RFC 3339 timestamp: %q", path, s)
	}
	return s, nil // as written: every nanosecond kept
}

func long(path string, v any) (any, error) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, bad("%s: want an integer, have %s", path, jsonType(v))
	}
	if _, err := n.Int64(); err != nil {
		return nil, bad("%s: want an integer, have %s", path, n)
	}
	return n, nil
}

// idString: ECS user ids are keywords, so the v1 uid 1000 becomes "1000".
func idString(path string, v any) (any, error) {
	n, err := long(path, v)
	if err != nil {
		return nil, err
	}
	return n.(json.Number).String(), nil
}

func strs(path string, v any) (any, error) {
	a, ok := v.([]any)
	if !ok {
		return nil, bad("%s: want a list of strings, have %s", path, jsonType(v))
	}
	for _, e := range a {
		if _, ok := e.(string); !ok {
			return nil, bad("%s: want a list of strings, have a %s in it", path, jsonType(e))
		}
	}
	return a, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// get returns the value at a dotted path.
func get(m map[string]any, path string) (any, bool) {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		v, ok := m[p]
		if !ok {
			return nil, false
		}
		if i == len(parts)-1 {
			return v, true
		}
		if m, ok = v.(map[string]any); !ok {
			return nil, false
		}
	}
	return nil, false
}

// take removes and returns the value at a dotted path, and removes the
// objects it leaves empty.
func take(m map[string]any, path string) (any, bool) {
	head, rest, nested := strings.Cut(path, ".")
	v, ok := m[head]
	if !ok {
		return nil, false
	}
	if !nested {
		delete(m, head)
		return v, true
	}
	sub, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	out, ok := take(sub, rest)
	if ok && len(sub) == 0 {
		delete(m, head)
	}
	return out, ok
}

// set puts v at a dotted path, making the objects on the way.
func set(m map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	m[parts[len(parts)-1]] = v
}
