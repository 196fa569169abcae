package dashboard_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/localsre/sre-agent/internal/dashboard"
)

// ceiling is the longest a test waits for what it expects: generous for a
// loaded 2-core machine; each wait ends as soon as the event happens.
const ceiling = 15 * time.Second

// serving is a Serve running on a real loopback listener.
type serving struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
}

func startServe(t *testing.T, h http.Handler, c dashboard.ServeConfig) *serving {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- dashboard.Serve(ctx, ln, h, c) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(ceiling):
			t.Error("Serve did not return after its context was cancelled")
		}
	})
	return s
}

// stop cancels Serve's context and returns how long Serve took to return.
func (s *serving) stop(t *testing.T) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return time.Since(start), err
	case <-time.After(ceiling):
		t.Fatalf("Serve did not return within %v of its context's end", ceiling)
		return 0, nil
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ceiling)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var okPage = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page") })

// A client that sends its headers a few bytes at a time, never ending
// them, is cut off once ReadHeaderTimeout has passed, and not before.
func TestServeSlowHeaders(t *testing.T) {
	const timeout = 300 * time.Millisecond
	var reached atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Store(true) })
	s := startServe(t, h, dashboard.ServeConfig{ReadHeaderTimeout: timeout})

	start := time.Now()
	c := dial(t, s.addr)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"); err != nil {
			return
		}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			// One header, a byte at a time: never the blank line.
			if _, err := fmt.Fprintf(c, "%c", "X-Drip: 1\r\n"[i%11]); err != nil {
				return // cut off
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(ceiling))
	got, err := io.ReadAll(c)
	elapsed := time.Since(start)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection is still open after %v", ceiling)
	}
	if elapsed < timeout-20*time.Millisecond {
		t.Errorf("cut off after %v, before ReadHeaderTimeout %v", elapsed, timeout)
	}
	if strings.Contains(string(got), "200") || reached.Load() {
		t.Errorf("the slow request was answered: %q", got)
	}
	t.Logf("cut off after %v (%q, %v)", elapsed, got, err)

	// A client that sends its request at once is answered.
	resp, err := http.Get("http://" + s.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !reached.Load() {
		t.Errorf("a prompt request: status %d, reached %v", resp.StatusCode, reached.Load())
	}
}

// rawRequest sends req on a new connection (from a goroutine: the server
// may answer before it has read it all) and returns the answer's status.
func rawRequest(t *testing.T, addr, req string) int {
	t.Helper()
	c := dial(t, addr)
	go io.WriteString(c, req)
	c.SetReadDeadline(time.Now().Add(ceiling))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestServeHeaderSize(t *testing.T) {
	var reached atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) })
	s := startServe(t, h, dashboard.ServeConfig{})
	head := "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	if code := rawRequest(t, s.addr, head+"X-Big: "+strings.Repeat("a", 64<<10)+"\r\n\r\n"); code != 431 {
		t.Errorf("a 64 KiB header: status %d, want 431", code)
	}
	if reached.Load() != 0 {
		t.Error("a request with a 64 KiB header reached the handler")
	}
	// Under the limit: answered, so the limit is where it is said to be.
	if code := rawRequest(t, s.addr, head+"X-Big: "+strings.Repeat("a", 12<<10)+"\r\n\r\n"); code != 200 {
		t.Errorf("a 12 KiB header: status %d, want 200", code)
	}
	if reached.Load() != 1 {
		t.Errorf("handler reached %d times, want 1", reached.Load())
	}
}

// "OPTIONS *" reaches the handler (and the guard refuses it), instead of
// net/http's built-in 200.
func TestServeOptionsStar(t *testing.T) {
	s := startServe(t, dashboard.Guard(dashboard.GuardConfig{}, okPage), dashboard.ServeConfig{})
	if code := rawRequest(t, s.addr, "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); code != 405 {
		t.Errorf("OPTIONS *: status %d, want 405", code)
	}
}

// streamHandler sends an event, then waits for its request's end.
type streamHandler struct {
	sent, ended chan struct{}
}

func (h streamHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	io.WriteString(w, "data: hello\n\n")
	http.NewResponseController(w).Flush()
	close(h.sent)
	<-r.Context().Done()
	close(h.ended)
}

// On its context's end, Serve ends an open stream and returns, well
// before the shutdown deadline would close the connection.
func TestServeShutdownEndsStream(t *testing.T) {
	h := streamHandler{sent: make(chan struct{}), ended: make(chan struct{})}
	// A shutdown deadline beyond the ceiling: only the stream's own end
	// lets Serve return in time.
	s := startServe(t, h, dashboard.ServeConfig{ShutdownTimeout: 2 * ceiling})
	resp, err := http.Get("http://" + s.addr + "/live")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "data: hello\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	bodyDone := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); bodyDone <- err }()

	took, err := s.stop(t)
	if err != nil {
		t.Errorf("Serve: %v, want nil after a shutdown", err)
	}
	select {
	case <-h.ended:
	default:
		t.Error("Serve returned before the stream's handler did")
	}
	select {
	case <-bodyDone:
	case <-time.After(ceiling):
		t.Fatal("the client's stream is still open after the shutdown")
	}
	t.Logf("Serve returned %v after its context's end", took)
	if _, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
		t.Error("still accepting connections after the shutdown")
	}
}

// A stream that moves its write deadline forward before each write lives
// past WriteTimeout (and past ReadTimeout, which must not cancel it); one
// that does not is cut off at WriteTimeout.
func TestServeStreamWriteDeadline(t *testing.T) {
	const timeout = 300 * time.Millisecond
	const events = 12 // every 100 ms: four times the timeout
	cutAfter := make(chan time.Duration, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/moving", func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := range events {
			// Well past the next write: a loaded machine may stall.
			rc.SetWriteDeadline(time.Now().Add(5 * timeout))
			fmt.Fprintf(w, "data: %d\n\n", i)
			if err := rc.Flush(); err != nil {
				t.Errorf("event %d: %v", i, err)
				return
			}
			select {
			case <-tick.C:
			case <-r.Context().Done():
				t.Errorf("request cancelled after event %d: %v", i, r.Context().Err())
				return
			}
		}
	})
	mux.HandleFunc("/fixed", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rc := http.NewResponseController(w)
		for deadline := time.Now().Add(ceiling); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			io.WriteString(w, "data: x\n\n")
			if rc.Flush() != nil {
				cutAfter <- time.Since(start)
				return
			}
		}
		cutAfter <- -1
	})
	s := startServe(t, mux, dashboard.ServeConfig{WriteTimeout: timeout, ReadTimeout: timeout, ReadHeaderTimeout: timeout})

	resp, err := http.Get("http://" + s.addr + "/moving")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || strings.Count(string(body), "data: ") != events {
		t.Errorf("moving deadline: %d events, %v; want %d", strings.Count(string(body), "data: "), err, events)
	}

	resp, err = http.Get("http://" + s.addr + "/fixed")
	if err != nil {
		t.Fatal(err)
	}
	go func() { io.Copy(io.Discard, resp.Body); resp.Body.Close() }()
	select {
	case d := <-cutAfter:
		if d < 0 {
			t.Fatalf("fixed deadline: still writing after %v", ceiling)
		}
		if d < timeout-20*time.Millisecond {
			t.Errorf("fixed deadline: cut off after %v, before WriteTimeout %v", d, timeout)
		}
	case <-time.After(2 * ceiling):
		t.Fatal("fixed deadline: the handler never ended")
	}
}

// A listener that cannot accept is an error, not a clean stop.
func TestServeListenerClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	err = dashboard.Serve(context.Background(), ln, okPage, dashboard.ServeConfig{})
	if err == nil || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve on a closed listener: %v, want net.ErrClosed", err)
	}
}
