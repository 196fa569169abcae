package detectcmd

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/localsre/sre-agent/internal/cli"
)

var (
	genOnce sync.Once
	genIn   []byte
	genErr  error
)

// BenchmarkRun is sre-detect end to end (reader, engine, writer) over
// samples shaped as sre-sample writes them, from bench/detect_gen.py.
func BenchmarkRun(b *testing.B) {
	genOnce.Do(func() {
		genIn, genErr = exec.Command("/usr/bin/python3", "../../bench/detect_gen.py", "20000").Output()
	})
	in, err := genIn, genErr
	if err != nil {
		b.Skipf("bench/detect_gen.py: %v", err)
	}
	var ends []int // ends[k] is the length of the first k+1 lines
	for i, c := range in {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	b.SetBytes(int64(len(in) / len(ends)))
	b.ResetTimer()
	for n := 0; n < b.N; {
		k := min(b.N-n, len(ends))
		std := cli.IO{In: bytes.NewReader(in[:ends[k-1]]), Out: io.Discard, Err: io.Discard, Getenv: func(string) string { return "" }, Now: time.Now}
		if err := Run(context.Background(), std, nil); err != nil {
			b.Fatal(err)
		}
		n += k
	}
}
