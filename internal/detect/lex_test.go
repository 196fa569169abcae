package detect

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// lexValid reports whether lex reads b as one JSON value and nothing else.
func lexValid(b []byte) bool {
	l := lex{b: b}
	l.skip(0)
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

// topKeys lists the keys of a JSON object's own members, in order.
func topKeys(t *testing.T, line []byte) []string {
	d := json.NewDecoder(bytes.NewReader(line))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%q: not an object", line)
	}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// checkChecked fails if ParseSample vouched for a line the ndjson reader
// would have had to look at again: not valid JSON, or with a "v" or "kind"
// other than one plain key each.
func checkChecked(t *testing.T, line []byte) {
	t.Helper()
	var s Sample
	if ParseSample(line, &s, interner{}) != nil || !s.Checked {
		return
	}
	if !json.Valid(line) {
		t.Fatalf("%q: Checked, but not valid JSON", line)
	}
	nv, nkind := 0, 0
	for _, k := range topKeys(t, line) {
		if strings.EqualFold(k, "v") {
			nv++
			if k != "v" || !bytes.Contains(line, []byte(`"v"`)) {
				t.Fatalf("%q: Checked with key %q", line, k)
			}
		}
		if strings.EqualFold(k, "kind") {
			nkind++
			if k != "kind" || !bytes.Contains(line, []byte(`"kind"`)) {
				t.Fatalf("%q: Checked with key %q", line, k)
			}
		}
	}
	if nv != 1 || nkind != 1 {
		t.Fatalf("%q: Checked with %d v and %d kind keys", line, nv, nkind)
	}
}

const checkedLine = `{"v":1,"kind":"sample","ts":"2026-01-01T00:00:00Z","target":"t","up":true,"process":{"pid":1,"start_ticks":1,"rss_bytes":1,"threads":1}}`

// TestParseSampleChecked: Checked is set for a whole, plain sample line,
// and only then.
func TestParseSampleChecked(t *testing.T) {
	tail := strings.TrimPrefix(checkedLine, `{"v":1,"kind":"sample",`)
	for _, tt := range []struct {
		line string
		want bool
	}{
		{checkedLine, true},
		{checkedLine + " \n", true},
		{checkedLine + "x", false},
		{checkedLine + "}", false},
		{`{"kind":"sample",` + tail, false},
		{`{"v":1,` + tail, false},
		{`{"v":1,"v":1,"kind":"sample",` + tail, false},
		{`{"v":1,"kind":"sample","kind":"sample",` + tail, false},
		{`{"v":1,"kind":"sample","V":1,` + tail, false},
		{`{"v":1,"kind":"sample","Kind":"event",` + tail, false},
		{`{"v":1,"kind":"sample","\u212aind":"event",` + tail, false},
		{`{"v":1,"\u006bind":"sample",` + tail, false},
		{`{"v":1,"kind":"sample","x":[` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `],` + tail, true},
		{`{"v":1,"kind":"sample","x":[` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `],` + tail, false},
	} {
		var s Sample
		err := ParseSample([]byte(tt.line), &s, interner{})
		if got := err == nil && s.Checked; got != tt.want {
			t.Errorf("%.90q: checked %v (err %v), want %v", tt.line, got, err, tt.want)
		}
		checkChecked(t, []byte(tt.line))
	}
}

// FuzzParseSampleChecked: a line ParseSample vouches for is one the ndjson
// reader would have passed on as it is.
func FuzzParseSampleChecked(f *testing.F) {
	f.Add([]byte(checkedLine))
	for _, l := range benchLines(2) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line []byte) { checkChecked(t, line) })
}

// TestParseTimeCalendar: the hand-written fixed-width form gives what
// time.Parse gives for every day of eight centuries and for dates that do
// not exist.
func TestParseTimeCalendar(t *testing.T) {
	for d := time.Date(1600, 1, 1, 23, 59, 58, 123456789, time.UTC); d.Year() < 2400; d = d.AddDate(0, 0, 1) {
		b := []byte(d.Format("2006-01-02T15:04:05.000000000Z"))
		got, ok := parseTime(b)
		if !ok || got != d {
			t.Fatalf("%s: %v %v, want %v", b, got, ok, d)
		}
	}
	for _, s := range []string{"0001-01-01T00:00:00Z", "0399-12-31T23:59:59Z", "0400-02-29T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "2024-02-29T00:00:00Z",
		"2023-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-01-00T00:00:00Z", "2026-01-32T00:00:00Z"} {
		want, err := time.Parse(time.RFC3339Nano, s)
		got, ok := parseTime([]byte(s))
		if ok != (err == nil) || ok && got != want.UTC() {
			t.Errorf("%s: %v %v, time.Parse %v %v", s, got, ok, want, err)
		}
	}
}
