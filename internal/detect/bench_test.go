package detect

import (
	"testing"

	"github.com/localsre/sre-agent/internal/event/eventtest"
)

// BenchmarkEngine is the engine alone (decoding included) over samples
// that raise no event: the steady state of a healthy target.
func BenchmarkEngine(b *testing.B) {
	lines := eventtest.SampleLines(1 << 14)
	cfg := Defaults()
	cfg.MemMax = Limit{Abs: 1 << 40}
	var e *Engine
	b.SetBytes(int64(len(lines[0])))
	i := 0
	for b.Loop() {
		if i%len(lines) == 0 { // a fresh engine, so time keeps moving forward
			b.StopTimer()
			e, _ = New(cfg, func(any) error { return nil })
			b.StartTimer()
		}
		if err := e.Sample(lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
