package ndjson

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLastNewline(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	tests := []struct {
		name     string
		data     string
		from, to int64
		want     int64
	}{
		{"empty", "", 0, 0, 0},
		{"no newline", "abc", 0, 3, 0},
		{"ends with one", "a\nb\n", 0, 4, 4},
		{"half a line after", "a\nb\nc", 0, 5, 4},
		{"only from on", "a\nb\nc", 2, 5, 4},
		{"none after from", "a\nbc", 2, 4, 2},
		{"far back", "a\n" + long, 0, int64(2 + len(long)), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LastNewline(strings.NewReader(tt.data), tt.from, tt.to)
			if err != nil || got != tt.want {
				t.Errorf("= %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

// TestRewritten: a file written again to the same size is told from one
// that only grew.
func TestRewritten(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.ndjson")
	os.WriteFile(p, []byte("{\"a\":1}\n{\"b\":2}\n"), 0o644)
	f, _ := os.Open(p)
	tail := TailOf(f, 16)
	f.Close()
	if Rewritten(p, 16, tail) {
		t.Error("an unchanged file is told rewritten")
	}
	os.WriteFile(p, []byte("{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n"), 0o644)
	if Rewritten(p, 16, tail) {
		t.Error("a file that grew is told rewritten")
	}
	os.WriteFile(p, []byte("{\"x\":1}\n{\"y\":2}\n"), 0o644)
	if !Rewritten(p, 16, tail) {
		t.Error("a file written again to the same size is not told rewritten")
	}
	if Rewritten(filepath.Join(t.TempDir(), "gone"), 16, tail) || Rewritten(p, 16, nil) {
		t.Error("a missing file or an empty tail tells something")
	}
}
