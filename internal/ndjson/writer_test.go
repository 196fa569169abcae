package ndjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/event"
)

// recorder keeps every Write call separately, copying its bytes (the Writer
// reuses its buffer), and can fail from a given call on.
type recorder struct {
	calls  []string
	failAt int   // 1-based call that starts failing; 0 never
	err    error // returned from failAt on
}

func (r *recorder) Write(p []byte) (int, error) {
	r.calls = append(r.calls, string(p))
	if r.failAt > 0 && len(r.calls) >= r.failAt {
		return 0, r.err
	}
	return len(p), nil
}

func TestWriterOneWritePerRecord(t *testing.T) {
	type rec struct {
		V    int    `json:"v"`
		Kind string `json:"kind"`
		Msg  string `json:"msg,omitempty"`
	}
	var got recorder
	w := NewWriter(&got)
	for _, v := range []any{
		rec{V: 1, Kind: "notice", Msg: "a\nb"}, // an escaped newline stays inside the line
		map[string]any{"kind": "event", "v": 1},
	} {
		if err := w.Encode(v); err != nil {
			t.Fatalf("Encode(%v): %v", v, err)
		}
	}
	if err := w.WriteLine([]byte(`{"v":1,"kind":"sample", "raw":true}`)); err != nil {
		t.Fatalf("WriteLine: %v", err)
	}
	want := []string{
		`{"v":1,"kind":"notice","msg":"a\nb"}` + "\n",
		`{"kind":"event","v":1}` + "\n",
		`{"v":1,"kind":"sample", "raw":true}` + "\n", // unchanged, spacing kept
	}
	if diff := cmp.Diff(want, got.calls); diff != "" {
		t.Errorf("Write calls (-want +got):\n%s", diff)
	}
}

func TestWriterEncodeError(t *testing.T) {
	var got recorder
	w := NewWriter(&got)
	err := w.Encode(map[string]any{"ch": make(chan int)})
	if err == nil || IsClosed(err) {
		t.Fatalf("Encode(chan) = %v, want a marshal error", err)
	}
	var ute *json.UnsupportedTypeError
	if !errors.As(err, &ute) {
		t.Errorf("Encode error %v does not wrap the json error", err)
	}
	if len(got.calls) != 0 {
		t.Errorf("a failed Encode wrote %q", got.calls)
	}
	// The Writer is still usable.
	if err := w.Encode(map[string]int{"v": 1}); err != nil {
		t.Errorf("Encode after a marshal error: %v", err)
	}
}

func TestWriterErrors(t *testing.T) {
	other := errors.New("no space left on device")
	tests := []struct {
		name string
		err  error
		// closed: the write gives ErrClosed and the Writer stays closed.
		closed bool
	}{
		{"EPIPE", syscall.EPIPE, true},
		{"EPIPE in a PathError", &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}, true},
		{"io.ErrClosedPipe", io.ErrClosedPipe, true},
		{"wrapped ErrClosed", fmt.Errorf("flush: %w", ErrClosed), true},
		{"other error", other, false},
		{"ENOSPC", &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.ENOSPC}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rw := &recorder{failAt: 2, err: tt.err}
			w := NewWriter(rw)
			if err := w.WriteLine([]byte(`{"n":1}`)); err != nil {
				t.Fatalf("first write: %v", err)
			}
			err := w.WriteLine([]byte(`{"n":2}`))
			if got := errors.Is(err, ErrClosed); got != tt.closed {
				t.Fatalf("write error %v: errors.Is(ErrClosed) = %v, want %v", err, got, tt.closed)
			}
			if IsClosed(err) != tt.closed {
				t.Errorf("IsClosed(%v) = %v, want %v", err, !tt.closed, tt.closed)
			}
			if !tt.closed && !errors.Is(err, tt.err) {
				t.Errorf("write error %v does not wrap %v", err, tt.err)
			}
			// Later writes: after any failed write the Writer never
			// writes again (half a line may be out); a closed downstream
			// keeps answering ErrClosed, another error keeps answering
			// that error.
			err3 := w.WriteLine([]byte(`{"n":3}`))
			err4 := w.Encode(map[string]int{"n": 4})
			wantCalls := 2
			if tt.closed {
				if err3 != ErrClosed || err4 != ErrClosed {
					t.Errorf("writes after close = %v, %v; want ErrClosed twice", err3, err4)
				}
			} else if !errors.Is(err3, tt.err) || !errors.Is(err4, tt.err) {
				t.Errorf("writes after a failure = %v, %v; want %v again", err3, err4, tt.err)
			}
			if len(rw.calls) != wantCalls {
				t.Errorf("underlying Write called %d times, want %d: %q", len(rw.calls), wantCalls, rw.calls)
			}
		})
	}
}

func TestIsClosed(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{ErrClosed, true},
		{syscall.EPIPE, true},
		{fmt.Errorf("write stdout: %w", syscall.EPIPE), true},
		{io.ErrClosedPipe, true},
		{syscall.EBADF, false},
		{io.EOF, false},
		{errors.New("broken pipe"), false}, // only the real errno counts
	} {
		if got := IsClosed(tt.err); got != tt.want {
			t.Errorf("IsClosed(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// catchSIGPIPE does what cli.Main does: with SIGPIPE notified, a write to a
// broken pipe returns EPIPE instead of killing the process.
func catchSIGPIPE(t *testing.T) {
	t.Helper()
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGPIPE)
	t.Cleanup(func() { signal.Stop(c) })
}

func TestWriterClosedOSPipe(t *testing.T) {
	catchSIGPIPE(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	if err := pr.Close(); err != nil {
		t.Fatal(err)
	}
	w := NewWriter(pw)
	if err := w.Encode(map[string]int{"v": 1}); err != ErrClosed {
		t.Errorf("Encode to a pipe with no reader = %v, want ErrClosed", err)
	}
	if err := w.Encode(map[string]int{"v": 1}); err != ErrClosed {
		t.Errorf("second Encode = %v, want ErrClosed", err)
	}
}

func TestWriterReaderGoesAway(t *testing.T) {
	// `| head -1`: the reader takes one line and leaves; the writer keeps
	// going until it sees ErrClosed, and the reader never sees half a line.
	catchSIGPIPE(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	first := make(chan string, 1)
	go func() {
		r := NewReader(pr)
		rec, err := r.Next()
		if err != nil {
			first <- "error: " + err.Error()
		} else {
			first <- string(rec.Raw)
		}
		pr.Close()
	}()
	w := NewWriter(pw)
	pad := strings.Repeat("p", 1000)
	var werr error
	for i := 0; i < 1e6 && werr == nil; i++ {
		werr = w.Encode(map[string]any{"v": 1, "kind": "sample", "seq": i, "pad": pad})
	}
	if werr != ErrClosed {
		t.Errorf("writing after the reader left = %v, want ErrClosed", werr)
	}
	want := fmt.Sprintf(`{"kind":"sample","pad":%q,"seq":0,"v":1}`, pad)
	if got := <-first; got != want {
		t.Errorf("reader saw %.80q…, want the first record", got)
	}
}

func TestWriterConcurrentEncode(t *testing.T) {
	// Records bigger than PIPE_BUF go through a real pipe from several
	// goroutines; every line read back must be one whole record, and each
	// goroutine's records must arrive in its order.
	const writers, each = 8, 200
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		V      int    `json:"v"`
		Kind   string `json:"kind"`
		Writer int    `json:"writer"`
		Seq    int    `json:"seq"`
		Pad    string `json:"pad"`
	}
	done := make(chan error, 1)
	var got []rec
	var counts Counts
	go func() {
		defer pr.Close()
		r := NewReader(pr)
		for {
			line, err := r.Next()
			if err == io.EOF {
				counts = r.Counts()
				done <- nil
				return
			}
			if err != nil {
				done <- err
				return
			}
			var x rec
			if err := json.Unmarshal(line.Raw, &x); err != nil {
				done <- fmt.Errorf("line %d: %v", line.Line, err)
				return
			}
			got = append(got, x)
		}
	}()

	w := NewWriter(pw)
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				pad := strings.Repeat(string(rune('a'+g)), (g*997+i*131)%9000)
				if err := w.Encode(rec{V: 1, Kind: "sample", Writer: g, Seq: i, Pad: pad}); err != nil {
					t.Errorf("writer %d Encode %d: %v", g, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if counts.SkippedTotal() != 0 {
		t.Errorf("reader skipped lines: %s", counts)
	}
	if len(got) != writers*each {
		t.Fatalf("read %d records, want %d", len(got), writers*each)
	}
	next := make([]int, writers)
	for _, x := range got {
		if x.Seq != next[x.Writer] {
			t.Fatalf("writer %d: record %d arrived when %d was due", x.Writer, x.Seq, next[x.Writer])
		}
		if want := strings.Repeat(string(rune('a'+x.Writer)), len(x.Pad)); x.Pad != want {
			t.Fatalf("writer %d record %d: pad mixed with another record's", x.Writer, x.Seq)
		}
		next[x.Writer]++
	}
}

func TestWriterDropsHugeBuffer(t *testing.T) {
	var got recorder
	w := NewWriter(&got)
	if err := w.WriteLine([]byte(`{"v":1}`)); err != nil {
		t.Fatal(err)
	}
	if w.buf == nil {
		t.Error("a small record's buffer was not kept for reuse")
	}
	big := `{"pad":"` + strings.Repeat("x", 1<<20) + `"}`
	if err := w.WriteLine([]byte(big)); err != nil {
		t.Fatal(err)
	}
	if w.buf != nil {
		t.Errorf("after a 1 MiB record the Writer still holds %d bytes", cap(w.buf))
	}
	if got.calls[1] != big+"\n" {
		t.Error("the huge record was not written whole")
	}
}

// The record sre-sample writes every tick takes the fast path.
var _ appender = (*event.Sample)(nil)

// fakeAppender writes itself with appendJSON.
type fakeAppender struct {
	appendJSON func(dst []byte) ([]byte, error)
}

func (f *fakeAppender) AppendJSON(dst []byte) ([]byte, error) { return f.appendJSON(dst) }

func TestWriterEncodeAppender(t *testing.T) {
	var got recorder
	w := NewWriter(&got)
	var dsts [][]byte
	rec := &fakeAppender{appendJSON: func(dst []byte) ([]byte, error) {
		dsts = append(dsts, dst)
		return append(dst, `{"v":1,"kind":"sample","msg":"a > b"}`...), nil
	}}
	for range 2 {
		if err := w.Encode(rec); err != nil {
			t.Fatalf("Encode: %v", err)
		}
	}
	want := []string{`{"v":1,"kind":"sample","msg":"a > b"}` + "\n", `{"v":1,"kind":"sample","msg":"a > b"}` + "\n"}
	if diff := cmp.Diff(want, got.calls); diff != "" {
		t.Errorf("Write calls (-want +got):\n%s", diff)
	}
	if len(dsts[0]) != 0 || len(dsts[1]) != 0 || cap(dsts[1]) == 0 {
		t.Errorf("AppendJSON got buffers of len %d, %d and cap %d; want empty ones, the second reused",
			len(dsts[0]), len(dsts[1]), cap(dsts[1]))
	}
}

func TestWriterEncodeAppenderError(t *testing.T) {
	var got recorder
	w := NewWriter(&got)
	bad := errors.New("process.cpu_pct: json: unsupported value: NaN")
	err := w.Encode(&fakeAppender{appendJSON: func(dst []byte) ([]byte, error) {
		return append(dst, `{"v":1,"half":`...), bad
	}})
	if !errors.Is(err, bad) || IsClosed(err) {
		t.Fatalf("Encode = %v, want it to wrap %v", err, bad)
	}
	if len(got.calls) != 0 {
		t.Fatalf("a failed AppendJSON wrote %q", got.calls)
	}
	// The Writer is still usable, and the half record is not in the next line.
	if err := w.Encode(&fakeAppender{appendJSON: func(dst []byte) ([]byte, error) {
		return append(dst, `{"v":1}`...), nil
	}}); err != nil {
		t.Fatalf("Encode after an AppendJSON error: %v", err)
	}
	if diff := cmp.Diff([]string{`{"v":1}` + "\n"}, got.calls); diff != "" {
		t.Errorf("Write calls (-want +got):\n%s", diff)
	}
}

func TestWriterEncodeAppenderAfterFailure(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"closed", syscall.EPIPE},
		{"failed", syscall.ENOSPC},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rw := &recorder{failAt: 1, err: tt.err}
			w := NewWriter(rw)
			rec := &fakeAppender{appendJSON: func(dst []byte) ([]byte, error) { return append(dst, `{"v":1}`...), nil }}
			first := w.Encode(rec)
			if !errors.Is(first, tt.err) && first != ErrClosed {
				t.Fatalf("Encode to a failing writer = %v, want %v or ErrClosed", first, tt.err)
			}
			if err := w.Encode(rec); err != first {
				t.Errorf("second Encode = %v, want %v again", err, first)
			}
			if len(rw.calls) != 1 {
				t.Errorf("underlying Write called %d times after a failure, want 1", len(rw.calls))
			}
		})
	}
}

func TestWriterEncodeAppenderDropsHugeBuffer(t *testing.T) {
	var got recorder
	w := NewWriter(&got)
	big := `{"pad":"` + strings.Repeat("x", 1<<20) + `"}`
	if err := w.Encode(&fakeAppender{appendJSON: func(dst []byte) ([]byte, error) { return append(dst, big...), nil }}); err != nil {
		t.Fatal(err)
	}
	if w.buf != nil {
		t.Errorf("after a 1 MiB record the Writer still holds %d bytes", cap(w.buf))
	}
	if len(got.calls) != 1 || got.calls[0] != big+"\n" {
		t.Error("the huge record was not written whole")
	}
}

func TestWriterEncodeSample(t *testing.T) {
	// The line is the one encoding/json wrote before samples wrote
	// themselves, and costs no allocation once the buffer has grown.
	fds := 37
	s := &event.Sample{
		Header:      event.NewHeader(event.KindSample, "sre-sample", "web1", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		Target:      "nginx",
		Up:          true,
		Matches:     1,
		Process:     &event.Process{PID: 4242, Name: "nginx <worker>", State: "S", FDs: &fds},
		Unavailable: map[string]string{"process.cpu_pct": "first sample", "process.exe": "permission denied"},
	}
	var got recorder
	w := NewWriter(&got)
	if err := w.Encode(s); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{want.String()}, got.calls); diff != "" {
		t.Errorf("Write calls (-encoding/json +Encode):\n%s", diff)
	}

	w = NewWriter(io.Discard)
	allocs := testing.AllocsPerRun(100, func() {
		if err := w.Encode(s); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Encode(sample): %v allocations, want 0", allocs)
	}
}
