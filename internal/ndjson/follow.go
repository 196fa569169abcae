package ndjson

import (
	"bytes"
	"errors"
	"io"
	"os"
)

// What a reader that follows a growing NDJSON file (the archive, by
// sre-score --listen and the dashboard) needs to read whole lines only and
// to notice a file written again under its feet.

// LastNewline returns the offset just after the last newline in [from,
// to) of r, or from when there is none, reading backwards a block at a
// time: a line still being written waits for the next read.
func LastNewline(r io.ReaderAt, from, to int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for hi := to; hi > from; {
		lo := max(from, hi-int64(len(buf)))
		b := buf[:hi-lo]
		if _, err := r.ReadAt(b, lo); err != nil && !errors.Is(err, io.EOF) {
			return from, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return lo + int64(i) + 1, nil
		}
		hi = lo
	}
	return from, nil
}

// TailOf returns the bytes of r just before end (at most 64), to be
// compared later by Rewritten.
func TailOf(r io.ReaderAt, end int64) []byte {
	tail := make([]byte, min(64, end))
	n, _ := r.ReadAt(tail, end-int64(len(tail)))
	return tail[:n]
}

// Rewritten reports whether the bytes of path just before offset are no
// longer tail (TailOf when it was read up to offset): the file was
// truncated and written again, even to the same size. An empty tail or a
// file that cannot be opened tells nothing (false).
func Rewritten(path string, offset int64, tail []byte) bool {
	if len(tail) == 0 {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, len(tail))
	n, _ := f.ReadAt(b, offset-int64(len(b)))
	return !bytes.Equal(b[:n], tail)
}
