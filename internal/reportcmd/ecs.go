package reportcmd

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/ecs"
	"github.com/localsre/sre-agent/internal/ndjson"
)

const ecsUsage = `sre-report ecs — the archive (or any record stream) as Elastic Common Schema documents.

Usage:
  sre-report ecs [flags] [FILE...]

Reads records from each FILE (default: DIR/events.ndjson; "-" is stdin;
gzip-compressed files too) and writes one ECS document per record to
stdout: ts is @timestamp (nanoseconds kept), msg is message, host is
host.name, the process fields are process.*, every record has event.kind,
event.category, event.type, event.dataset, log.level and ecs.version, and
every field ECS has no name for stays under "sre". The archive itself is
never changed. With --follow, the last FILE is followed as it grows (and
read again from the start when it is replaced or truncated), so a shipper
can tail the output. docs/shipping.md has the field table.

Examples:
  sre-report ecs > events.ecs.ndjson
  sre-report ecs --follow --dir /var/lib/sre/reports >> /var/log/sre/events.ecs.ndjson
  sre-sample api | sre-detect | sre-report ecs - | jq -c '{"@timestamp", message}'
`

// followPoll is how often a followed file is checked for growth: the
// archive is written a record at a time, and a shipper polls anyway.
const followPoll = 250 * time.Millisecond

func runECS(ctx context.Context, std cli.IO, args []string) error {
	fs := cli.NewFlagSet(tool+" ecs", ecsUsage, std.Out)
	dir := fs.String("dir", dirDefault(std), "report directory whose events.ndjson is read when no FILE is given (env SRE_REPORT_DIR)")
	follow := fs.BoolP("follow", "f", false, "after the end of the last FILE, keep reading what is appended to it")
	strict := fs.Bool("strict", false, "exit 1 if any input line was skipped")
	maxLine := fs.Int("max-line", ndjson.DefaultMaxLine, "longest input line in bytes; longer lines are skipped and counted")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *maxLine < 1024 {
		return cli.Usagef("ecs: --max-line %d: must be at least 1024", *maxLine)
	}
	files := fs.Args()
	if len(files) == 0 {
		files = []string{filepath.Join(*dir, "events.ndjson")}
	}
	if *follow && files[len(files)-1] == "-" {
		return cli.Usagef("ecs: --follow needs a FILE to follow, not stdin")
	}
	out := ndjson.NewWriter(std.Out)
	var skipped int64
	for i, name := range files {
		n, err := convertOne(ctx, std, out, name, *maxLine, *follow && i == len(files)-1)
		skipped += n
		if err != nil {
			if ndjson.IsClosed(err) {
				return nil
			}
			return err
		}
	}
	if *strict && skipped > 0 {
		return cli.Failf("ecs: %d lines skipped (--strict)", skipped)
	}
	return nil
}

// convertOne converts one input and returns the lines it skipped.
func convertOne(ctx context.Context, std cli.IO, out *ndjson.Writer, name string, maxLine int, follow bool) (int64, error) {
	var r io.Reader
	label := name
	switch {
	case name == "-":
		r, label = std.In, "stdin"
	case follow:
		fr, err := openFollow(ctx, std, name)
		if err != nil {
			return 0, cli.Failf("ecs: %v", err)
		}
		if fr == nil {
			return 0, nil
		}
		defer fr.Close()
		r = fr
	default:
		f, err := os.Open(name)
		if err != nil {
			return 0, cli.Failf("ecs: %v", err)
		}
		defer f.Close()
		r = f
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := peek(br, follow); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return 0, cli.Failf("ecs: read %s: %v", label, err)
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	warner := ndjson.NewWarner(tool, label, std.Err)
	rd := ndjson.NewReader(r, ndjson.WithMaxLine(maxLine), ndjson.OnSkip(warner.Skip))
	var badRecords int64
	summary := func() int64 {
		c := rd.Counts()
		c.Skipped[skipBadRecord] += badRecords
		warner.Summary(c)
		if badRecords > 0 {
			fmt.Fprintf(std.Err, "%s: %s: of them %s=%d (valid JSON, a field ECS cannot take as it is)\n", tool, label, skipBadRecord, badRecords)
		}
		return c.SkippedTotal()
	}
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return summary(), nil
		}
		if err != nil {
			return summary(), cli.Failf("ecs: read %s: %v", label, err)
		}
		doc, err := ecs.Convert(rec.Raw)
		if err != nil {
			badRecords++
			warner.Skip(ndjson.Skip{Line: rec.Line, Reason: skipBadRecord, Err: err})
			continue
		}
		if err := out.Encode(doc); err != nil {
			summary()
			return 0, err
		}
	}
}

// peek returns the first two bytes, to recognise gzip; a followed file is
// plain NDJSON being appended to, and may be empty still.
func peek(br *bufio.Reader, follow bool) ([]byte, error) {
	if follow {
		return nil, nil
	}
	return br.Peek(2)
}

// skipBadRecord counts a JSON record whose fields cannot take their ECS
// types (ecs.ErrRecord).
const skipBadRecord = "bad_record"

// followReader reads a file and, at its end, waits for more instead of
// returning io.EOF, until ctx ends. A file replaced at its path (a new
// inode: rotation), cut shorter than what was read, or whose last bytes
// read are no longer there (cut and written again past that length) is
// read again from the start, and stderr says so.
type followReader struct {
	ctx  context.Context
	std  cli.IO
	path string
	f    *os.File
	off  int64
	ino  uint64
	dev  uint64
	tail []byte // the last bytes read, up to tailLen
}

const tailLen = 64

// openFollow opens path, waiting for it to appear if it does not exist
// yet (a watcher that has not written its first record).
func openFollow(ctx context.Context, std cli.IO, path string) (*followReader, error) {
	fr := &followReader{ctx: ctx, std: std, path: path}
	for said := false; ; said = true {
		err := fr.open()
		if err == nil {
			return fr, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if !said {
			fmt.Fprintf(std.Err, "%s: %s: does not exist yet; waiting for it\n", tool, path)
		}
		select {
		case <-ctx.Done():
			return nil, nil // stopped (SIGTERM) before there was anything to read
		case <-time.After(followPoll):
		}
	}
}

func (fr *followReader) open() error {
	f, err := os.Open(fr.path)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("%s: --follow needs a regular file, not a %s", fr.path, st.Mode().Type())
	}
	if fr.f != nil {
		fr.f.Close()
	}
	fr.f, fr.off, fr.tail = f, 0, fr.tail[:0]
	fr.ino, fr.dev = fileID(st)
	return nil
}

func fileID(st os.FileInfo) (ino, dev uint64) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Ino, uint64(s.Dev)
	}
	return 0, 0
}

func (fr *followReader) Read(p []byte) (int, error) {
	for {
		n, err := fr.f.Read(p)
		fr.off += int64(n)
		if n > 0 {
			fr.tail = append(fr.tail, p[:n]...)
			if len(fr.tail) > tailLen {
				fr.tail = append(fr.tail[:0], fr.tail[len(fr.tail)-tailLen:]...)
			}
			return n, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		// At the end: wait, then see whether the file changed before
		// reading on, so new bytes are never read from a stale offset.
		select {
		case <-fr.ctx.Done():
			return 0, io.EOF
		case <-time.After(followPoll):
		}
		fr.reopenIfChanged()
	}
}

// reopenIfChanged starts again from the beginning of the file at the path
// when it is another file now, or this one was cut or rewritten.
func (fr *followReader) reopenIfChanged() {
	st, err := os.Stat(fr.path)
	if err != nil {
		return // gone for now (rotation in progress): keep what we have
	}
	ino, dev := fileID(st)
	switch {
	case ino != fr.ino || dev != fr.dev:
		if old, err := fr.f.Stat(); err == nil && old.Size() > fr.off {
			return // what was appended to the old file before it was replaced comes first
		}
		if fr.open() == nil {
			fmt.Fprintf(fr.std.Err, "%s: %s: replaced; reading the new file from the start\n", tool, fr.path)
		}
	case st.Size() < fr.off || fr.rewritten():
		if _, err := fr.f.Seek(0, io.SeekStart); err == nil {
			fr.off, fr.tail = 0, fr.tail[:0]
			fmt.Fprintf(fr.std.Err, "%s: %s: truncated; reading it again from the start\n", tool, fr.path)
		}
	}
}

// rewritten reports whether the bytes just before the offset differ from
// those read there: the file was cut and written again to at least its
// old length between two looks.
func (fr *followReader) rewritten() bool {
	if len(fr.tail) == 0 {
		return false
	}
	b := make([]byte, len(fr.tail))
	n, _ := fr.f.ReadAt(b, fr.off-int64(len(b)))
	return !bytes.Equal(b[:n], fr.tail)
}

func (fr *followReader) Close() error { return fr.f.Close() }
