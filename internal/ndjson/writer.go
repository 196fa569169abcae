package ndjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
)

// ErrClosed means the downstream reader went away (EPIPE): the tool should
// stop quietly and exit 0, as `| head -1` expects.
var ErrClosed = errors.New("output closed")

// Writer writes one record per Write call, newline included, so no reader
// ever sees half a line and every record leaves the process at once.
// It is safe for concurrent use.
type Writer struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	closed bool
	failed error // a write failed: a half line may be out, so write no more
}

// NewWriter returns a Writer to w. w should be unbuffered (the process stdout) or
// flushed by the caller; the Writer itself never holds a record back.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// appender is a record that writes its own JSON: the bytes encoding/json
// would write, without the reflection (event.Sample, once per tick). Encode
// calls it under the Writer's lock.
type appender interface {
	AppendJSON(dst []byte) ([]byte, error)
}

// Encode marshals v as one line. <, > and & stay as they are, so messages
// such as "rss > limit" read and grep as written. A v with an
// AppendJSON([]byte) ([]byte, error) method writes itself, into a buffer
// the Writer reuses; it must write what encoding/json would.
func (w *Writer) Encode(v any) error {
	if a, ok := v.(appender); ok {
		w.mu.Lock()
		defer w.mu.Unlock()
		line, err := a.AppendJSON(w.buf[:0])
		if err != nil {
			return fmt.Errorf("encode record: %w", err)
		}
		w.buf = append(line, '\n')
		return w.writeLocked()
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	return w.WriteLine(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// WriteLine writes raw (one JSON object without its newline) unchanged.
func (w *Writer) WriteLine(raw []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.failed != nil {
		return w.failed
	}
	w.buf = append(append(w.buf[:0], raw...), '\n')
	return w.writeLocked()
}

// writeLocked writes w.buf, one whole line, in one Write call; w.mu is held.
func (w *Writer) writeLocked() error {
	line := w.buf
	if cap(w.buf) > 64<<10 {
		w.buf = nil // do not keep a huge line's buffer alive
	}
	if w.closed {
		return ErrClosed
	}
	if w.failed != nil {
		return w.failed
	}
	_, err := w.w.Write(line)
	if err != nil {
		if IsClosed(err) {
			w.closed = true
			return ErrClosed
		}
		w.failed = fmt.Errorf("write output: %w", err)
		return w.failed
	}
	return nil
}

// IsClosed reports whether err means the reader of our output is gone.
func IsClosed(err error) bool {
	return errors.Is(err, ErrClosed) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrClosedPipe)
}
