package durable

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteNew(t *testing.T) {
	dir := t.TempDir()
	p1, err := WriteNew(dir, "web_logs.log", []byte("one\n"))
	if err != nil || p1 != filepath.Join(dir, "web_logs.log") {
		t.Fatalf("first: %q, %v", p1, err)
	}
	p2, err := WriteNew(dir, "web_logs.log", []byte("two\n"))
	if err != nil || p2 != filepath.Join(dir, "web_logs-2.log") {
		t.Fatalf("second: %q, %v; want web_logs-2.log beside the first", p2, err)
	}
	for p, want := range map[string]string{p1: "one\n", p2: "two\n"} {
		b, err := os.ReadFile(p)
		fi, _ := os.Stat(p)
		if err != nil || string(b) != want || fi.Mode().Perm() != 0o444 {
			t.Errorf("%s: %q, mode %v, %v; want %q, 0444", p, b, fi.Mode().Perm(), err, want)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("%d files in the directory; want the two, no temp file left", len(ents))
	}
	for _, bad := range []string{"", "../x", "a/b", ".hidden"} {
		if _, err := WriteNew(dir, bad, nil); err == nil || !strings.Contains(err.Error(), "not a plain name") {
			t.Errorf("WriteNew(%q) = %v; want refused", bad, err)
		}
	}
	if _, err := WriteNew(filepath.Join(dir, "missing"), "x", nil); err == nil {
		t.Error("WriteNew into a missing directory: no error")
	}
}
