package ndjson

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// rec is a Record with its Raw copied into a string: Raw is only valid until
// the next call to Next, and strings diff readably.
type rec struct {
	Raw  string
	V    int
	Kind string
	Line int64
}

// skipAt is what a test expects of a Skip; Err is checked only for presence.
type skipAt struct {
	Line   int64
	Reason string
}

type readResult struct {
	recs   []rec
	counts Counts
	skips  []skipAt
	err    error // the error that ended the stream (io.EOF at a clean end)
}

func readAll(t *testing.T, src io.Reader, opts ...Option) readResult {
	t.Helper()
	var res readResult
	opts = append(opts, OnSkip(func(s Skip) {
		if s.Err == nil {
			t.Errorf("skip at line %d (%s) has no error", s.Line, s.Reason)
		}
		res.skips = append(res.skips, skipAt{s.Line, s.Reason})
	}))
	r := NewReader(src, opts...)
	for i := 0; ; i++ {
		if i > 1e6 {
			t.Fatal("reader never stops")
		}
		got, err := r.Next()
		if err != nil {
			res.err = err
			break
		}
		res.recs = append(res.recs, rec{string(got.Raw), got.V, got.Kind, got.Line})
	}
	// The end is sticky: asking again gives the same error, no more records.
	if _, err := r.Next(); err != res.err {
		t.Errorf("Next after end = %v, want %v again", err, res.err)
	}
	res.counts = r.Counts()
	return res
}

// counts builds the expected Counts; pairs are reason, n.
func counts(lines, records, blank int64, pairs ...any) Counts {
	c := Counts{Lines: lines, Records: records, Blank: blank, Skipped: map[string]int64{}}
	for i := 0; i < len(pairs); i += 2 {
		c.Skipped[pairs[i].(string)] = int64(pairs[i+1].(int))
	}
	return c
}

const (
	sampleLine = `{"v":1,"kind":"sample","ts":"2026-01-02T03:04:05.000000000Z","target":"nginx"}`
	eventLine  = `{"v":1,"kind":"event","id":"01J","type":"crash"}`
)

func TestReaderNext(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		opts   []Option
		recs   []rec
		counts Counts
		skips  []skipAt
	}{
		{
			name:   "empty input",
			in:     "",
			counts: counts(0, 0, 0),
		},
		{
			name: "valid records pass through byte-exact",
			in:   sampleLine + "\n" + eventLine + "\n",
			recs: []rec{
				{sampleLine, 1, "sample", 1},
				{eventLine, 1, "event", 2},
			},
			counts: counts(2, 2, 0),
		},
		{
			name: "key order, spacing and unknown fields are kept",
			in:   "{ \"kind\" : \"notice\",\"x\":[1,{\"y\":null}], \"v\":1 }\n",
			recs: []rec{
				{"{ \"kind\" : \"notice\",\"x\":[1,{\"y\":null}], \"v\":1 }", 1, "notice", 1},
			},
			counts: counts(1, 1, 0),
		},
		{
			name: "leading and trailing spaces stay in Raw",
			in:   "  " + eventLine + "\t \n",
			recs: []rec{
				{"  " + eventLine + "\t ", 1, "event", 1},
			},
			counts: counts(1, 1, 0),
		},
		{
			// Decision: a trailing \r is JSON whitespace, so a CRLF line is a
			// good record; Raw keeps the \r so pass-through stays byte-exact.
			name: "CRLF line is accepted and keeps its carriage return",
			in:   eventLine + "\r\n" + "\r\n" + sampleLine + "\n",
			recs: []rec{
				{eventLine + "\r", 1, "event", 1},
				{sampleLine, 1, "sample", 3},
			},
			counts: counts(3, 2, 1),
		},
		{
			name: "blank lines are ignored, counted and still numbered",
			in:   "\n \n\t\t\n" + eventLine + "\n\n",
			recs: []rec{
				{eventLine, 1, "event", 4},
			},
			counts: counts(5, 1, 4),
		},
		{
			name:   "bad json",
			in:     "{\"v\":1,\"kind\":\"event\"\n" + "not json\n" + eventLine + "\n",
			recs:   []rec{{eventLine, 1, "event", 3}},
			counts: counts(3, 1, 0, SkipBadJSON, 2),
			skips:  []skipAt{{1, SkipBadJSON}, {2, SkipBadJSON}},
		},
		{
			name:   "json that is not an object is bad json",
			in:     "[1,2]\n\"str\"\n42\n",
			counts: counts(3, 0, 0, SkipBadJSON, 3),
			skips:  []skipAt{{1, SkipBadJSON}, {2, SkipBadJSON}, {3, SkipBadJSON}},
		},
		{
			name:   "v of the wrong type is bad json",
			in:     `{"v":"1","kind":"event"}` + "\n" + `{"v":1.5,"kind":"event"}` + "\n",
			counts: counts(2, 0, 0, SkipBadJSON, 2),
			skips:  []skipAt{{1, SkipBadJSON}, {2, SkipBadJSON}},
		},
		{
			name:   "missing v",
			in:     `{"kind":"event"}` + "\n" + "null\n" + `{"v":null,"kind":"event"}` + "\n",
			counts: counts(3, 0, 0, SkipNoVersion, 3),
			skips:  []skipAt{{1, SkipNoVersion}, {2, SkipNoVersion}, {3, SkipNoVersion}},
		},
		{
			name:   "v below 1 is not a version",
			in:     `{"v":0,"kind":"event"}` + "\n" + `{"v":-3,"kind":"event"}` + "\n",
			counts: counts(2, 0, 0, SkipNoVersion, 2),
			skips:  []skipAt{{1, SkipNoVersion}, {2, SkipNoVersion}},
		},
		{
			name:   "missing or empty kind",
			in:     `{"v":1}` + "\n" + `{"v":1,"kind":""}` + "\n" + `{"v":1,"kind":null}` + "\n",
			counts: counts(3, 0, 0, SkipNoKind, 3),
			skips:  []skipAt{{1, SkipNoKind}, {2, SkipNoKind}, {3, SkipNoKind}},
		},
		{
			name:   "newer v",
			in:     `{"v":2,"kind":"event"}` + "\n" + eventLine + "\n",
			recs:   []rec{{eventLine, 1, "event", 2}},
			counts: counts(2, 1, 0, SkipNewer, 1),
			skips:  []skipAt{{1, SkipNewer}},
		},
		{
			name:   "WithNewest accepts a newer v",
			in:     `{"v":2,"kind":"event"}` + "\n" + `{"v":3,"kind":"event"}` + "\n",
			opts:   []Option{WithNewest(2)},
			recs:   []rec{{`{"v":2,"kind":"event"}`, 2, "event", 1}},
			counts: counts(2, 1, 0, SkipNewer, 1),
			skips:  []skipAt{{2, SkipNewer}},
		},
		{
			name:   "partial last line",
			in:     eventLine + "\n" + eventLine,
			recs:   []rec{{eventLine, 1, "event", 1}},
			counts: counts(2, 1, 0, SkipPartial, 1),
			skips:  []skipAt{{2, SkipPartial}},
		},
		{
			name:   "partial last line of garbage is partial, not bad json",
			in:     eventLine + "\n" + `{"v":1,"ki`,
			recs:   []rec{{eventLine, 1, "event", 1}},
			counts: counts(2, 1, 0, SkipPartial, 1),
			skips:  []skipAt{{2, SkipPartial}},
		},
		{
			// A whitespace-only tail is a blank line, not a skipped one, and
			// it must be counted somewhere: Lines is the sum of the others.
			name:   "whitespace-only partial last line is blank",
			in:     eventLine + "\n  \t",
			recs:   []rec{{eventLine, 1, "event", 1}},
			counts: counts(2, 1, 1),
		},
		{
			name:   "lone carriage return at the end is blank",
			in:     eventLine + "\n\r",
			recs:   []rec{{eventLine, 1, "event", 1}},
			counts: counts(2, 1, 1),
		},
		{
			name: "every reason at once",
			in: strings.Join([]string{
				eventLine,
				"garbage",
				`{"kind":"event"}`,
				`{"v":1}`,
				`{"v":9,"kind":"event"}`,
				`{"v":1,"kind":"event","pad":"` + strings.Repeat("x", 100) + `"}`,
				"",
				sampleLine,
				`{"v":1`,
			}, "\n"),
			opts: []Option{WithMaxLine(90)},
			recs: []rec{
				{eventLine, 1, "event", 1},
				{sampleLine, 1, "sample", 8},
			},
			counts: counts(9, 2, 1,
				SkipBadJSON, 1, SkipNoVersion, 1, SkipNoKind, 1, SkipNewer, 1, SkipOversize, 1, SkipPartial, 1),
			skips: []skipAt{
				{2, SkipBadJSON}, {3, SkipNoVersion}, {4, SkipNoKind},
				{5, SkipNewer}, {6, SkipOversize}, {9, SkipPartial},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := readAll(t, strings.NewReader(tt.in), tt.opts...)
			if res.err != io.EOF {
				t.Errorf("stream ended with %v, want io.EOF", res.err)
			}
			if diff := cmp.Diff(tt.recs, res.recs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.counts, res.counts, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.skips, res.skips, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("OnSkip calls (-want +got):\n%s", diff)
			}
			c := res.counts
			if sum := c.Records + c.Blank + c.SkippedTotal(); sum != c.Lines {
				t.Errorf("Records+Blank+Skipped = %d, Lines = %d", sum, c.Lines)
			}
		})
	}
}

// line returns a valid record of exactly n bytes (n >= 40).
func line(n int) string {
	const head, tail = `{"v":1,"kind":"event","pad":"`, `"}`
	return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
}

func TestReaderMaxLine(t *testing.T) {
	const max = 100
	tests := []struct {
		name   string
		in     string
		recs   []rec
		counts Counts
		skips  []skipAt
	}{
		{
			name:   "exactly max bytes is accepted",
			in:     line(max) + "\n",
			recs:   []rec{{line(max), 1, "event", 1}},
			counts: counts(1, 1, 0),
		},
		{
			name:   "max+1 bytes is oversize",
			in:     line(max+1) + "\n",
			counts: counts(1, 0, 0, SkipOversize, 1),
			skips:  []skipAt{{1, SkipOversize}},
		},
		{
			name:   "exactly max bytes with CRLF is oversize: the CR is part of the line",
			in:     line(max) + "\r\n",
			counts: counts(1, 0, 0, SkipOversize, 1),
			skips:  []skipAt{{1, SkipOversize}},
		},
		{
			name: "oversize line in the middle does not swallow the next",
			in:   line(50) + "\n" + line(max*7+3) + "\n" + line(60) + "\n",
			recs: []rec{
				{line(50), 1, "event", 1},
				{line(60), 1, "event", 3},
			},
			counts: counts(3, 2, 0, SkipOversize, 1),
			skips:  []skipAt{{2, SkipOversize}},
		},
		{
			name: "consecutive oversize lines are each counted",
			in:   line(max+1) + "\n" + line(5*max) + "\n" + line(max) + "\n",
			recs: []rec{
				{line(max), 1, "event", 3},
			},
			counts: counts(3, 1, 0, SkipOversize, 2),
			skips:  []skipAt{{1, SkipOversize}, {2, SkipOversize}},
		},
		{
			name:   "oversize partial last line is oversize",
			in:     line(50) + "\n" + strings.Repeat("y", 3*max),
			recs:   []rec{{line(50), 1, "event", 1}},
			counts: counts(2, 1, 0, SkipOversize, 1),
			skips:  []skipAt{{2, SkipOversize}},
		},
		{
			// The boundary must not depend on whether a newline follows.
			name:   "partial last line of max+1 bytes is oversize",
			in:     line(50) + "\n" + strings.Repeat("y", max+1),
			recs:   []rec{{line(50), 1, "event", 1}},
			counts: counts(2, 1, 0, SkipOversize, 1),
			skips:  []skipAt{{2, SkipOversize}},
		},
		{
			name:   "partial last line of max bytes is partial",
			in:     line(50) + "\n" + strings.Repeat("y", max),
			recs:   []rec{{line(50), 1, "event", 1}},
			counts: counts(2, 1, 0, SkipPartial, 1),
			skips:  []skipAt{{2, SkipPartial}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte at a time as well, so no test passes only because a
			// whole line happened to arrive in one Read.
			for _, src := range []struct {
				name string
				r    io.Reader
			}{
				{"whole", strings.NewReader(tt.in)},
				{"byte-at-a-time", &oneByteReader{s: tt.in}},
			} {
				res := readAll(t, src.r, WithMaxLine(max))
				if res.err != io.EOF {
					t.Errorf("%s: stream ended with %v, want io.EOF", src.name, res.err)
				}
				if diff := cmp.Diff(tt.recs, res.recs, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%s: records (-want +got):\n%s", src.name, diff)
				}
				if diff := cmp.Diff(tt.counts, res.counts, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%s: counts (-want +got):\n%s", src.name, diff)
				}
				if diff := cmp.Diff(tt.skips, res.skips, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%s: OnSkip calls (-want +got):\n%s", src.name, diff)
				}
			}
		})
	}
}

type oneByteReader struct {
	s string
	i int
}

func (r *oneByteReader) Read(p []byte) (int, error) {
	if r.i >= len(r.s) {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.s[r.i]
	r.i++
	return 1, nil
}

func TestReaderDefaultMaxLine(t *testing.T) {
	for _, tt := range []struct {
		name string
		n    int
		want Counts
	}{
		{"1 MiB line accepted", DefaultMaxLine, counts(1, 1, 0)},
		{"1 MiB + 1 line skipped", DefaultMaxLine + 1, counts(1, 0, 0, SkipOversize, 1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := readAll(t, strings.NewReader(line(tt.n)+"\n"))
			if diff := cmp.Diff(tt.want, res.counts, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
		})
	}
	// A max of zero or less means the default.
	for _, m := range []int{0, -1} {
		if r := NewReader(strings.NewReader(""), WithMaxLine(m)); r.max != DefaultMaxLine {
			t.Errorf("WithMaxLine(%d): max = %d, want %d", m, r.max, DefaultMaxLine)
		}
	}
}

// hugeLine streams a line of n 'x' bytes, then a newline and tail, without
// ever holding the line itself in memory.
type hugeLine struct {
	n    int    // 'x' bytes still to send
	rest string // then this
}

var xs = bytes.Repeat([]byte("x"), 32<<10)

func (h *hugeLine) Read(p []byte) (int, error) {
	if h.n > 0 {
		k := copy(p[:min(len(p), h.n)], xs)
		h.n -= k
		return k, nil
	}
	if h.rest == "" {
		return 0, io.EOF
	}
	k := copy(p, h.rest)
	h.rest = h.rest[k:]
	return k, nil
}

func TestReaderHugeLineBoundedMemory(t *testing.T) {
	const huge = 20 << 20
	for _, max := range []int{1024, DefaultMaxLine} {
		t.Run(fmt.Sprintf("max=%d", max), func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)

			r := NewReader(&hugeLine{n: huge, rest: "\n" + eventLine + "\n"}, WithMaxLine(max))
			got, err := r.Next()
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if got.Line != 2 || string(got.Raw) != eventLine {
				t.Errorf("record after the huge line = line %d %q, want line 2 %q", got.Line, got.Raw, eventLine)
			}
			// The deterministic bound: what the reader keeps for a line.
			if c, limit := cap(r.buf), 2*(max+1); c > limit {
				t.Errorf("line buffer cap = %d after a %d-byte line, want <= %d", c, huge, limit)
			}
			if s := r.br.Size(); s > 64<<10 {
				t.Errorf("read buffer size = %d, want <= 64 KiB", s)
			}
			runtime.ReadMemStats(&after)
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("Next at end = %v, want io.EOF", err)
			}
			// A coarse cross-check: the 20 MiB line was never buffered whole.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(4*max+(1<<20)) {
				t.Errorf("reading a %d-byte line allocated %d bytes", huge, alloc)
			}
			want := counts(2, 1, 0, SkipOversize, 1)
			if diff := cmp.Diff(want, r.Counts()); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
		})
	}
}

// failingReader returns its data, then err (with no further data).
type failingReader struct {
	data string
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestReaderReadError(t *testing.T) {
	boom := errors.New("read /dev/fake: input/output error")
	tests := []struct {
		name   string
		data   string
		recs   []rec
		counts Counts
		skips  []skipAt
	}{
		{
			name: "error after whole lines",
			data: eventLine + "\n" + sampleLine + "\n",
			recs: []rec{
				{eventLine, 1, "event", 1},
				{sampleLine, 1, "sample", 2},
			},
			counts: counts(2, 2, 0),
		},
		{
			// The half line before the error is not a record; it is counted
			// like a partial last line, since it is the last the reader sees.
			name:   "error in the middle of a line",
			data:   eventLine + "\n" + `{"v":1,"kind":"ev`,
			recs:   []rec{{eventLine, 1, "event", 1}},
			counts: counts(2, 1, 0, SkipPartial, 1),
			skips:  []skipAt{{2, SkipPartial}},
		},
		{
			name:   "error at once",
			data:   "",
			counts: counts(0, 0, 0),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := readAll(t, &failingReader{data: tt.data, err: boom})
			if !errors.Is(res.err, boom) {
				t.Errorf("stream ended with %v, want %v", res.err, boom)
			}
			if diff := cmp.Diff(tt.recs, res.recs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.counts, res.counts, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.skips, res.skips, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("OnSkip calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReaderRawReusedUntilNext(t *testing.T) {
	// Raw is documented as valid until the next Next; callers that keep it
	// must copy. This pins the contract so a change to it is deliberate.
	r := NewReader(strings.NewReader(eventLine + "\n" + sampleLine + "\n"))
	a, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	kept := bytes.Clone(a.Raw)
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if string(kept) != eventLine {
		t.Errorf("copied Raw = %q, want %q", kept, eventLine)
	}
	if r.Line() != 2 {
		t.Errorf("Line() = %d, want 2", r.Line())
	}
}

func TestReaderCountsIsACopy(t *testing.T) {
	r := NewReader(strings.NewReader("bad\n"))
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next = %v, want io.EOF", err)
	}
	c := r.Counts()
	c.Skipped[SkipBadJSON] = 99
	if got := r.Counts().Skipped[SkipBadJSON]; got != 1 {
		t.Errorf("Counts().Skipped changed by the caller: bad_json = %d, want 1", got)
	}
}

func TestCountsString(t *testing.T) {
	tests := []struct {
		name string
		c    Counts
		want string
	}{
		{"nil map", Counts{Lines: 4, Records: 4}, "0 lines skipped"},
		{"zero counts", counts(3, 2, 1, SkipBadJSON, 0), "0 lines skipped"},
		{"one reason", counts(3, 2, 0, SkipOversize, 1), "1 lines skipped (oversize=1)"},
		{
			name: "fixed order, zeros left out",
			c: counts(20, 10, 0,
				SkipPartial, 1, SkipOversize, 2, SkipNewer, 0, SkipNoKind, 3, SkipNoVersion, 1, SkipBadJSON, 2),
			want: "9 lines skipped (bad_json=2 missing_v=1 missing_kind=3 oversize=2 partial_last_line=1)",
		},
		{
			name: "every reason",
			c: counts(6, 0, 0,
				SkipBadJSON, 1, SkipNoVersion, 1, SkipNoKind, 1, SkipNewer, 1, SkipOversize, 1, SkipPartial, 1),
			want: "6 lines skipped (bad_json=1 missing_v=1 missing_kind=1 newer_v=1 oversize=1 partial_last_line=1)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.c.String()); diff != "" {
				t.Errorf("String() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSkipString(t *testing.T) {
	tests := []struct {
		name string
		s    Skip
		want string
	}{
		{"with error", Skip{Line: 7, Reason: SkipNoKind, Err: errors.New(`no "kind" field`)}, `line 7 skipped (missing_kind): no "kind" field`},
		{"without error", Skip{Line: 12, Reason: SkipOversize}, "line 12 skipped (oversize)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.s.String()); diff != "" {
				t.Errorf("String() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReaderSkipErrors(t *testing.T) {
	// The error in a Skip is what a person reads on stderr: it should say
	// what was wrong, not only the reason code.
	var got []string
	in := "nope\n" + `{"kind":"x"}` + "\n" + `{"v":1}` + "\n" + `{"v":5,"kind":"x"}` + "\n" + line(200) + "\n" + "{"
	r := NewReader(strings.NewReader(in), WithMaxLine(100), OnSkip(func(s Skip) { got = append(got, s.String()) }))
	for {
		if _, err := r.Next(); err != nil {
			break
		}
	}
	want := []string{
		"line 1 skipped (bad_json): invalid character 'o' in literal null (expecting 'u')",
		`line 2 skipped (missing_v): no "v" field`,
		`line 3 skipped (missing_kind): no "kind" field`,
		"line 4 skipped (newer_v): v 5 is newer than 1",
		"line 5 skipped (oversize): longer than 100 bytes",
		"line 6 skipped (partial_last_line): no newline at end of input",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("skip messages (-want +got):\n%s", diff)
	}
}

// TestReaderOffsets: each record's Off is where its line starts, past
// skipped, blank, oversize and long lines, so a reader of a file can read
// the line again from there.
func TestReaderOffsets(t *testing.T) {
	lines := []string{
		`{"v":1,"kind":"event","n":1}`,
		``,
		`not json`,
		`{"v":1,"kind":"event","pad":"` + strings.Repeat("x", 70) + `"}`,  // longer than the read buffer
		`{"v":1,"kind":"event","big":"` + strings.Repeat("y", 300) + `"}`, // over max: skipped
		"  {\"v\":1,\"kind\":\"event\",\"n\":2}\r",
	}
	in := strings.Join(lines, "\n") + "\n"
	r := NewReader(bufioSmall(strings.NewReader(in)), WithMaxLine(200))
	var got []string
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		again := in[rec.Off : rec.Off+int64(len(rec.Raw))]
		if again != string(rec.Raw) {
			t.Errorf("line %d at %d reads back %q, want %q", rec.Line, rec.Off, again, rec.Raw)
		}
		got = append(got, again)
	}
	if len(got) != 3 {
		t.Errorf("%d records, want 3", len(got))
	}
}

// bufioSmall hands out at most 16 bytes a read, so lines span reads.
func bufioSmall(r io.Reader) io.Reader { return &smallReader{r} }

type smallReader struct{ r io.Reader }

func (s *smallReader) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), 16)]) }
