package ndjson

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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

// readChecked reads src, with DeferCheck(kinds...) unless kinds is nil, and
// calls Check on every record Next returns unchecked, as a stage whose
// decoder vouches for nothing would: the result must be that of a reader
// without DeferCheck. It also returns how many records came unchecked.
func readChecked(t *testing.T, src io.Reader, kinds ...string) (readResultFull, int) {
	t.Helper()
	var res readResultFull
	opts := []Option{OnSkip(func(s Skip) {
		if s.Err == nil {
			t.Errorf("skip at line %d (%s) has no error", s.Line, s.Reason)
		}
		res.Warnings = append(res.Warnings, s.String())
	})}
	if kinds != nil {
		opts = append(opts, DeferCheck(kinds...))
	}
	r := NewReader(src, opts...)
	deferred := 0
	for {
		got, err := r.Next()
		if err != nil {
			res.Err = err
			break
		}
		if got.Unchecked {
			deferred++
			if !r.Check(&got) {
				continue
			}
			if got.Unchecked {
				t.Errorf("line %d: still unchecked after Check", got.Line)
			}
		}
		res.Recs = append(res.Recs, rec{string(got.Raw), got.V, got.Kind, got.Line})
	}
	res.Counts = r.Counts()
	return res, deferred
}

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

// TestDeferCheck: with DeferCheck, a stage that checks every unchecked line
// with Check sees the same records, skips (in the same order, at the same
// lines) and counts as a stage reading without it, with a bad line in any
// position; only lines that start as the tools write them are deferred.
func TestDeferCheck(t *testing.T) {
	for i := range deferLines {
		// the line alone, first, last and between good lines
		for _, in := range []string{
			deferLines[i] + "\n",
			deferLines[i] + "\n" + sampleLine + "\n",
			sampleLine + "\n" + deferLines[i] + "\n",
			sampleLine + "\n" + deferLines[i] + "\n" + eventLine + "\n" + sampleLine + "\n",
		} {
			want, _ := readChecked(t, strings.NewReader(in))
			got, _ := readChecked(t, strings.NewReader(in), "sample")
			if d := cmp.Diff(want, got, cmpFull...); d != "" {
				t.Errorf("line %d, input %.80q...: DeferCheck differs (-plain +deferred):\n%s", i, in, d)
			}
		}
	}
	in := strings.Join(deferLines, "\n") + "\n"
	_, deferred := readChecked(t, strings.NewReader(in), "sample")
	if want := 12; deferred != want { // those starting {"v":1,"kind":"sample", or } and ending }
		t.Errorf("%d lines deferred, want %d", deferred, want)
	}
	if _, n := readChecked(t, strings.NewReader(in), "event"); n != 1 {
		t.Errorf("DeferCheck(event): %d lines deferred, want 1", n)
	}
}

// FuzzDeferCheck: for any input, DeferCheck plus Check on every unchecked
// record reads exactly as the plain reader does.
func FuzzDeferCheck(f *testing.F) {
	for _, l := range deferLines {
		f.Add([]byte(l + "\n" + sampleLine + "\n"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, _ := readChecked(t, bytes.NewReader(data))
		got, _ := readChecked(t, bytes.NewReader(data), "sample", "event")
		if d := cmp.Diff(want, got, cmpFull...); d != "" {
			t.Fatalf("%q: DeferCheck differs (-plain +deferred):\n%s", data, d)
		}
	})
}
