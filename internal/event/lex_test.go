package event

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// lexValid reports whether lex reads b as one JSON value and nothing else.
func lexValid(b []byte) bool {
	l := lex{b: b}
	l.skip()
	return l.end()
}

var lexSeeds = []string{
	``, ` `, `{}`, `[]`, `{"a":1}`, `{"a":1,}`, `[1,]`, `[,1]`, `{"a" 1}`, `{"a":1 "b":2}`, `{1:1}`,
	`"x"`, `"\u00e9\n\t\"\\\/\b\f\r"`, `"\u00g0"`, `"\x"`, `"a` + "\x00" + `"`, `"a` + "\x1f" + `"`, "\"a\x7f\xff\"", `"abc`,
	`0`, `-0`, `01`, `-`, `1.`, `.5`, `1.5e10`, `1E+2`, `1e`, `1e-`, `+1`, `0x10`, `1.5.5`, `--1`, `1e400`,
	`true`, `tru`, `false`, `nul`, `null `, ` null`, "\t\r\n{}\n", `{} {}`, `{}x`, `[1] 2`,
	`{"v":1,"kind":"sample","a":[{"b":[null,true,false,-1.5e-3,"s"]}],"c":{}}`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
	`{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
	strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
	strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
}

// TestLexValid: what lex reads through is exactly what encoding/json calls
// valid, nesting limit included.
func TestLexValid(t *testing.T) {
	for _, s := range lexSeeds {
		if got, want := lexValid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("%.60q: lex says valid=%v, encoding/json %v", s, got, want)
		}
	}
}

// FuzzLexValid compares the checks lex makes while reading with
// json.Valid on any bytes.
func FuzzLexValid(f *testing.F) {
	for _, s := range lexSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := lexValid(b), json.Valid(b); got != want {
			t.Fatalf("%q: lex says valid=%v, encoding/json %v", b, got, want)
		}
	})
}

// TestParseTimeCalendar: the hand-written fixed-width form gives what
// time.Parse gives for every day of eight centuries and for dates that do
// not exist.
func TestParseTimeCalendar(t *testing.T) {
	for d := time.Date(1600, 1, 1, 23, 59, 58, 123456789, time.UTC); d.Year() < 2400; d = d.AddDate(0, 0, 1) {
		b := []byte(d.Format("2006-01-02T15:04:05.000000000Z"))
		got, ok := ParseTime(b)
		if !ok || got != d {
			t.Fatalf("%s: %v %v, want %v", b, got, ok, d)
		}
	}
	for _, s := range []string{"0001-01-01T00:00:00Z", "0399-12-31T23:59:59Z", "0400-02-29T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "2024-02-29T00:00:00Z",
		"2023-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-01-00T00:00:00Z", "2026-01-32T00:00:00Z"} {
		want, err := time.Parse(time.RFC3339Nano, s)
		got, ok := ParseTime([]byte(s))
		if ok != (err == nil) || ok && got != want.UTC() {
			t.Errorf("%s: %v %v, time.Parse %v %v", s, got, ok, want, err)
		}
	}
}

// TestReadSampleOnePass: a sample line as sre-sample writes it is proved
// valid by its own decoding, so ReadSample scans it once; a line with
// anything ReadHead must judge is not vouched for.
func TestReadSampleOnePass(t *testing.T) {
	line := `{"v":1,"kind":"sample","ts":"2026-01-01T00:00:00Z","target":"t","up":true,"process":{"pid":1,"start_ticks":1,"rss_bytes":1,"threads":1}}`
	tail := strings.TrimPrefix(line, `{"v":1,"kind":"sample",`)
	for _, tt := range []struct {
		line string
		want bool
	}{
		{line, true},
		{benchSampleLine, true},
		{line + " \n", true},
		{line + "x", false},
		{`{"v":1,"v":1,"kind":"sample",` + tail, false},
		{`{"v":1,"kind":"sample","kind":"sample",` + tail, false},
		{`{"v":1,"kind":"sample","V":1,` + tail, false},
		{`{"v":1,"kind":"sample","Kind":"event",` + tail, false},
		{`{"v":1,"kind":"sample","\u212aind":"event",` + tail, false},
		{`{"v":1,"kind":"sample","x":[` + strings.Repeat("[", fastDepth-2) + strings.Repeat("]", fastDepth-2) + `],` + tail, true},
		{`{"v":1,"kind":"sample","x":[` + strings.Repeat("[", fastDepth) + strings.Repeat("]", fastDepth) + `],` + tail, true}, // [] is not followed
		{`{"v":1,"kind":"sample","x":[` + strings.Repeat("[", fastDepth+1) + strings.Repeat("]", fastDepth+1) + `],` + tail, false},
	} {
		var s SampleView
		_, err := ReadSample([]byte(tt.line), &s, nil)
		if got := err == nil && s.checked; got != tt.want {
			t.Errorf("%.90q: one pass %v (err %v), want %v", tt.line, got, err, tt.want)
		}
	}
}
