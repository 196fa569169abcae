package detect

import (
	"math"
	"strings"
	"testing"
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
