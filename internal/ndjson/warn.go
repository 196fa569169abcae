package ndjson

import (
	"fmt"
	"io"
	"sync"
)

// DefaultWarnLimit is how many per-line warnings a tool prints before it
// falls quiet; the counts at exit still cover every skipped line.
const DefaultWarnLimit = 10

// Warner prints per-line warnings to a tool's stderr, at most Limit of them,
// then one line saying the rest are suppressed.
type Warner struct {
	mu    sync.Mutex
	Tool  string
	Input string // name of the input in messages, e.g. "stdin"
	Limit int
	W     io.Writer
	n     int
}

// NewWarner returns a Warner for tool writing to w.
func NewWarner(tool, input string, w io.Writer) *Warner {
	return &Warner{Tool: tool, Input: input, Limit: DefaultWarnLimit, W: w}
}

// Skip is an OnSkip callback.
func (w *Warner) Skip(s Skip) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	switch {
	case w.n <= w.Limit:
		fmt.Fprintf(w.W, "%s: %s: %s\n", w.Tool, w.Input, s)
	case w.n == w.Limit+1:
		fmt.Fprintf(w.W, "%s: %s: more lines skipped; further warnings suppressed (counts at exit)\n", w.Tool, w.Input)
	}
}

// Summary prints the exit summary of c when anything was skipped.
func (w *Warner) Summary(c Counts) {
	if c.SkippedTotal() == 0 {
		return
	}
	fmt.Fprintf(w.W, "%s: %s: %s of %d\n", w.Tool, w.Input, c, c.Lines)
}
