package docker

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// LogOptions bound a log read.
type LogOptions struct {
	Tail     int   // last lines asked for; 0 or less: 100
	MaxBytes int64 // bytes read at most; 0 or less: 1 MiB
	// TTY says the container has a terminal: its log is one raw stream,
	// not multiplexed (Config.Tty of its inspect).
	TTY bool
}

// LogLine is one line of a container's log, as timestamps=1 gives it:
// Docker's RFC 3339 time, a space, the text.
type LogLine struct {
	Stream string // "stdout" or "stderr" ("stdout" for a TTY's)
	Text   string
}

// Logs is what a log read gave.
type Logs struct {
	Lines []LogLine
	// Cut says MaxBytes stopped the read: older lines may be missing.
	Cut bool
}

// Logs returns the last o.Tail lines of both streams with Docker's
// timestamps, demultiplexed with the Engine's own stdcopy.
func (c *Client) Logs(ctx context.Context, id string, o LogOptions) (Logs, error) {
	if err := checkRef(id); err != nil {
		return Logs{}, err
	}
	if o.Tail <= 0 {
		o.Tail = 100
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 20
	}
	rc, err := c.api.ContainerLogs(ctx, id, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Timestamps: true, Tail: strconv.Itoa(o.Tail),
	})
	if err != nil {
		return Logs{}, fmt.Errorf("logs %s: %w", id, err)
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, o.MaxBytes+1))
	if err != nil && len(body) == 0 {
		return Logs{}, fmt.Errorf("logs %s: %w", id, err)
	}
	cut := int64(len(body)) > o.MaxBytes
	if cut {
		body = body[:o.MaxBytes]
	}
	lines, err := ParseLogs(body, o.TTY)
	if err != nil {
		return Logs{Lines: lines, Cut: cut}, fmt.Errorf("logs %s: %w", id, err)
	}
	return Logs{Lines: lines, Cut: cut}, nil
}

// ParseLogs splits a log answer into lines. A non-TTY answer is the
// multiplexed stream of frames (an 8-byte header, then the payload) that
// stdcopy reads; a line split across frames is joined per stream. A last
// frame cut short by the read limit keeps what came. A TTY's answer, or one
// that does not start with a frame header, is raw text.
func ParseLogs(body []byte, tty bool) ([]LogLine, error) {
	if tty || !multiplexed(body) {
		var a lineSink
		a.add("stdout", body)
		return a.flush(), nil
	}
	var a lineSink
	_, err := stdcopy.StdCopy(streamWriter{&a, "stdout"}, streamWriter{&a, "stderr"}, bytes.NewReader(clampFrames(body)))
	lines := a.flush()
	if err != nil {
		return lines, fmt.Errorf("%w: %v", ErrBadAnswer, err)
	}
	return lines, nil
}

// multiplexed reports whether b starts with a frame header.
func multiplexed(b []byte) bool {
	return len(b) >= 8 && b[0] <= 2 && b[1] == 0 && b[2] == 0 && b[3] == 0
}

// clampFrames makes each frame's size at most what follows it, so that
// stdcopy, which allocates what a header claims, never allocates more than
// the bytes read (a cut last frame, or a bad header, could claim 4 GiB),
// and a last frame cut by the read limit keeps its bytes.
func clampFrames(b []byte) []byte {
	out := bytes.Clone(b)
	for i := 0; i+8 <= len(out); {
		n := int(binary.BigEndian.Uint32(out[i+4 : i+8]))
		if rest := len(out) - i - 8; n > rest {
			n = rest
			binary.BigEndian.PutUint32(out[i+4:i+8], uint32(n))
		}
		i += 8 + n
	}
	return out
}

type streamWriter struct {
	a      *lineSink
	stream string
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.a.add(w.stream, p)
	return len(p), nil
}

// lineSink assembles lines per stream in the order their ends came.
type lineSink struct {
	lines   []LogLine
	pending map[string][]byte
}

// maxPending bounds a line that never ends.
const maxPending = 64 << 10

func (a *lineSink) add(stream string, p []byte) {
	if a.pending == nil {
		a.pending = map[string][]byte{}
	}
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if room := maxPending - len(a.pending[stream]); room > 0 {
				a.pending[stream] = append(a.pending[stream], p[:min(len(p), room)]...)
			}
			return
		}
		line := append(a.pending[stream], p[:i]...)
		delete(a.pending, stream)
		a.lines = append(a.lines, LogLine{Stream: stream, Text: string(bytes.TrimRight(line, "\r"))})
		p = p[i+1:]
	}
}

func (a *lineSink) flush() []LogLine {
	for _, s := range []string{"stdout", "stderr"} {
		if p := a.pending[s]; len(p) > 0 {
			a.lines = append(a.lines, LogLine{Stream: s, Text: string(bytes.TrimRight(p, "\r"))})
		}
	}
	a.pending = nil
	return a.lines
}
