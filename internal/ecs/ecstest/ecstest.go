// Package ecstest checks documents against the types the Elastic Common
// Schema gives their fields, the way an index with an ECS template would
// map them. Tests use it on every document sre-report ecs writes, as
// eventtest checks v1 records against their JSON Schema.
package ecstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Field is an ECS field's type, and whether ECS defines it as an array.
type Field struct {
	Type  string
	Array bool
}

// Fields is every ECS field the documents may hold, with its type, taken
// from the ECS reference (elastic/ecs, tag v8.17.0,
// generated/csv/fields.csv; the same types in v9.4.0). A document with
// another shape there (host as a string, process.user as a string, a pid
// that is text) is refused or mis-mapped by an ECS template.
var Fields = map[string]Field{
	"@timestamp":         {"date", false},
	"message":            {"match_only_text", false},
	"labels.target":      {"keyword", false}, // labels: an object whose values are keywords
	"ecs.version":        {"keyword", false},
	"host.name":          {"keyword", false},
	"log.level":          {"keyword", false},
	"service.name":       {"keyword", false},
	"error.message":      {"match_only_text", false},
	"event.kind":         {"keyword", false},
	"event.category":     {"keyword", true},
	"event.type":         {"keyword", true},
	"event.severity":     {"long", false},
	"event.id":           {"keyword", false},
	"event.dataset":      {"keyword", false},
	"event.module":       {"keyword", false},
	"event.action":       {"keyword", false},
	"event.outcome":      {"keyword", false},
	"event.provider":     {"keyword", false},
	"event.code":         {"keyword", false},
	"process.pid":        {"long", false},
	"process.parent.pid": {"long", false},
	"process.name":       {"keyword", false},
	"process.executable": {"keyword", false},
	"process.args":       {"keyword", true},
	"process.args_count": {"long", false},
	"process.start":      {"date", false},
	"process.exit_code":  {"long", false},
	"process.uptime":     {"long", false},
	"process.entity_id":  {"keyword", false},
	"process.user.name":  {"keyword", false},
	"process.user.id":    {"keyword", false},
	"container.id":       {"keyword", false},
	"container.runtime":  {"keyword", false},
}

// Allowed values, from the same reference (schemas/event.yml): event.kind,
// event.outcome, and the event types each category used here allows.
var (
	AllowedKind     = []string{"alert", "asset", "enrichment", "event", "metric", "state", "pipeline_error", "signal"}
	AllowedOutcome  = []string{"failure", "success", "unknown"}
	TypesByCategory = map[string][]string{
		"process": {"access", "change", "end", "info", "start"},
		"host":    {"access", "change", "end", "info", "start"},
	}
)

// Required is what every document the converter writes has.
var Required = []string{"@timestamp", "message", "host.name", "ecs.version", "event.kind",
	"event.category", "event.type", "event.dataset", "event.module", "event.id", "log.level", "event.severity"}

// Decode reads a document as an index sees it, numbers as written.
func Decode(line []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// Check returns every way doc is not a valid ECS document: a field outside
// sre that ECS (in Fields) does not have or types otherwise, a required
// field missing, a categorisation value ECS does not allow. sre must be an
// object; its contents are the agent's own.
func Check(doc map[string]any) []string {
	var probs []string
	for k, v := range doc {
		if k == "sre" {
			if _, ok := v.(map[string]any); !ok {
				probs = append(probs, fmt.Sprintf("sre is %T, want an object", v))
			}
			continue
		}
		Leaves(k, v, func(path string, v any) {
			f, ok := Fields[path]
			if !ok {
				probs = append(probs, fmt.Sprintf("%s: not an ECS field of the table, value %v", path, v))
				return
			}
			if err := CheckType(f, v); err != nil {
				probs = append(probs, fmt.Sprintf("%s: %v", path, err))
			}
		})
	}
	for _, must := range Required {
		if _, ok := Get(doc, must); !ok {
			probs = append(probs, must+": missing")
		}
	}
	if k, _ := Get(doc, "event.kind"); !in(AllowedKind, k) {
		probs = append(probs, fmt.Sprintf("event.kind %v: not an ECS value", k))
	}
	if o, ok := Get(doc, "event.outcome"); ok && !in(AllowedOutcome, o) {
		probs = append(probs, fmt.Sprintf("event.outcome %v: not an ECS value", o))
	}
	cats, _ := Get(doc, "event.category")
	types, _ := Get(doc, "event.type")
	cl, _ := cats.([]any)
	tl, _ := types.([]any)
	for _, c := range cl {
		allowed, ok := TypesByCategory[fmt.Sprint(c)]
		if !ok {
			probs = append(probs, fmt.Sprintf("event.category %v: not one this table knows", c))
			continue
		}
		for _, t := range tl {
			if !in(allowed, t) {
				probs = append(probs, fmt.Sprintf("event.type %v is not allowed with event.category %v", t, c))
			}
		}
	}
	sort.Strings(probs)
	return probs
}

func in(list []string, v any) bool {
	s, ok := v.(string)
	return ok && slices.Contains(list, s)
}

// CheckType says whether a JSON value fits an ECS field.
func CheckType(f Field, v any) error {
	if a, ok := v.([]any); ok {
		if !f.Array {
			return fmt.Errorf("a list, where ECS has one %s", f.Type)
		}
		for _, e := range a {
			if err := CheckType(Field{f.Type, false}, e); err != nil {
				return err
			}
		}
		return nil
	}
	switch f.Type {
	case "keyword", "match_only_text":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%v is not a string (%s)", v, f.Type)
		}
	case "long":
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%v is not a number (long)", v)
		}
		if _, err := n.Int64(); err != nil {
			return fmt.Errorf("%v is not an integer (long)", v)
		}
	case "date":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%v is not a date string", v)
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Errorf("%q is not an ISO 8601 date: %v", s, err)
		}
	default:
		return fmt.Errorf("type %s not in the table", f.Type)
	}
	return nil
}

// Leaves calls f for each field of v that is not an object, with its
// dotted path.
func Leaves(prefix string, v any, f func(path string, v any)) {
	m, ok := v.(map[string]any)
	if !ok {
		f(prefix, v)
		return
	}
	for k, sub := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		Leaves(p, sub, f)
	}
}

// Get returns the value at a dotted path.
func Get(m map[string]any, path string) (any, bool) {
	var v any = m
	for _, p := range splitPath(path) {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = mm[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

func splitPath(path string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(path); i++ {
		if path[i] == '.' {
			parts = append(parts, path[start:i])
			start = i + 1
		}
	}
	return append(parts, path[start:])
}
