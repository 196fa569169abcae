package event

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var recordSeeds = []struct{ kind, line string }{
	{"event", benchCrashLine},
	{"event", benchMemoryLine},
	{"event", `{"v":1,"kind":"event","ts":"2026-01-01T00:00:00Z","id":"i","type":"recovered","target":"w","detail":{"crash_id":"c1","downtime_s":1.5,"down_since":"2026-01-01T00:00:00.5Z"}}`},
	{"event", `{"v":1,"kind":"event","ts":"2026-01-01T00:00:00Z","id":"i","type":"started","target":"w","detail":{"process_start":"2026-01-01T00:00:00.12Z"}}`},
	{"event", `{"v":1,"kind":"event","ts":"2026-01-01T00:00:00Z","id":"i","type":"oom_kill","target":"w","detail":{"scope":"host"}}`},
	{"event", `{"v":1,"kind":"event","ts":"2026-01-01T00:00:00Z","id":"i","type":"crash","target":"w","detail":{"oom_killed":true}}`},
	{"event", `{"v":1,"kind":"event","ts":"2026-01-01T00:00:00Z","id":"i","type":"crash","target":"w","detail":{"oom_killed":"yes"}}`},
	{"event", `{"v":1,"kind":"event","ts":"2026-01-01T00:00:00Z","id":"i","type":"crash","target":"w","detail":{"oom_killed":null}}`},
	{"action", `{"v":1,"kind":"action","ts":"2026-01-01T00:00:00Z","rule":"r","action":"restart","event_id":"e","dry_run":false,"result":"ok","target":"w"}`},
	{"action", `{"v":1,"kind":"action","ts":"2026-01-01T00:00:00Z","rule":"r","action":"restart","dry_run":1,"result":"ok"}`},
	{"summary", `{"v":1,"kind":"summary","ts":"2026-01-01T00:00:00Z","target":"w","rss_bytes":{"min":1,"avg":2,"max":3},"rss_slope_bytes_per_s":-1.5}`},
	{"summary", `{"v":1,"kind":"summary","ts":"2026-01-01T00:00:00Z","target":"w","rss_bytes":5}`},
	{"event", `{"v":1,"kind":"event","ts":"","id":"i","type":"crash","target":"w"}`},
	{"event", `{"v":1,"kind":"event","ts":"2026-01-01T02:00:00+02:00","id":7,"type":"restarted","target":"w"}`},
	{"event", `{"v":1,"kind":"event","ts":"2026-01-01T00:00:00Z","id":"i","type":"memory_high","severity":"warning","target":"w"}`},
	{"event", `{"v":1,"kind":"event","ts":"2026-01-01T00:00:00Z","target":"w","type":"x","id":"i","severity":5}`},
	{"action", `{"v":1,"kind":"action","ts":"2026-01-01T00:00:00Z","rule":"r","event_id":7,"result":"ok","severity":5}`},
	{"summary", `{"v":1,"kind":"summary","ts":"2026-01-01T00:00:00Z","target":"w","severity":5,"event_id":5}`},
}

// FuzzRecordView holds ReadRecord's hand-written path to encoding/json:
// for a valid line with plain keys, each given once, where both read it
// they read the same view, and a line the fast path refuses (not errSlow)
// encoding/json refuses too.
func FuzzRecordView(f *testing.F) {
	for _, s := range recordSeeds {
		f.Add(s.kind, []byte(s.line))
	}
	f.Fuzz(func(t *testing.T, kind string, line []byte) {
		if !json.Valid(line) || !plainKeys(line) {
			return
		}
		switch kind {
		case KindEvent, KindAction, KindSummary:
		default:
			return
		}
		var fast RecordView
		ferr := readRecordFast(kind, line, &fast, nil)
		slow, serr := readRecordJSON(kind, line)
		switch {
		case ferr == errSlow:
			return
		case ferr != nil:
			if serr == nil {
				t.Fatalf("%s %q: hand-written path says %v, encoding/json reads it", kind, line, ferr)
			}
		case serr == nil:
			if d := cmp.Diff(slow, fast); d != "" {
				t.Fatalf("%s %q: the paths differ (-encoding/json +hand-written):\n%s", kind, line, d)
			}
		}
	})
}

// TestRecordViewSeeds runs FuzzRecordView's check on its seeds, and wants
// the fast path to read the lines the tools write.
func TestRecordViewSeeds(t *testing.T) {
	for _, s := range recordSeeds {
		line := []byte(s.line)
		var fast RecordView
		ferr := readRecordFast(s.kind, line, &fast, nil)
		slow, serr := readRecordJSON(s.kind, line)
		if (ferr == nil) != (serr == nil) && ferr != errSlow {
			t.Errorf("%.80q: hand-written %v, encoding/json %v", s.line, ferr, serr)
		}
		if ferr == nil && serr == nil {
			if d := cmp.Diff(slow, fast); d != "" {
				t.Errorf("%.80q: the paths differ (-encoding/json +hand-written):\n%s", s.line, d)
			}
		}
	}
	for _, l := range []string{benchCrashLine, benchMemoryLine, recordSeeds[2].line, recordSeeds[3].line} {
		var r RecordView
		if err := readRecordFast("event", []byte(l), &r, nil); err != nil {
			t.Errorf("%.80q: not read by the fast path: %v", l, err)
		}
	}
}

// plainKeys reports whether every object key in valid JSON is lower-case
// ASCII without escapes and unique in its object: where encoding/json's
// case-insensitive, last-wins matching cannot differ from the first exact
// match the fast path takes.
func plainKeys(line []byte) bool {
	if bytes.Contains(line, []byte(`\u`)) {
		return false
	}
	d := json.NewDecoder(bytes.NewReader(line))
	type frame struct {
		obj  bool
		seen map[string]bool
		key  bool // the next string token is a key
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if err != nil {
			return true
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if s, ok := tok.(string); ok && top != nil && top.obj && top.key {
			for _, c := range []byte(s) {
				if c >= 'A' && c <= 'Z' || c >= 0x80 {
					return false
				}
			}
			if top.seen[s] {
				return false
			}
			top.seen[s] = true
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, seen: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].obj {
			stack[len(stack)-1].key = true // a value ended: a key is next
		}
	}
}
