package detect

import (
	"testing"
	"time"
)

func TestBackAt(t *testing.T) {
	crash := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	seen := crash.Add(2 * time.Second)
	ms := time.Millisecond
	tests := []struct {
		name  string
		start time.Time
		want  time.Duration // after crash
	}{
		{name: "no start: the sample that showed it", want: 2 * time.Second},
		{name: "started 300 ms after the crash", start: crash.Add(300 * ms), want: 305 * ms},
		{name: "started 1.2 s after the crash", start: crash.Add(1200 * ms), want: 1205 * ms},
		{name: "its tick began before the crash", start: crash.Add(-4 * ms), want: 3 * ms},
		{name: "its tick ended before the crash", start: crash.Add(-10 * ms), want: 0},
		{name: "long before the crash", start: crash.Add(-time.Minute), want: 0},
		{name: "never after the sample that showed it", start: seen.Add(-2 * ms), want: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := backAt(crash, tt.start, seen).Sub(crash); got != tt.want {
				t.Errorf("backAt - crash = %v, want %v", got, tt.want)
			}
		})
	}
}
