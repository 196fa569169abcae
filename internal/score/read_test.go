package score_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/ndjson"
	"github.com/localsre/sre-agent/internal/score"
)

type skipAt struct {
	Line   int64
	Reason string
}

// ReadArchive splits its input into chunks decoded in parallel; whatever
// the chunk boundaries, it must count and number lines as the plain ndjson
// reader does, and score the same.
func TestReadArchiveMatchesSequential(t *testing.T) {
	good := string(gen(t, []step{{"web", "started", -8 * day, 0}, {"web", "crash", -2 * h, 10 * m}, {"web", "crash", -30 * m, -1}}))
	var b strings.Builder
	for i := range 3000 { // ~1.5 MB: several chunks
		b.WriteString(good)
		switch i {
		case 100:
			b.WriteString("{not json\n")
		case 1500:
			b.WriteString(`{"v":1,"kind":"event","pad":"` + strings.Repeat("x", 1<<20) + "\"}\n") // oversize, inside a chunk or across
		case 2000:
			b.WriteString(`{"v":1,"kind":"event","pad":"` + strings.Repeat("y", 3<<20) + "\"}\n") // longer than a chunk
		case 2500:
			b.WriteString("\n   \n")
		}
	}
	b.WriteString(`{"v":1,"kind":"event","ts":"2026-01-07T23:00:00Z","type":"cra`) // still being written
	data := []byte(b.String())

	// the reference: one ndjson reader, one record at a time
	var wantSkips []skipAt
	rd := ndjson.NewReader(bytes.NewReader(data), ndjson.OnSkip(func(s ndjson.Skip) { wantSkips = append(wantSkips, skipAt{s.Line, s.Reason}) }))
	ref := score.New(windows(t, "1h,24h,7d"), at)
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r, ok, err := score.Decode(rec.Kind, rec.Raw); err == nil && ok {
			ref.Add(&r)
		}
	}
	wantCounts := rd.Counts()

	for _, name := range []string{"whole", "one byte at a time"} {
		t.Run(name, func(t *testing.T) {
			var in io.Reader = bytes.NewReader(data)
			if name != "whole" {
				in = iotest.OneByteReader(in)
			}
			var skips []skipAt
			agg := score.New(windows(t, "1h,24h,7d"), at)
			c, err := score.ReadArchive(context.Background(), in, agg, func(s ndjson.Skip) { skips = append(skips, skipAt{s.Line, s.Reason}) })
			if err != nil {
				t.Fatal(err)
			}
			delete(c.Skipped, score.SkipBadRecord)
			for k, v := range c.Skipped {
				if v == 0 {
					delete(c.Skipped, k)
				}
			}
			if d := cmp.Diff(wantCounts, c); d != "" {
				t.Errorf("counts (-sequential +parallel):\n%s", d)
			}
			sortSkips(skips)
			if d := cmp.Diff(wantSkips, skips); d != "" {
				t.Errorf("skipped lines (-sequential +parallel):\n%s", d)
			}
			if d := cmp.Diff(ref.Snapshot(at), agg.Snapshot(at)); d != "" {
				t.Errorf("scores (-sequential +parallel):\n%s", d)
			}
		})
	}
}

func sortSkips(s []skipAt) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].Line < s[j-1].Line; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// A read error is returned, not taken for the end of the archive.
func TestReadArchiveError(t *testing.T) {
	agg := score.New(windows(t, "1h"), at)
	_, err := score.ReadArchive(context.Background(), iotest.ErrReader(fmt.Errorf("disk on fire")), agg, nil)
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err %v", err)
	}
}

// FuzzDecode: any valid JSON line decodes or fails cleanly, never panics,
// and the fast scanner agrees with encoding/json on what it returns.
func FuzzDecode(f *testing.F) {
	for _, l := range bytes.Split(gen(f, []step{{"web", "crash", -2 * h, 10 * m}, {"web", "heal", -h, 0}}), []byte("\n")) {
		f.Add("event", l)
		f.Add("action", l)
	}
	f.Add("summary", []byte(`{"v":1,"kind":"summary","ts":"2026-01-01T00:00:00Z","target":"w","rss_bytes":{"min":1,"avg":2,"max":3},"rss_slope_bytes_per_s":-1.5}`))
	f.Add("event", []byte(`{"v":1,"kind":"event","ts":"2026-01-01T00:00:00Z","type":"recovered","target":"w\"x","detail":{"crash_id":"c\u0031","downtime_s":1e2,"down_since":null}}`))
	f.Add("event", []byte(`{"t\u0073":"2026-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, kind string, line []byte) {
		r, ok, err := score.Decode(kind, line)
		if err != nil || !ok {
			return
		}
		if r.Kind != kind {
			t.Errorf("kind %q, want %q", r.Kind, kind)
		}
	})
}

// The allocation-free timestamp path agrees with time.Parse.
func TestTimestamps(t *testing.T) {
	for _, s := range []string{
		"2026-01-08T00:00:00Z", "2026-01-08T00:00:00.5Z", "2026-11-27T04:31:46.471345762Z",
		"2026-01-08T00:00:00.000000000Z", "2024-02-29T23:59:59.999999999Z", "2026-01-08T01:00:00+01:00",
		"2026-02-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-08T00:00:00.1234567891Z", "2026-01-08 00:00:00Z", "x",
	} {
		line := []byte(`{"ts":"` + s + `","type":"started","target":"w","id":"i"}`)
		r, _, err := score.Decode("event", line)
		want, werr := time.Parse(time.RFC3339Nano, s)
		if (err != nil) != (werr != nil) {
			t.Errorf("%s: err %v, time.Parse err %v", s, err, werr)
			continue
		}
		if err == nil && !r.TS.Equal(want) {
			t.Errorf("%s: %v, want %v", s, r.TS, want)
		}
	}
}

// A started's detail.process_start is read, by the fast scanner and by
// encoding/json (a key spelled with an escape takes the slow path); a bad
// one is an error (the line is skipped and counted), never a zero time.
func TestDecodeStarted(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 120_000_000, time.UTC)
	tests := []struct {
		name    string
		line    string
		want    *time.Time
		wantErr bool
	}{
		{name: "fast", line: `{"ts":"2026-01-01T00:00:01Z","type":"started","target":"w","id":"i","detail":{"matches":1,"process_start":"2026-01-01T00:00:00.12Z"}}`, want: &start},
		{name: "slow", line: `{"ts":"2026-01-01T00:00:01Z","type":"started","target":"w","id":"i","det\u0061il":{"matches":1,"process_start":"2026-01-01T00:00:00.12Z"}}`, want: &start},
		{name: "detail first", line: `{"detail":{"process_start":"2026-01-01T00:00:00.12Z"},"ts":"2026-01-01T00:00:01Z","type":"started","target":"w"}`, want: &start},
		{name: "no process_start", line: `{"ts":"2026-01-01T00:00:01Z","type":"started","target":"w","detail":{"matches":1}}`},
		{name: "null", line: `{"ts":"2026-01-01T00:00:01Z","type":"started","target":"w","detail":{"process_start":null}}`},
		{name: "not a time", line: `{"ts":"2026-01-01T00:00:01Z","type":"started","target":"w","detail":{"process_start":"soon"}}`, wantErr: true},
		{name: "a number", line: `{"ts":"2026-01-01T00:00:01Z","type":"started","target":"w","detail":{"process_start":5}}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok, err := score.Decode("event", []byte(tt.line))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error; got %+v", r)
				}
				return
			}
			if err != nil || !ok {
				t.Fatalf("ok %v, err %v", ok, err)
			}
			if diff := cmp.Diff(tt.want, r.UpSince); diff != "" {
				t.Errorf("UpSince (-want +got):\n%s", diff)
			}
		})
	}
}
