package ndjson

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/localsre/sre-agent/internal/event"
)

// readResultFull is what a stage sees of a stream: records, every
// warning in full, the counts, and how the stream ended.
type readResultFull struct {
	Recs     []rec
	Warnings []string
	Counts   Counts
	Err      error
}

var cmpFull = []cmp.Option{cmpopts.EquateEmpty(), cmpopts.EquateErrors()}

// readWith reads src with WithCheck(check) unless check is nil.
func readWith(t *testing.T, src io.Reader, check func([]byte) (event.Head, error)) readResultFull {
	t.Helper()
	var res readResultFull
	opts := []Option{OnSkip(func(s Skip) {
		if s.Err == nil {
			t.Errorf("skip at line %d (%s) has no error", s.Line, s.Reason)
		}
		res.Warnings = append(res.Warnings, s.String())
	})}
	if check != nil {
		opts = append(opts, WithCheck(check))
	}
	r := NewReader(src, opts...)
	for {
		got, err := r.Next()
		if err != nil {
			res.Err = err
			break
		}
		res.Recs = append(res.Recs, rec{string(got.Raw), got.V, got.Kind, got.Line})
	}
	res.Counts = r.Counts()
	return res
}

// sampleCheck is the check sre-detect's reader uses: it decodes samples as
// it checks lines, and an unusable sample is still a record.
func sampleCheck(in *event.Interner) func([]byte) (event.Head, error) {
	var s event.SampleView
	return func(line []byte) (event.Head, error) {
		h, err := event.ReadSample(line, &s, in)
		if errors.Is(err, event.ErrBadSample) {
			return h, nil
		}
		return h, err
	}
}

// deferLines are lines that start as a sample does and may yet be no
// record, or another record.
var deferLines = []string{
	sampleLine,
	eventLine,
	`{"v":1,"kind":"sample"}`,
	`{"v":1,"kind":"sample","x":}`,                          // invalid after the header
	`{"v":1,"kind":"sample","x":1} x`,                       // trailing garbage
	`{"v":1,"kind":"sample","x":1}}`,                        // one brace too many
	`{"v":1,"kind":"sample","kind":"event"}`,                // a later kind wins
	`{"v":1,"kind":"sample","v":2}`,                         // a later v is too new
	`{"v":1,"kind":"sample","v":null}`,                      // a later v unsets it
	`{"v":1,"kind":"sample","KIND":"event"}`,                // case-insensitive match
	`{"v":1,"kind":"sample","\u006bind":"event"}`,           // escaped key
	`{"v":1,"kind":"sample","s":"a` + "\x01" + `b"}`,        // control byte in a string
	`{"v":1,"kind":"sample","s":"\q"}`,                      // bad escape
	`{"v":2,"kind":"sample"}`,                               // newer: not deferred
	`{"v":0,"kind":"sample"}`,                               // not a version
	`{"v":01,"kind":"sample"}`,                              // leading zero
	`{"v":1,"kind":"sampl\u0065"}`,                          // escaped kind: not deferred
	`{"v":1,"kind":""}`,                                     // empty kind
	`{"v":1,"kind":"sample"` + strings.Repeat(" ", 3) + `}`, // spaces
	` {"v":1,"kind":"sample"}`,                              // leading space
	`{"v":1,"kind":"sample"} `,                              // trailing space
	`{"v":1,"kind":"sample","n":[` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `]}`, // too deep
}

// TestWithCheck: a reader whose check decodes samples as it goes reads
// the same records, skips (in the same order, at the same lines) and
// counts as a reader with the plain check, with a bad line in any
// position.
func TestWithCheck(t *testing.T) {
	for i := range deferLines {
		// the line alone, first, last and between good lines
		for _, in := range []string{
			deferLines[i] + "\n",
			deferLines[i] + "\n" + sampleLine + "\n",
			sampleLine + "\n" + deferLines[i] + "\n",
			sampleLine + "\n" + deferLines[i] + "\n" + eventLine + "\n" + sampleLine + "\n",
		} {
			want := readWith(t, strings.NewReader(in), nil)
			got := readWith(t, strings.NewReader(in), sampleCheck(event.NewInterner()))
			if d := cmp.Diff(want, got, cmpFull...); d != "" {
				t.Errorf("line %d, input %.80q...: WithCheck differs (-plain +sample check):\n%s", i, in, d)
			}
		}
	}
}

// FuzzWithCheck: for any input, the sample check reads exactly as the
// plain one.
func FuzzWithCheck(f *testing.F) {
	for _, l := range deferLines {
		f.Add([]byte(l + "\n" + sampleLine + "\n"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want := readWith(t, bytes.NewReader(data), nil)
		got := readWith(t, bytes.NewReader(data), sampleCheck(nil))
		if d := cmp.Diff(want, got, cmpFull...); d != "" {
			t.Fatalf("%q: WithCheck differs (-plain +sample check):\n%s", data, d)
		}
	})
}
