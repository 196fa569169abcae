package score_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/localsre/sre-agent/internal/score"
)

// BenchmarkArchive scores the archive bench/score_gen.go writes (100,000
// records, the same mix bench/score_1m.sh times at 1M), through the ndjson
// reader as sre-score reads it. bench/README.md holds the figures.
func BenchmarkArchive(b *testing.B) {
	data := benchArchive(b, 100_000)
	w, _ := score.ParseWindows("1h,24h,7d")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		agg := score.New(w, time.Now())
		if _, err := score.ReadArchive(context.Background(), bytes.NewReader(data), agg, nil); err != nil {
			b.Fatal(err)
		}
		agg.Snapshot(time.Now())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100_000, "ns/record")
}

func benchArchive(b *testing.B, n int) []byte {
	b.Helper()
	path := b.TempDir() + "/archive.ndjson"
	out, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("go", "run", "../../bench/score_gen.go", "100000")
	cmd.Stdout, cmd.Stderr = out, os.Stderr
	if err := cmd.Run(); err != nil {
		b.Skipf("go run bench/score_gen.go: %v", err)
	}
	out.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	if bytes.Count(data, []byte("\n")) != n {
		b.Fatalf("generator wrote %d lines, want %d", bytes.Count(data, []byte("\n")), n)
	}
	return data
}
