package ndjson

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWarnerSkip(t *testing.T) {
	skip := func(line int64) Skip {
		return Skip{Line: line, Reason: SkipBadJSON, Err: errors.New("invalid character 'x'")}
	}
	const suppressed = "sre-detect: stdin: more lines skipped; further warnings suppressed (counts at exit)\n"
	tests := []struct {
		name  string
		limit int
		skips int
		want  string
	}{
		{
			name:  "under the limit",
			limit: 3,
			skips: 2,
			want: "sre-detect: stdin: line 1 skipped (bad_json): invalid character 'x'\n" +
				"sre-detect: stdin: line 2 skipped (bad_json): invalid character 'x'\n",
		},
		{
			name:  "exactly the limit: no suppression line yet",
			limit: 2,
			skips: 2,
			want: "sre-detect: stdin: line 1 skipped (bad_json): invalid character 'x'\n" +
				"sre-detect: stdin: line 2 skipped (bad_json): invalid character 'x'\n",
		},
		{
			name:  "over the limit: suppression line once",
			limit: 2,
			skips: 50,
			want: "sre-detect: stdin: line 1 skipped (bad_json): invalid character 'x'\n" +
				"sre-detect: stdin: line 2 skipped (bad_json): invalid character 'x'\n" +
				suppressed,
		},
		{
			name:  "limit zero: only the suppression line",
			limit: 0,
			skips: 5,
			want:  suppressed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			w := NewWarner("sre-detect", "stdin", &out)
			w.Limit = tt.limit
			for i := 1; i <= tt.skips; i++ {
				w.Skip(skip(int64(i)))
			}
			if diff := cmp.Diff(tt.want, out.String()); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWarnerDefaultLimit(t *testing.T) {
	var out strings.Builder
	w := NewWarner("sre-report", "events.ndjson", &out)
	if w.Limit != DefaultWarnLimit {
		t.Errorf("Limit = %d, want %d", w.Limit, DefaultWarnLimit)
	}
	for i := int64(1); i <= 100; i++ {
		w.Skip(Skip{Line: i, Reason: SkipOversize})
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != DefaultWarnLimit+1 {
		t.Fatalf("%d warning lines for 100 skips, want %d:\n%s", len(lines), DefaultWarnLimit+1, out.String())
	}
	if want := "sre-report: events.ndjson: line 10 skipped (oversize)"; lines[9] != want {
		t.Errorf("last warning = %q, want %q", lines[9], want)
	}
}

func TestWarnerAsOnSkip(t *testing.T) {
	var out strings.Builder
	w := NewWarner("sre-heal", "stdin", &out)
	r := NewReader(strings.NewReader("x\n"+eventLine+"\n"+`{"v":1}`+"\n"), OnSkip(w.Skip))
	for {
		if _, err := r.Next(); err != nil {
			break
		}
	}
	w.Summary(r.Counts())
	want := "sre-heal: stdin: line 1 skipped (bad_json): invalid character 'x' looking for beginning of value\n" +
		"sre-heal: stdin: line 3 skipped (missing_kind): no \"kind\" field\n" +
		"sre-heal: stdin: 2 lines skipped (bad_json=1 missing_kind=1) of 3\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
}

func TestWarnerSummary(t *testing.T) {
	tests := []struct {
		name string
		c    Counts
		want string
	}{
		{"nothing skipped prints nothing", counts(10, 8, 2), ""},
		{"nil map prints nothing", Counts{Lines: 3, Records: 3}, ""},
		{
			name: "skips",
			c:    counts(1000, 990, 4, SkipBadJSON, 5, SkipOversize, 1),
			want: "sre-detect: stdin: 6 lines skipped (bad_json=5 oversize=1) of 1000\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			NewWarner("sre-detect", "stdin", &out).Summary(tt.c)
			if diff := cmp.Diff(tt.want, out.String()); diff != "" {
				t.Errorf("Summary (-want +got):\n%s", diff)
			}
		})
	}
}

// lockedBuilder lets the race detector judge the Warner, not the test's sink.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func TestWarnerConcurrent(t *testing.T) {
	var out lockedBuilder
	w := NewWarner("sre-detect", "stdin", &out)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				w.Skip(Skip{Line: int64(g*50 + i), Reason: SkipBadJSON})
			}
		}()
	}
	wg.Wait()
	got := out.b.String()
	if n := strings.Count(got, "\n"); n != DefaultWarnLimit+1 {
		t.Errorf("%d lines from 400 concurrent skips, want %d", n, DefaultWarnLimit+1)
	}
	if n := strings.Count(got, "suppressed"); n != 1 {
		t.Errorf("suppression line printed %d times, want once", n)
	}
}
