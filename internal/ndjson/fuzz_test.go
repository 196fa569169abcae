package ndjson

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"testing"
)

// FuzzReader feeds arbitrary bytes through a Reader with a small max line.
// Seeds beyond these live in testdata/fuzz/FuzzReader.
func FuzzReader(f *testing.F) {
	f.Add([]byte(eventLine+"\n"+sampleLine+"\n"), uint16(200))
	f.Add([]byte("\n\r\n \t\n"), uint16(10))
	f.Add([]byte(`{"v":1,"kind":"x"}`+"\n"), uint16(18)) // exactly max
	f.Add([]byte(`{"v":1,"kind":"x"}`+"\n"), uint16(17)) // one byte too long
	f.Add([]byte(`{"v":1,"kind":"x"}`), uint16(17))      // partial, one byte too long
	f.Add([]byte(`{"v":1,"kind":"x"}`+"\n"), uint16(0))  // default max
	f.Add([]byte(`{"v":2,"kind":"x"}`+"\n"+`{"v":0,"kind":"x"}`+"\n"), uint16(64))
	f.Add([]byte(`{"v":1,"kind":""}`+"\n"+`{"kind":"x"}`+"\n"+"null\n[]\n"), uint16(64))
	f.Add([]byte(`{"v":1,"kind":"x","s":"\xff\xfe"}`+"\n"), uint16(64)) // invalid UTF-8
	f.Add([]byte(`{"v":1,"kind":"x","v":1e400}`+"\n"), uint16(64))
	f.Add([]byte("{\"v\":1,\"kind\":\"x\"}\r\n\x00\n"), uint16(64))

	f.Fuzz(func(t *testing.T, data []byte, maxLine uint16) {
		max := int(maxLine) % 4097 // small, so oversize lines are common
		var skips []Skip
		r := NewReader(bytes.NewReader(data), WithMaxLine(max), OnSkip(func(s Skip) { skips = append(skips, s) }))
		if max == 0 {
			max = DefaultMaxLine // what WithMaxLine(0) means
		}
		lines := bytes.Split(data, []byte("\n"))
		// The oracle: every complete line that fits and has v 1 and a kind
		// must come back, at its line number; nothing else may.
		var want []int64
		for i, l := range lines[:len(lines)-1] {
			var h struct {
				V    *int    `json:"v"`
				Kind *string `json:"kind"`
			}
			if len(l) <= max && json.Unmarshal(l, &h) == nil && h.V != nil && *h.V == 1 && h.Kind != nil && *h.Kind != "" {
				want = append(want, int64(i+1))
			}
		}
		var got []int64
		var records int64
		last := int64(0)
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Next over a bytes.Reader: %v", err)
			}
			records++
			got = append(got, rec.Line)
			if len(rec.Raw) > max {
				t.Fatalf("line %d: %d bytes returned, max %d", rec.Line, len(rec.Raw), max)
			}
			if rec.Line <= last {
				t.Fatalf("line %d returned after line %d", rec.Line, last)
			}
			last = rec.Line
			if rec.Line > int64(len(lines)) || !bytes.Equal(rec.Raw, lines[rec.Line-1]) {
				t.Fatalf("line %d: Raw %q is not the input line", rec.Line, rec.Raw)
			}
			if !json.Valid(rec.Raw) {
				t.Fatalf("line %d: Raw %q is not valid JSON", rec.Line, rec.Raw)
			}
			var h struct {
				V    *int    `json:"v"`
				Kind *string `json:"kind"`
			}
			if err := json.Unmarshal(rec.Raw, &h); err != nil {
				t.Fatalf("line %d: %v", rec.Line, err)
			}
			if h.V == nil || *h.V != rec.V || rec.V != 1 {
				t.Fatalf("line %d: v %v, Record.V %d", rec.Line, h.V, rec.V)
			}
			if h.Kind == nil || *h.Kind == "" || *h.Kind != rec.Kind {
				t.Fatalf("line %d: kind %v, Record.Kind %q", rec.Line, h.Kind, rec.Kind)
			}
		}

		if !slices.Equal(want, got) {
			t.Errorf("returned lines %v, want %v", got, want)
		}
		c := r.Counts()
		if c.Records != records {
			t.Errorf("Counts.Records = %d, returned %d", c.Records, records)
		}
		if sum := c.Records + c.SkippedTotal() + c.Blank; sum != c.Lines {
			t.Errorf("Records %d + Skipped %d + Blank %d != Lines %d", c.Records, c.SkippedTotal(), c.Blank, c.Lines)
		}
		wantLines := int64(bytes.Count(data, []byte("\n")))
		if len(data) > 0 && data[len(data)-1] != '\n' {
			wantLines++
		}
		if c.Lines != wantLines || r.Line() != wantLines {
			t.Errorf("Lines = %d, Line() = %d, want %d", c.Lines, r.Line(), wantLines)
		}
		if int64(len(skips)) != c.SkippedTotal() {
			t.Errorf("OnSkip called %d times, %d lines skipped", len(skips), c.SkippedTotal())
		}
		for _, s := range skips {
			if s.Line < 1 || s.Line > c.Lines {
				t.Errorf("skip at line %d of %d", s.Line, c.Lines)
			}
		}
	})
}
