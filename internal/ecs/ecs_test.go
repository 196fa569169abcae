package ecs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/event/eventtest"
)

// ecsFields is every ECS field the documents may hold, with its type and
// whether ECS defines it as an array, taken from the ECS reference
// (elastic/ecs, tag v8.17.0, generated/csv/fields.csv; the same types in
// v9.4.0). An index with an ECS template maps these fields so; a document
// with another shape there (host as a string, process.user as a string, a
// pid that is text) is refused or mis-mapped.
var ecsFields = map[string]struct {
	typ   string
	array bool
}{
	"@timestamp":         {"date", false},
	"message":            {"match_only_text", false},
	"labels.target":      {"keyword", false}, // labels: object whose values are keywords
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

// Allowed values, from the same reference (schemas/event.yml): the
// categories used and the event types each allows.
var (
	allowedKind     = []string{"alert", "asset", "enrichment", "event", "metric", "state", "pipeline_error", "signal"}
	allowedOutcome  = []string{"failure", "success", "unknown"}
	typesByCategory = map[string][]string{
		"process": {"access", "change", "end", "info", "start"},
		"host":    {"access", "change", "end", "info", "start"},
	}
)

func records(t *testing.T) [][]byte {
	t.Helper()
	data, err := os.ReadFile("testdata/records.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := append([]byte(nil), sc.Bytes()...)
		if err := eventtest.ValidateLine(line); err != nil {
			t.Fatalf("fixture is not a valid v1 record: %v\n%s", err, line)
		}
		out = append(out, line)
	}
	return out
}

// leaves walks a decoded JSON document and calls f for each field that is
// not an object, with its dotted path.
func leaves(prefix string, v any, f func(path string, v any)) {
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
		leaves(p, sub, f)
	}
}

// roundTrip marshals the document as the converter's writer does and
// reads it back as an index would see it.
func roundTrip(t *testing.T, doc map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// checkType says whether a JSON value fits an ECS field type.
func checkType(typ string, array bool, v any) error {
	if a, ok := v.([]any); ok {
		if !array {
			return fmt.Errorf("a list, where ECS has one %s", typ)
		}
		for _, e := range a {
			if err := checkType(typ, false, e); err != nil {
				return err
			}
		}
		return nil
	}
	switch typ {
	case "keyword", "match_only_text":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%v is not a string (%s)", v, typ)
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
		return fmt.Errorf("type %s not in the test's table", typ)
	}
	return nil
}

// Every field outside sre is an ECS field of the right type, on every
// record kind; the categorisation uses allowed values.
func TestShapeMatchesECS(t *testing.T) {
	kinds := map[string]bool{}
	for _, raw := range records(t) {
		var h struct{ Kind string }
		_ = json.Unmarshal(raw, &h)
		kinds[h.Kind] = true
		t.Run(h.Kind, func(t *testing.T) {
			doc, err := Convert(raw)
			if err != nil {
				t.Fatal(err)
			}
			m := roundTrip(t, doc)
			for k, v := range m {
				if k == "sre" {
					if _, ok := v.(map[string]any); !ok {
						t.Errorf("sre is %T, want an object", v)
					}
					continue
				}
				leaves(k, v, func(path string, v any) {
					f, ok := ecsFields[path]
					if !ok {
						t.Errorf("%s: not an ECS field (in the test's table), value %v", path, v)
						return
					}
					if err := checkType(f.typ, f.array, v); err != nil {
						t.Errorf("%s: %v", path, err)
					}
				})
			}
			for _, must := range []string{"@timestamp", "message", "host.name", "ecs.version", "event.kind",
				"event.category", "event.type", "event.dataset", "event.module", "event.id", "log.level", "event.severity"} {
				if _, ok := get(m, must); !ok {
					t.Errorf("%s: missing", must)
				}
			}
			kind, _ := get(m, "event.kind")
			if !contains(allowedKind, kind) {
				t.Errorf("event.kind %v: not an ECS value", kind)
			}
			if o, ok := get(m, "event.outcome"); ok && !contains(allowedOutcome, o) {
				t.Errorf("event.outcome %v: not an ECS value", o)
			}
			cats, _ := get(m, "event.category")
			types, _ := get(m, "event.type")
			for _, c := range cats.([]any) {
				for _, ty := range types.([]any) {
					if !contains(typesByCategory[c.(string)], ty) {
						t.Errorf("event.type %v is not allowed with event.category %v", ty, c)
					}
				}
			}
			if ts, _ := get(m, "@timestamp"); !strings.HasSuffix(ts.(string), "Z") || len(ts.(string)) != len("2026-11-27T03:41:11.259635101Z") {
				t.Errorf("@timestamp %v: want the nanosecond UTC form", ts)
			}
		})
	}
	for _, k := range []string{"sample", "event", "action", "score", "summary", "notice"} {
		if !kinds[k] {
			t.Errorf("no %s record in testdata/records.ndjson", k)
		}
	}
}

func contains[T comparable](list []T, v any) bool {
	for _, e := range list {
		if any(e) == v {
			return true
		}
	}
	return false
}

// getKeys is get for a path whose keys may hold dots themselves (the
// keys of unavailable are field paths): it tries every split.
func getKeys(m map[string]any, path string) (any, bool) {
	if v, ok := m[path]; ok {
		return v, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if sub, ok := m[path[:i]].(map[string]any); ok {
			if v, ok := getKeys(sub, path[i+1:]); ok {
				return v, true
			}
		}
	}
	return nil, false
}

// Nothing is lost: every field of the v1 record is either under sre with
// its own name and value, or at its ECS name with the same value.
func TestNothingLost(t *testing.T) {
	for _, raw := range records(t) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var in map[string]any
		if err := dec.Decode(&in); err != nil {
			t.Fatal(err)
		}
		kind := in["kind"].(string)
		doc, err := Convert(raw)
		if err != nil {
			t.Fatal(err)
		}
		out := roundTrip(t, doc)
		sre, _ := out["sre"].(map[string]any)
		leaves("", in, func(path string, v any) {
			if got, ok := getKeys(sre, path); ok {
				if diff := cmp.Diff(v, got); diff != "" {
					t.Errorf("%s %s: sre.%s differs (-v1 +ecs):\n%s", kind, path, path, diff)
				}
				return
			}
			for _, mv := range moves {
				if mv.from != path || (mv.kind != "" && mv.kind != kind) {
					continue
				}
				got, ok := get(out, mv.to)
				if !ok {
					t.Errorf("%s %s: moved to %s, which is missing", kind, path, mv.to)
					return
				}
				if n, isNum := v.(json.Number); isNum && mv.to == "process.user.id" {
					v = n.String()
				}
				if diff := cmp.Diff(v, got); diff != "" {
					t.Errorf("%s %s → %s differs (-v1 +ecs):\n%s", kind, path, mv.to, diff)
				}
				return
			}
			t.Errorf("%s %s: lost (neither under sre nor moved)", kind, path)
		})
	}
}

// The mapping of one crash event, whole: what a user sees in the index.
func TestCrashEvent(t *testing.T) {
	raw := records(t)[3]
	doc, err := Convert(raw)
	if err != nil {
		t.Fatal(err)
	}
	m := roundTrip(t, doc)
	delete(m, "sre")
	b, _ := json.MarshalIndent(m, "", "  ")
	got := map[string]any{}
	for _, p := range []string{"@timestamp", "message", "host.name", "event.kind", "event.category", "event.type",
		"event.action", "event.id", "event.dataset", "event.module", "event.provider", "event.severity", "log.level",
		"labels.target", "service.name", "process.pid", "process.parent.pid", "process.user.name", "process.user.id",
		"process.args_count", "process.entity_id", "ecs.version"} {
		v, _ := get(m, p)
		got[p] = fmt.Sprint(v)
	}
	exp := map[string]any{
		"@timestamp": "2026-11-27T03:41:11.260101000Z", "message": "sleep (pid 7307) was killed by SIGKILL after 1.659 s.",
		"host.name": "vm", "event.kind": "alert", "event.category": "[process]", "event.type": "[end]",
		"event.action": "crash", "event.id": "0193d2a1c4e07a3b", "event.dataset": "sre.event", "event.module": "sre",
		"event.provider": "sre-detect", "event.severity": "2", "log.level": "critical", "labels.target": "sleep",
		"service.name": "sleep", "process.pid": "7307", "process.parent.pid": "7262", "process.user.name": "root",
		"process.user.id": "0", "process.args_count": "2", "process.entity_id": "vm/7307@87060", "ecs.version": Version,
	}
	if diff := cmp.Diff(exp, got); diff != "" {
		t.Errorf("crash event (-want +got):\n%s\n%s", diff, b)
	}
}

// A target that is a regex, a path or pid:N is a label, never service.name.
func TestServiceName(t *testing.T) {
	for target, want := range map[string]bool{
		"nginx": true, "api-1": true, "app.py": true, "gunicorn.*api": false, "/run/api.pid": false,
		"pid:4242": false, "user:www-data": false, "java kafka": false,
	} {
		raw := fmt.Sprintf(`{"v":1,"kind":"score","ts":"2026-11-27T04:00:00.000000000Z","host":"vm","src":"sre-score","target":%q,"window":"1h","crashes":0,"restarts":0,"oom_kills":0,"uptime_s":1,"downtime_s":0,"score":100}`, target)
		doc, err := Convert([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		_, got := get(doc, "service.name")
		if got != want {
			t.Errorf("target %q: service.name present %v, want %v", target, got, want)
		}
		if l, _ := get(doc, "labels.target"); l != target {
			t.Errorf("target %q: labels.target %v", target, l)
		}
	}
}

// A record whose fields cannot take their ECS types is refused with a
// message naming the field; the caller skips and counts it.
func TestBadRecord(t *testing.T) {
	head := `"v":1,"ts":"2026-11-27T04:00:00.000000000Z","host":"vm","src":"x"`
	for name, tc := range map[string]struct{ raw, want string }{
		"host object":   {`{"v":1,"kind":"notice","ts":"2026-11-27T04:00:00Z","host":{"name":"vm"},"src":"x","code":"c","msg":"m"}`, "host: want a string"},
		"ts number":     {`{"v":1,"kind":"notice","ts":1764216000,"host":"vm","src":"x","code":"c","msg":"m"}`, "ts: want a timestamp"},
		"ts not a date": {`{"v":1,"kind":"notice","ts":"yesterday","host":"vm","src":"x","code":"c","msg":"m"}`, "ts: want an RFC 3339"},
		"no ts":         {`{"v":1,"kind":"notice","host":"vm","src":"x","code":"c","msg":"m"}`, "ts: missing"},
		"pid float":     {`{"kind":"sample",` + head + `,"target":"a","process":{"pid":1.5}}`, "process.pid: want an integer"},
		"uid string":    {`{"kind":"sample",` + head + `,"target":"a","process":{"pid":1,"uid":"root"}}`, "process.uid: want an integer"},
		"args string":   {`{"kind":"sample",` + head + `,"target":"a","process":{"pid":1,"args":"a b"}}`, "process.args: want a list"},
		"process list":  {`{"kind":"sample",` + head + `,"target":"a","process":[1]}`, "process: want an object"},
		"not an object": {`[1,2]`, "not a JSON object"},
	} {
		_, err := Convert([]byte(tc.raw))
		if !errors.Is(err, ErrRecord) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want ErrRecord naming %q", name, err, tc.want)
		}
	}
}

// Fields a newer tool or jq added reach sre untouched.
func TestUnknownFieldsKept(t *testing.T) {
	raw := `{"v":1,"kind":"event","ts":"2026-11-27T04:00:00.000000000Z","host":"vm","src":"sre-detect","id":"1","type":"custom","severity":"warning","target":"a","msg":"m","team":"db","detail":{"x":[1,2]}}`
	doc, err := Convert([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	m := roundTrip(t, doc)
	sre := m["sre"].(map[string]any)
	keys := make([]string, 0, len(sre))
	for k := range sre {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if diff := cmp.Diff([]string{"detail", "kind", "team", "v"}, keys); diff != "" {
		t.Errorf("sre keys (-want +got):\n%s", diff)
	}
}
