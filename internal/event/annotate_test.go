package event

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Annotate adds the member to the line's own bytes: what the stage does
// not know, anywhere in the line, and how it was written (escapes,
// spacing, key order) stay as they were.
func TestAnnotate(t *testing.T) {
	tests := []struct {
		name, line, value, want string
	}{
		{"plain", `{"v":1,"kind":"event"}`, "r/a.txt",
			`{"v":1,"kind":"event","report":"r/a.txt"}`},
		{"unknown top-level fields", `{"v":1,"kind":"event","team":"payments","labels":{"env":"prod"}}`, "r/a.txt",
			`{"v":1,"kind":"event","team":"payments","labels":{"env":"prod"},"report":"r/a.txt"}`},
		{"unknown nested object", `{"v":1,"process":{"pid":7,"team":"x","container":{"labels":{"a":"b"}}}}`, "p",
			`{"v":1,"process":{"pid":7,"team":"x","container":{"labels":{"a":"b"}}},"report":"p"}`},
		{"escapes kept as written", `{"msg":"caf\u00e9 \u2028 \ud83d\ude00 ü \"q\" \/","v":1}`, "p",
			`{"msg":"caf\u00e9 \u2028 \ud83d\ude00 ü \"q\" \/","v":1,"report":"p"}`},
		{"value escaped as the encoder does", `{"v":1}`, "r/a \"b\"\\\n<&>\u2028é\x01",
			`{"v":1,"report":"r/a \"b\"\\\n<&>\u2028é\u0001"}`},
		{"spacing and a trailing CR kept", "{ \"v\" : 1 ,\t\"kind\":\"event\" } \r", "p",
			"{ \"v\" : 1 ,\t\"kind\":\"event\" ,\"report\":\"p\"} \r"},
		{"empty object", `{}`, "p", `{"report":"p"}`},
		{"empty object with space", `{ }`, "p", `{ "report":"p"}`},
		{"a report inside another object stays", `{"v":1,"detail":{"report":"inner"}}`, "p",
			`{"v":1,"detail":{"report":"inner"},"report":"p"}`},
		{"the word in a value stays", `{"msg":"no report yet","v":1}`, "p",
			`{"msg":"no report yet","v":1,"report":"p"}`},
		{"an empty report is replaced", `{"v":1,"report":"","kind":"event"}`, "p",
			`{"v":1,"kind":"event","report":"p"}`},
		{"a first null report is replaced", `{"report":null, "v":1}`, "p",
			`{"v":1,"report":"p"}`},
		{"a last report is replaced", `{"v":1, "report":null }`, "p",
			`{"v":1 ,"report":"p"}`},
		{"the only member", `{"report":""}`, "p", `{"report":"p"}`},
		{"other letter cases and escapes are the same key to encoding/json",
			`{"Report":"","v":1,"REPORT":null,"rep\u006frt":"","reporter":"me"}`, "p",
			`{"v":1,"reporter":"me","report":"p"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Annotate([]byte("prefix:"), []byte(tt.line), "report", tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff("prefix:"+tt.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			var m map[string]any
			if err := json.Unmarshal(got[len("prefix:"):], &m); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if m["report"] != tt.value {
				t.Errorf("report %q, want %q", m["report"], tt.value)
			}
		})
	}
}

func TestAnnotateNotObject(t *testing.T) {
	for _, line := range []string{``, ` `, `[1]`, `"report"`, `null`, `{"v":1`, `{"report":}`, `{"report":""}x`, `{"report":""}{}`} {
		got, err := Annotate([]byte("keep"), []byte(line), "report", "p")
		if !errors.Is(err, ErrNotObject) || string(got) != "keep" {
			t.Errorf("%q: %q, %v; want dst unchanged and ErrNotObject", line, got, err)
		}
	}
}

// The annotation costs a copy of the line: no allocation beyond dst's
// growth, for a line with no member to take out.
func TestAnnotateAllocs(t *testing.T) {
	line := []byte(`{"v":1,"kind":"event","msg":"api crashed","process":{"pid":7,"name":"api"},"team":"payments"}`)
	dst := make([]byte, 0, 512)
	n := testing.AllocsPerRun(100, func() {
		var err error
		if _, err = Annotate(dst, line, "report", "sre_reports/x.txt"); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
}

// FuzzAnnotate: for any JSON object, the result is JSON that encoding/json
// reads as the object with every member it would match to key replaced by
// key: value; a line with no such member is kept as a prefix, byte for byte.
func FuzzAnnotate(f *testing.F) {
	for _, s := range []string{`{"v":1,"kind":"event"}`, `{}`, `{"report":"","a":{"report":1}}`,
		`{"Report":null,"rep\u006frt":"","x":"\u00e9"}`, "{ \"a\" : [1, {\"b\":null}] }\r", `{"s\u212a":1,"SK":2}`} {
		f.Add(s, "r/a.txt", uint8(0))
		f.Add(s, "\u2028\"<&>\x00", uint8(1))
	}
	keys := []string{"report", "sk", "k"}
	f.Fuzz(func(t *testing.T, line, value string, which uint8) {
		key := keys[int(which)%len(keys)]
		var in map[string]any
		if json.Unmarshal([]byte(line), &in) != nil || in == nil {
			return
		}
		got, err := Annotate(nil, []byte(line), key, value)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		var out map[string]any
		if err := json.Unmarshal(got, &out); err != nil {
			t.Fatalf("%q → %q: not JSON: %v", line, got, err)
		}
		dropped := false
		for k := range in {
			if strings.EqualFold(k, key) {
				delete(in, k)
				dropped = true
			}
		}
		in[key] = string([]rune(value)) // each invalid byte becomes U+FFFD, as the encoder writes it
		if diff := cmp.Diff(in, out); diff != "" {
			t.Errorf("%q → %q (-want +got):\n%s", line, got, diff)
		}
		if !dropped {
			trimmed := strings.TrimRight(line, " \t\r\n")
			if !strings.HasPrefix(string(got), trimmed[:len(trimmed)-1]) {
				t.Errorf("%q → %q: the line's bytes changed", line, got)
			}
		}
	})
}
