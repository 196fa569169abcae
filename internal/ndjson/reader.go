package ndjson

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/localsre/sre-agent/internal/event"
)

// DefaultMaxLine is the longest valid line (DESIGN §2), newline excluded.
const DefaultMaxLine = 1 << 20

// Why a line was skipped.
const (
	SkipBadJSON   = "bad_json"
	SkipNoVersion = "missing_v"
	SkipNoKind    = "missing_kind"
	SkipNewer     = "newer_v"
	SkipOversize  = "oversize"
	SkipPartial   = "partial_last_line"
)

// Counts says what the reader saw. Skipped lines are counted by reason.
type Counts struct {
	Lines   int64            // lines read, including blank, skipped and a partial last one
	Records int64            // records returned
	Blank   int64            // empty or whitespace-only lines (ignored, not errors)
	Skipped map[string]int64 // by reason
}

// SkippedTotal is the number of lines skipped for any reason.
func (c Counts) SkippedTotal() int64 {
	var n int64
	for _, v := range c.Skipped {
		n += v
	}
	return n
}

// String renders the skip counts in a stable order, e.g.
// "3 lines skipped (bad_json=2 oversize=1)".
func (c Counts) String() string {
	if c.SkippedTotal() == 0 {
		return "0 lines skipped"
	}
	var parts []string
	for _, k := range []string{SkipBadJSON, SkipNoVersion, SkipNoKind, SkipNewer, SkipOversize, SkipPartial} {
		if v := c.Skipped[k]; v > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, v))
		}
	}
	return fmt.Sprintf("%d lines skipped (%s)", c.SkippedTotal(), strings.Join(parts, " "))
}

// Record is one usable line: its raw bytes (without the newline, valid until
// the next call to Next), its schema version and kind, and its line number.
type Record struct {
	Raw  []byte
	V    int
	Kind string
	Line int64
	// Off is the offset in the input of the line's first byte, so that a
	// reader of a file can find the line again.
	Off int64
}

// Skip describes a skipped line, for warnings.
type Skip struct {
	Line   int64
	Reason string
	Err    error
}

func (s Skip) String() string {
	if s.Err != nil {
		return fmt.Sprintf("line %d skipped (%s): %v", s.Line, s.Reason, s.Err)
	}
	return fmt.Sprintf("line %d skipped (%s)", s.Line, s.Reason)
}

// Reader reads records with at most MaxLine bytes held per line.
type Reader struct {
	br      *bufio.Reader
	max     int
	newest  int
	buf     []byte
	line    int64
	counts  Counts
	onSkip  func(Skip)
	pending error
	check   func([]byte) (event.Head, error)
	pos     int64 // bytes read so far
	start   int64 // offset of the line being read
}

// Option configures a Reader.
type Option func(*Reader)

// WithMaxLine sets the longest accepted line in bytes.
func WithMaxLine(n int) Option { return func(r *Reader) { r.max = n } }

// WithNewest sets the newest schema version accepted (default 1).
func WithNewest(v int) Option { return func(r *Reader) { r.newest = v } }

// OnSkip registers a callback for each skipped line (to warn on stderr).
func OnSkip(f func(Skip)) Option { return func(r *Reader) { r.onSkip = f } }

// WithCheck replaces event.ReadHead as the check of each line (whitespace
// around it trimmed): a stage that decodes the records it reads passes a
// check that decodes as it goes, such as event.ReadSample, so that a line
// is scanned once. check must answer as event.ReadHead does.
func WithCheck(check func(line []byte) (event.Head, error)) Option {
	return func(r *Reader) { r.check = check }
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader, opts ...Option) *Reader {
	rd := &Reader{max: DefaultMaxLine, newest: 1, check: event.ReadHead}
	for _, o := range opts {
		o(rd)
	}
	if rd.max <= 0 {
		rd.max = DefaultMaxLine
	}
	size := 64 << 10
	if rd.max+1 < size {
		size = max(rd.max+1, 16)
	}
	rd.br = bufio.NewReaderSize(r, size)
	rd.counts.Skipped = map[string]int64{}
	return rd
}

// Counts returns a copy of the counters so far.
func (r *Reader) Counts() Counts {
	c := r.counts
	c.Skipped = make(map[string]int64, len(r.counts.Skipped))
	for k, v := range r.counts.Skipped {
		c.Skipped[k] = v
	}
	return c
}

// Ready reports whether Next can return without waiting for input: a
// whole line is buffered, or the input has ended. A stage that batches its
// work hands over what it has before a Next that would wait, so a record
// never waits for the next one.
func (r *Reader) Ready() bool {
	if r.pending != nil {
		return true
	}
	b, _ := r.br.Peek(r.br.Buffered())
	return bytes.IndexByte(b, '\n') >= 0
}

// Line is the number of the last line read.
func (r *Reader) Line() int64 { return r.line }

// Next returns the next usable record. It returns io.EOF at the end of input
// and any other read error as is; bad lines are skipped and counted, never
// returned as errors.
func (r *Reader) Next() (Record, error) {
	for {
		if r.pending != nil {
			return Record{}, r.pending
		}
		raw, complete, oversize, err := r.readLine()
		if err != nil && !errors.Is(err, io.EOF) {
			r.pending = err
		} else if errors.Is(err, io.EOF) {
			r.pending = io.EOF
		}
		if raw == nil && !oversize {
			if err != nil {
				return Record{}, r.pending
			}
			continue
		}
		r.line++
		r.counts.Lines++
		if oversize {
			r.skip(SkipOversize, fmt.Errorf("longer than %d bytes", r.max))
			continue
		}
		if !complete {
			if len(bytes.TrimSpace(raw)) > 0 {
				r.skip(SkipPartial, errors.New("no newline at end of input"))
			} else {
				r.counts.Blank++ // counted, so Lines = Records + Blank + skipped
			}
			continue
		}
		rec, reason, perr := r.parse(raw)
		if reason != "" {
			if reason == "blank" {
				r.counts.Blank++
				continue
			}
			r.skip(reason, perr)
			continue
		}
		r.counts.Records++
		return rec, nil
	}
}

func (r *Reader) skip(reason string, err error) { r.skipLine(r.line, reason, err) }

func (r *Reader) skipLine(line int64, reason string, err error) {
	r.counts.Skipped[reason]++
	if r.onSkip != nil {
		r.onSkip(Skip{Line: line, Reason: reason, Err: err})
	}
}

// readLine returns one line without its newline. complete is false for a
// last line with no newline; oversize is true (and raw nil) when the line
// exceeded max and was discarded up to its newline.
func (r *Reader) readLine() (raw []byte, complete, oversize bool, err error) {
	r.buf = r.buf[:0]
	r.start = r.pos
	for first := true; ; first = false {
		chunk, e := r.br.ReadSlice('\n')
		r.pos += int64(len(chunk))
		if first && e == nil && len(chunk) <= r.max+1 {
			// The whole line is in the read buffer, where it stays until
			// the next read: no need to copy it.
			return chunk[:len(chunk)-1], true, false, nil
		}
		if !oversize {
			if len(r.buf)+len(chunk) > r.max+1 { // +1: the newline itself
				oversize = true
				r.buf = r.buf[:0]
			} else {
				r.buf = append(r.buf, chunk...)
			}
		}
		switch {
		case e == nil:
			if oversize {
				return nil, true, true, nil
			}
			return r.buf[:len(r.buf)-1], true, false, nil
		case errors.Is(e, bufio.ErrBufferFull):
			continue
		default: // EOF or read error
			if oversize || len(r.buf) > r.max { // no newline: max+1 is too long too
				return nil, false, true, e
			}
			if len(r.buf) == 0 {
				return nil, false, false, e
			}
			return r.buf, false, false, e
		}
	}
}

func (r *Reader) parse(raw []byte) (Record, string, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return Record{}, "blank", nil
	}
	h, err := r.check(trimmed)
	if err != nil {
		return Record{}, SkipBadJSON, err
	}
	switch {
	case h.V == nil:
		return Record{}, SkipNoVersion, errors.New(`no "v" field`)
	case h.Kind == nil || *h.Kind == "":
		return Record{}, SkipNoKind, errors.New(`no "kind" field`)
	case *h.V > r.newest:
		return Record{}, SkipNewer, fmt.Errorf("v %d is newer than %d", *h.V, r.newest)
	case *h.V < 1:
		return Record{}, SkipNoVersion, fmt.Errorf("v %d is not a version", *h.V)
	}
	return Record{Raw: raw, V: *h.V, Kind: *h.Kind, Line: r.line, Off: r.start}, "", nil
}
