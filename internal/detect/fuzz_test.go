package detect

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/localsre/sre-agent/internal/event"
)

// FuzzValues feeds any text to the flag value parsers: they never panic,
// and what they accept is a finite, non-negative amount.
func FuzzValues(f *testing.F) {
	for _, s := range []string{"1.5GiB", "512MB", "80%", "10", "50%", "1MiB/m", "100KiB/s", "2GB/h", "5MiB/30m", "30s", "1h30m", "0",
		"-1", "1e308GiB", "%", "/", "1.2.3", "∞", "9999999999999999999999", "1 KiB", "0.0000001B", "5MiB/0s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(what string, v float64) {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Fatalf("%s(%q) = %v: not a finite non-negative amount", what, s, v)
			}
		}
		if v, err := ParseSize(s); err == nil {
			check("ParseSize", v)
		}
		if l, err := ParseSizeOrPct(s); err == nil {
			check("ParseSizeOrPct", l.Abs)
			check("ParseSizeOrPct", l.Of)
			if l.Pct && l.Of > 100 {
				t.Fatalf("ParseSizeOrPct(%q) = %v%%: over 100", s, l.Of)
			}
		}
		if l, err := ParseDelta(s); err == nil {
			check("ParseDelta", l.Abs)
			check("ParseDelta", l.Of)
		}
		if v, err := ParseRate(s); err == nil {
			check("ParseRate", v)
		}
		if d, err := ParseDuration(s); err == nil && d < 0 {
			t.Fatalf("ParseDuration(%q) = %v: negative", s, d)
		}
		if v, err := ParsePct(s); err == nil {
			check("ParsePct", v)
		}
	})
}

// FuzzWhen compiles any --when expression: never a panic, and a syntax
// error points inside the expression.
func FuzzWhen(f *testing.F) {
	for _, s := range []string{".process.rss_bytes > 1e9", `.process.state == "Z"`, ".a >", "(((", `"unterminated`, "$x", "def f: f; f", ".[] |"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		w := When{Name: "x", Expr: expr}
		err := CompileWhen(&w)
		if err == nil {
			return
		}
		ce, ok := err.(*CompileError)
		if !ok {
			t.Fatalf("CompileWhen(%q): %T, want *CompileError", expr, err)
		}
		if ce.Offset > len(expr) || !strings.Contains(ce.Error(), "--when x=") {
			t.Fatalf("CompileWhen(%q): offset %d of %d: %v", expr, ce.Offset, len(expr), ce)
		}
	})
}

// FuzzParseSample checks the hand-written sample decoder against
// encoding/json: for any line both accept, they agree on every field the
// detectors use; and it never panics.
func FuzzParseSample(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"kind":"sample","ts":"2026-01-01T00:00:00.000000000Z","host":"h","src":"sre-sample","target":"t","seq":1,"up":true,"matches":1,"process":{"pid":42,"ppid":1,"start":"2026-01-01T00:00:00Z","start_ticks":7,"name":"t","args":["a","b\"c"],"state":"S","cpu_pct":1.5,"cpu_time_s":0,"rss_bytes":1000,"vms_bytes":2000,"threads":1,"fds":3,"fds_limit":1024},"system":{"mem_total_bytes":10,"mem_available_bytes":5,"disk":[{"path":"/"}],"psi_mem_some_avg10":0.5,"oom_kills":2}}`,
		`{"ts":"2026-01-01T00:00:00+02:00","target":"t\u00e9","up":false,"exit":{"pid":3,"noticed":"pidfd","code":1,"signal":"SIGKILL","uptime_s":1e2}}`,
		`{"ts":"2026-02-30T00:00:00Z","target":"t","up":false}`,
		`{"ts":"2026-01-01T00:00:00.5Z","target":"t","up":true,"process":null}`,
		`{"target":"x","up":true,"ts":"2026-01-01T00:00:00Z","process":{"pid":1,"start_ticks":1,"rss_bytes":-1,"threads":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var s Sample
		if ParseSample(line, &s, interner{}) != nil {
			return
		}
		var want event.Sample
		if json.Unmarshal(line, &want) != nil {
			return // not valid JSON: the ndjson reader never hands such a line over
		}
		if !exactKeys(line) {
			return // encoding/json matches keys case-insensitively; the schema does not
		}
		if !s.TS.Equal(want.TS.Time) || s.Target != want.Target || s.Host != want.Host || s.Up != want.Up {
			t.Fatalf("%s:\nheader %v %q %q %v, encoding/json %v %q %q %v", line, s.TS, s.Target, s.Host, s.Up, want.TS, want.Target, want.Host, want.Up)
		}
		if p := want.Process; p != nil && s.HasProc {
			if s.PID != p.PID || s.StartTicks != p.StartTicks || s.RSS != p.RSSBytes || s.Threads != p.Threads || s.Name != p.Name {
				t.Fatalf("%s:\nprocess %+v, encoding/json %+v", line, s, p)
			}
		}
		if x := want.Exit; x != nil && s.HasExit && (s.Exit.PID != x.PID || s.Exit.Signal != x.Signal || s.Exit.Noticed != x.Noticed) {
			t.Fatalf("%s:\nexit %+v, encoding/json %+v", line, s.Exit, x)
		}
	})
}

// exactKeys reports whether every object key in line is free of upper-case
// and non-ASCII letters, where encoding/json's case-insensitive matching
// cannot differ from the exact match the schema asks for.
func exactKeys(line []byte) bool {
	var v any
	if json.Unmarshal(line, &v) != nil {
		return false
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				for _, c := range []byte(k) {
					if c >= 'A' && c <= 'Z' || c >= 0x80 {
						return false
					}
				}
				if !walk(e) {
					return false
				}
			}
		case []any:
			for _, e := range x {
				if !walk(e) {
					return false
				}
			}
		}
		return true
	}
	return walk(v)
}
