package ndjson

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

func TestDirectWriterKinds(t *testing.T) {
	_, pw := pipe(t)
	reg, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	// A Unix socket, as systemd gives a service for its journal.
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	sock := os.NewFile(uintptr(fds[0]), "socket")
	defer sock.Close()
	defer unix.Close(fds[1])
	var buf bytes.Buffer
	for _, tc := range []struct {
		name   string
		w      io.Writer
		direct bool
	}{
		{"pipe", pw, true},
		{"regular file", reg, true},
		{"/dev/null", null, true},
		{"socket", sock, false},
		{"not a file", &buf, false},
	} {
		_, direct := DirectWriter(tc.w).(*directWriter)
		if direct != tc.direct {
			t.Errorf("%s: direct = %v, want %v", tc.name, direct, tc.direct)
		}
	}
}

// Every line arrives whole and in order through a pipe, whether it takes
// the raw write (short lines while the pipe has room) or the file's own
// Write (long lines, and short ones once the pipe is full and the writer
// must wait for the reader).
//
// Both ways of asking the pipe for room: RWF_NOWAIT, and poll first (for
// kernels that refuse RWF_NOWAIT on pipes).
func TestDirectWriterPipe(t *testing.T) {
	for _, pollFirst := range []bool{false, true} {
		t.Run(map[bool]string{false: "nowait", true: "poll"}[pollFirst], func(t *testing.T) {
			testDirectWriterPipe(t, pollFirst)
		})
	}
}

func directPipe(t *testing.T, pw *os.File, pollFirst bool) io.Writer {
	t.Helper()
	d, ok := DirectWriter(pw).(*directWriter)
	if !ok {
		t.Fatal("no direct writer for a pipe")
	}
	d.pollFirst = pollFirst
	return d
}

func testDirectWriterPipe(t *testing.T, pollFirst bool) {
	pr, pw := pipe(t)
	w := NewWriter(directPipe(t, pw, pollFirst))
	var want bytes.Buffer
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(pr)
		got <- b
	}()
	long := strings.Repeat("x", 3*pipeBuf)
	// ~1 MiB: far more than a pipe holds, so the pipe fills while the
	// reader is slower than the writer.
	for i := range 4000 {
		line := `{"v":1,"kind":"sample","n":` + strings.Repeat("7", i%300) + `}`
		if i%500 == 0 {
			line = `{"v":1,"kind":"sample","pad":"` + long + `"}`
		}
		if err := w.WriteLine([]byte(line)); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		want.WriteString(line + "\n")
	}
	pw.Close()
	if b := <-got; !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("read %d bytes, want %d; they differ", len(b), want.Len())
	}
}

// A pipe whose reader has gone ends the stream quietly (ErrClosed), on the
// raw path and on the file's own.
func TestDirectWriterClosedPipe(t *testing.T) {
	// As cli.Main does: SIGPIPE caught, so the write returns EPIPE.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	defer signal.Reset(syscall.SIGPIPE)
	for i, line := range []string{`{"v":1}`, `{"v":1}`, `{"v":1,"pad":"` + strings.Repeat("y", 2*pipeBuf) + `"}`} {
		pr, pw := pipe(t)
		pr.Close()
		w := NewWriter(directPipe(t, pw, i == 1))
		if err := w.WriteLine([]byte(line)); !errors.Is(err, ErrClosed) {
			t.Errorf("%d-byte line to a closed pipe: err = %v, want ErrClosed", len(line), err)
		}
	}
}

func TestDirectWriterFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWriter(DirectWriter(f))
	for _, l := range []string{`{"a":1}`, `{"b":"` + strings.Repeat("z", 10*pipeBuf) + `"}`, `{"c":3}`} {
		if err := w.WriteLine([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"); len(lines) != 3 || lines[2] != `{"c":3}` {
		t.Fatalf("file holds %d lines: %.80q…", len(lines), b)
	}
}

// A write error other than a closed pipe is the file's, named as such.
func TestDirectWriterFullDisk(t *testing.T) {
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer f.Close()
	// /dev/full is a character device other than /dev/null: not direct.
	if _, ok := DirectWriter(f).(*directWriter); ok {
		t.Fatal("/dev/full taken as /dev/null")
	}
	d := &directWriter{f: f, fd: f.Fd()} // the raw path, as for a full disk
	if _, err := d.Write([]byte("x\n")); !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "/dev/full") {
		t.Fatalf("err = %v, want ENOSPC naming /dev/full", err)
	}
}

// When the pipe is full the raw write is not tried: the line waits in the
// file's own Write for the reader, and nothing is lost or reordered.
func TestDirectWriterFullPipe(t *testing.T) {
	pr, pw := pipe(t)
	d := DirectWriter(pw).(*directWriter)
	w := NewWriter(d)
	line := []byte(`{"v":1,"kind":"sample","pad":"` + strings.Repeat("p", 900) + `"}`)
	n := 0
	for d.roomy() {
		if err := w.WriteLine(line); err != nil {
			t.Fatal(err)
		}
		n++
		if n > 1<<16 {
			t.Fatal("the pipe never fills")
		}
	}
	done := make(chan error)
	go func() { done <- w.WriteLine([]byte(`{"v":1,"last":true}`)) }()
	got, err := io.ReadAll(io.LimitReader(pr, int64(n*(len(line)+1))))
	if err != nil {
		t.Fatal(err)
	}
	if want := bytes.Repeat(append(line, '\n'), n); !bytes.Equal(got, want) {
		t.Fatalf("the %d lines written before the pipe filled came back changed", n)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	pw.Close()
	rest, _ := io.ReadAll(pr)
	if string(rest) != "{\"v\":1,\"last\":true}\n" {
		t.Fatalf("after the full pipe: %q", rest)
	}
}
