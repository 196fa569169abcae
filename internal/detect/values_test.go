package detect

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseSizeOrPct(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Limit
		bad  bool
	}{
		{in: "1048576", want: Limit{Abs: 1 << 20}},
		{in: "1.5GiB", want: Limit{Abs: 1.5 * (1 << 30)}},
		{in: "512MB", want: Limit{Abs: 512e6}},
		{in: "64k", want: Limit{Abs: 64 << 10}},
		{in: "2 MiB", want: Limit{Abs: 2 << 20}},
		{in: "80%", want: Limit{Pct: true, Of: 80}},
		{in: "12.5%", want: Limit{Pct: true, Of: 12.5}},
		{in: "101%", bad: true},
		{in: "-1GiB", bad: true},
		{in: "1.5XB", bad: true},
		{in: "GiB", bad: true},
		{in: "", bad: true},
		{in: "NaN", bad: true},
		{in: "1e3", bad: true},
		{in: "99999999999TiB", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSizeOrPct(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("ParseSizeOrPct(%q) = %+v, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("ParseSizeOrPct(%q) (-want +got):\n%s", tc.in, d)
			}
		})
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{
		"1MiB/m": (1 << 20) / 60.0, "100KiB/s": 100 << 10, "2GB/h": 2e9 / 3600, "5MiB/30m": 5 * (1 << 20) / 1800.0, "1024": 1024,
	} {
		got, err := ParseRate(in)
		if err != nil || math.Abs(got-want) > 1e-9*want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"1MiB/fortnight", "/s", "fast", "1MiB/-1m"} {
		if v, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) = %v, want an error", in, v)
		}
	}
}

func TestParseDelta(t *testing.T) {
	for in, want := range map[string]Limit{"10": {Abs: 10}, "50%": {Pct: true, Of: 50}, "0": {}} {
		got, err := ParseDelta(in)
		if err != nil || got != want {
			t.Errorf("ParseDelta(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"1.5", "-3", "x%"} {
		if _, err := ParseDelta(in); err == nil {
			t.Errorf("ParseDelta(%q): want an error", in)
		}
	}
}

func TestFit(t *testing.T) {
	var f fit
	for i := range 10 {
		f.add(1.7e9+float64(i), 5e9+3*float64(i))
	}
	slope, r2, ok := f.line()
	if !ok || math.Abs(slope-3) > 1e-6 || math.Abs(r2-1) > 1e-9 {
		t.Errorf("line through a straight series: slope %v r2 %v ok %v, want 3, 1", slope, r2, ok)
	}
	var flat fit
	for i := range 10 {
		flat.add(float64(i), 7)
	}
	if slope, r2, _ := flat.line(); slope != 0 || r2 != 0 {
		t.Errorf("flat series: slope %v r2 %v, want 0, 0", slope, r2)
	}
}

// TestCond walks the edge-triggered condition through for, the hysteresis
// band and the cooldown.
func TestCond(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		sec         int
		v           float64 // threshold 100, band down to 90
		fire, clear bool
	}
	steps := []step{
		{0, 50, false, false},
		{1, 100, false, false}, // pending
		{2, 95, false, false},  // in the band: still pending
		{3, 101, true, false},  // held 2s (for 2s): fires
		{4, 50, false, true},   // below the band: clears
		{5, 150, false, false}, // pending again
		{7, 150, false, false}, // for satisfied, but cooldown (10s from 3s) not
		{13, 150, true, false}, // cooldown over
		{14, 92, false, false}, // in the band: still firing
		{15, 80, false, true},
	}
	var c cond
	for _, s := range steps {
		fire, clear := c.step(base.Add(time.Duration(s.sec)*time.Second), s.v >= 100, s.v < 90, 2*time.Second, 10*time.Second)
		if fire != s.fire || clear != s.clear {
			t.Errorf("t=%ds v=%v: fire %v clear %v, want %v %v", s.sec, s.v, fire, clear, s.fire, s.clear)
		}
	}
}

func TestFormat(t *testing.T) {
	for in, want := range map[float64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 1.05 * (1 << 30): "1.05 GiB", 250 << 20: "250 MiB"} {
		if got := FormatBytes(in); got != want {
			t.Errorf("FormatBytes(%v) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{0.25: "250ms", 10.5: "10.5s", 200: "3m20s", 7260: "2h1m", 3 * 86400: "3d0h"} {
		if got := FormatDuration(in); !strings.HasPrefix(got, want) {
			t.Errorf("FormatDuration(%v) = %q, want %q", in, got, want)
		}
	}
}
