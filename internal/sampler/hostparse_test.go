package sampler

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseMeminfo(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Meminfo
		wantErr bool
	}{
		{
			name: "real",
			in:   "MemTotal:       24683656 kB\nMemFree:        23017392 kB\nMemAvailable:   24321332 kB\nBuffers:            2156 kB\nSwapCached:            0 kB\nSwapTotal:       2097148 kB\nSwapFree:        1048574 kB\n",
			want: Meminfo{Total: 24683656 * 1024, Available: 24321332 * 1024, SwapTotal: 2097148 * 1024, SwapFree: 1048574 * 1024, HasAvailable: true},
		},
		{
			name: "old kernel without MemAvailable",
			in:   "MemTotal: 1000 kB\nMemFree: 10 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n",
			want: Meminfo{Total: 1000 * 1024},
		},
		{name: "no MemTotal", in: "MemFree: 10 kB\n", wantErr: true},
		{name: "garbage value", in: "MemTotal: lots kB\n", wantErr: true},
		{name: "negative", in: "MemTotal: -5 kB\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "no newline at the end", in: "MemTotal: 8 kB", want: Meminfo{Total: 8 * 1024}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMeminfo([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrParse) {
					t.Errorf("error %v does not wrap ErrParse", err)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseLoadavg(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		l1, l5, l15 float64
		wantErr     bool
	}{
		{name: "real", in: "0.50 0.40 0.30 1/100 42\n", l1: 0.5, l5: 0.4, l15: 0.3},
		{name: "busy", in: "12.07 8.00 3.91 9/812 31337", l1: 12.07, l5: 8, l15: 3.91},
		{name: "too few", in: "0.5 0.4\n", wantErr: true},
		{name: "not numbers", in: "a b c 1/1 1\n", wantErr: true},
		{name: "NaN", in: "NaN 0 0 1/1 1\n", wantErr: true},
		{name: "Inf", in: "0 +Inf 0 1/1 1\n", wantErr: true},
		{name: "negative", in: "0 0 -1 1/1 1\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l1, l5, l15, err := parseLoadavg([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && (l1 != tt.l1 || l5 != tt.l5 || l15 != tt.l15) {
				t.Errorf("got %v %v %v, want %v %v %v", l1, l5, l15, tt.l1, tt.l5, tt.l15)
			}
		})
	}
}

// The host files read whole are whole: the same lines as reading to the
// end, and complete ones.
func TestHostFilesReadWhole(t *testing.T) {
	s := liveSampler(t, 1)
	for _, name := range []string{"meminfo", "loadavg", "pressure/memory", "self/stat"} {
		k := s.files.Keep(filepath.Join("/proc", name), true)
		if !k.Kept() {
			continue // no PSI here
		}
		whole, err := s.files.ReadKept(&k)
		if err != nil {
			t.Fatal(err)
		}
		whole = bytes.Clone(whole)
		s.files.Unkeep(&k)
		k = s.files.Keep(filepath.Join("/proc", name), false)
		all, err := s.files.ReadKept(&k)
		if err != nil {
			t.Fatal(err)
		}
		s.files.Unkeep(&k)
		if !bytes.HasSuffix(whole, []byte("\n")) || bytes.Count(whole, []byte("\n")) != bytes.Count(all, []byte("\n")) {
			t.Errorf("%s read whole: %d lines, to the end: %d", name, bytes.Count(whole, []byte("\n")), bytes.Count(all, []byte("\n")))
		}
		if name != "self/stat" && !wholeHostFile(name) {
			t.Errorf("%s: not read whole", name)
		}
	}
}
