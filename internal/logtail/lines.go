package logtail

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// cutLine shortens s to at most max bytes, backing off to a rune boundary
// (at most three bytes) so a cut never splits a UTF-8 sequence. It returns
// what is kept and how many bytes were cut.
func cutLine(s string, maxLine int) (string, int) {
	if len(s) <= maxLine {
		return s, 0
	}
	i := maxLine
	for k := 0; k < utf8.UTFMax-1 && i > 0 && !utf8.RuneStart(s[i]); k++ {
		i--
	}
	return s[:i], len(s) - i
}

// markCut renders a kept line with the count of bytes cut from it.
func markCut(kept string, cut int) string {
	if cut == 0 {
		return kept
	}
	return fmt.Sprintf("%s …[cut %d bytes]", kept, cut)
}

// splitter turns a byte stream into lines without ever holding more than
// max+utf8.UTFMax bytes of one line: the rest of an overlong line is only
// counted. A trailing "\r" is dropped, so CRLF logs read like LF logs.
type splitter struct {
	max  int
	buf  []byte
	over int // bytes of the current line beyond buf
}

func newSplitter(maxLine int) *splitter { return &splitter{max: maxLine} }

// write feeds p and calls emit(line, cut) for every line it completes.
func (s *splitter) write(p []byte, emit func(string, int)) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		part := p
		if i >= 0 {
			part = p[:i]
		}
		room := min(s.max+utf8.UTFMax-len(s.buf), len(part))
		s.buf = append(s.buf, part[:room]...)
		s.over += len(part) - room
		if i < 0 {
			return
		}
		s.emit(emit)
		p = p[i+1:]
	}
}

// flush emits the unterminated last line, if any.
func (s *splitter) flush(emit func(string, int)) {
	if len(s.buf) > 0 || s.over > 0 {
		s.emit(emit)
	}
}

func (s *splitter) emit(fn func(string, int)) {
	line := string(s.buf)
	if s.over == 0 {
		line = strings.TrimSuffix(line, "\r")
	}
	kept, cut := cutLine(line, s.max)
	cut += s.over
	s.buf, s.over = s.buf[:0], 0
	fn(kept, cut)
}

// readChunk is how much readLines asks of the file at a time.
const readChunk = 32 << 10

// readLines reads the complete lines of r between lo (a line start) and hi.
// When hi-lo exceeds budget (> 0) only the last budget bytes are read, and
// the partial line they begin with is skipped: this is the bounded backwards
// read of a backfill, which never reads a whole large file. It returns the
// offset just past the last complete line (where following resumes; an
// unterminated last line is left to be read once complete) and the bytes
// read. If the window holds no line start at all (one huge line), end is hi.
func readLines(r io.ReaderAt, lo, hi, budget int64, maxLine int, emit func(string, int)) (end, read int64, err error) {
	from, skip := lo, false
	if budget > 0 && hi-lo > budget {
		from = hi - budget
		var b [1]byte
		n, err := r.ReadAt(b[:], from-1)
		read += int64(n)
		if n == 0 {
			return lo, read, err
		}
		skip = b[0] != '\n'
	}
	end = from
	if skip {
		end = hi
	}
	sp := newSplitter(maxLine)
	buf := make([]byte, min(readChunk, max(hi-from, 1)))
	for off := from; off < hi; {
		n, rerr := r.ReadAt(buf[:min(int64(len(buf)), hi-off)], off)
		read += int64(n)
		chunk, start := buf[:n], off
		off += int64(n)
		if skip {
			i := bytes.IndexByte(chunk, '\n')
			if i >= 0 {
				skip = false
				chunk, start = chunk[i+1:], start+int64(i+1)
				end = start
			} else {
				chunk = nil
			}
		}
		if j := bytes.LastIndexByte(chunk, '\n'); j >= 0 {
			end = start + int64(j+1)
		}
		sp.write(chunk, emit)
		if rerr == io.EOF || n == 0 {
			break // the file shrank under us: what was read stands
		}
		if rerr != nil {
			return end, read, rerr
		}
	}
	return end, read, nil
}
