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

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/ecs/ecstest"
	"github.com/localsre/sre-agent/internal/event/eventtest"
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

// Every field outside sre is an ECS field of the right type, on every
// record kind; the categorisation uses allowed values (ecstest has the
// table, from the ECS reference).
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
			for _, p := range ecstest.Check(m) {
				t.Error(p)
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

// The checker itself catches what an ECS template would not take.
func TestCheckCatchesV1Shapes(t *testing.T) {
	for name, doc := range map[string]string{
		"host as a string":         `{"host":"vm"}`,
		"process.user as a string": `{"process":{"user":"root"}}`,
		"pid as text":              `{"process":{"pid":"42"}}`,
		"uid as a number":          `{"process":{"user":{"id":0}}}`,
		"ts not a date":            `{"@timestamp":"yesterday"}`,
		"severity as text":         `{"event":{"severity":"critical"}}`,
		"type not for category":    `{"event":{"category":["process"],"type":["connection"]}}`,
		"unknown field":            `{"process":{"threads":4}}`,
	} {
		m, err := ecstest.Decode([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		probs := ecstest.Check(m)
		// Required fields are missing in all of these; look for more.
		n := 0
		for _, p := range probs {
			if !strings.HasSuffix(p, ": missing") && !strings.HasPrefix(p, "event.kind <nil>") {
				n++
			}
		}
		if n == 0 {
			t.Errorf("%s: %s passes the check: %q", name, doc, probs)
		}
	}
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
		ecstest.Leaves("", in, func(path string, v any) {
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
