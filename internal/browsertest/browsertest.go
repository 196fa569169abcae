// Package browsertest is the tests' way to a real browser: Debian's
// headless Chromium, driven over the DevTools protocol with chromedp. A
// test opens a page of a server it started on 127.0.0.1, waits for what
// the page shows, clicks, takes screenshots, and at the end checks that
// the page did nothing it should not: no console error, no uncaught
// exception, no JavaScript dialog (a dialog means injected script ran),
// no request to any host but 127.0.0.1.
//
// Nothing the browser loads can leave the machine: every host name but
// 127.0.0.1 is unresolvable, and every request that is not to loopback
// goes to a proxy inside the test process that records it and hangs up
// (each tab has its own, so its requests are told from the browser's own
// calls home). The page still reports such a request, and CheckClean
// fails on it.
//
// A test that needs Chromium and finds none skips, saying how to install
// it; under CI (CI=true) it fails instead.
//
// A test of a page:
//
//	b := browsertest.Start(t)
//	p := b.OpenWith(t, "http://"+addr+"/", browsertest.Desktop)
//	p.WaitVisible(t, "#incidents li", 30*time.Second) // no reload: p.Navigations() stays 1
//	p.ClickNav(t, "#incidents li a")
//	if got := p.Text(t, "h1"); !strings.Contains(got, "crash") { t.Errorf(...) }
//	if err := browsertest.CheckRegionsFile(p.Screenshot(t, "desktop")); err != nil { t.Error(err) }
//	p.CheckClean(t)
package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Timeout is the ceiling of one browser step (start, navigation, query,
// click): generous, for a loaded 2-core machine. A step that takes longer
// fails the test.
const Timeout = 30 * time.Second

// ArtifactEnv names the directory where screenshots are kept; when it is
// unset they go to the test's temporary directory.
const ArtifactEnv = "SRE_ARTIFACT_DIR"

// ExecEnv, when set, is the Chromium binary to run instead of the first of
// chromium or chromium-browser on PATH.
const ExecEnv = "SRE_CHROMIUM"

// NeedChromium skips the test, saying why and how to get Chromium; under
// CI it fails instead.
func NeedChromium(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + "; install it with: apt-get install --no-install-recommends chromium"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// ExecPath returns the Chromium binary the tests run: $SRE_CHROMIUM;
// else Debian's binary itself, /usr/lib/chromium/chromium, rather than
// its launcher /usr/bin/chromium, which sources /etc/chromium.d (Google
// API keys that wake the browser's calls home, extension flags); else
// chromium or chromium-browser on PATH.
func ExecPath() (string, error) {
	if p := os.Getenv(ExecEnv); p != "" {
		return exec.LookPath(p)
	}
	var firstErr error
	for _, name := range []string{"/usr/lib/chromium/chromium", "chromium", "chromium-browser"} {
		p, err := exec.LookPath(name)
		if err == nil {
			return p, nil
		}
		if firstErr == nil || !strings.HasPrefix(name, "/") {
			firstErr = err
		}
	}
	return "", firstErr
}

// Browser is one headless Chromium for a test; each Open is a tab of it.
// The test's cleanup kills it.
type Browser struct {
	ctx context.Context // the browser's own chromedp context

	// Started is how long the start took: process, connection, first tab.
	Started time.Duration

	sink *sink
}

// Start launches headless Chromium for t, or NeedChromium. It runs as
// root (without Chromium's sandbox, which refuses root) and as an
// ordinary user (with the sandbox when the kernel allows unprivileged
// user namespaces); its profile, HOME and caches are temporary
// directories of the test.
func Start(t testing.TB) *Browser {
	t.Helper()
	path, err := ExecPath()
	if err != nil {
		NeedChromium(t, "no Chromium: %v", err)
	}
	begin := time.Now()
	sk, err := startSink()
	if err != nil {
		t.Fatalf("browsertest: the proxy that keeps requests on the machine: %v", err)
	}
	t.Cleanup(sk.close)

	// HOME and TMPDIR of the browser, short (its singleton socket lives
	// there, and a socket's path has at most 107 bytes), removed after
	// it is dead (cleanups run last first).
	home, err := os.MkdirTemp("", "browsertest")
	if err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(home) })
	out := &tailBuffer{max: 16 << 10}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.DisableGPU,
		// Every request that is not to loopback goes to the sink, which
		// records it and hangs up: nothing leaves, IP literals included.
		// Chromium sends loopback direct without being told.
		chromedp.ProxyServer("http://"+sk.addr()),
		// And no name but 127.0.0.1 resolves, for whatever skips the proxy.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("force-webrtc-ip-handling-policy", "disable_non_proxied_udp"),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-component-extensions-with-background-pages", true),
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,NetworkTimeServiceQuerying,"+
			"OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,"+
			"CertificateTransparencyComponentUpdater,LensOverlay"),
		chromedp.Flag("disable-field-trial-config", true),
		chromedp.Flag("no-service-autorun", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.Env("HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
			"XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "TMPDIR="+home, "TZ=UTC"),
		chromedp.CombinedOutput(out),
	)
	if os.Getuid() != 0 && !sandboxWorks() {
		// Chromium's sandbox needs unprivileged user namespaces; a
		// container often denies them. The pages are the test's own.
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		allocCancel() // waits for the process and its profile's removal
	})
	// The first Do starts the browser and binds it to ctx, so it gets no
	// deadline of its own; the select is the ceiling.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err = <-done:
	case <-time.After(Timeout):
		cancel()
		err = fmt.Errorf("no answer after %v", Timeout)
	}
	if err != nil {
		t.Fatalf("browsertest: starting %s: %v\nits output ends:\n%s", path, err, out.String())
	}
	b := &Browser{ctx: ctx, Started: time.Since(begin), sink: sk}
	t.Logf("browsertest: %s started in %v", path, b.Started.Round(time.Millisecond))
	return b
}

// Escapes lists the requests that reached the browser's own proxy, as
// the first line of their HTTP request: Chromium's own calls home (its
// component updater, account and network-time checks), kept on the
// machine. A tab's requests go to the tab's proxy; see Page.Escapes.
func (b *Browser) Escapes() []string { return b.sink.list() }

// sandboxWorks reports whether the kernel lets an ordinary user make the
// user namespace that Chromium's sandbox needs.
func sandboxWorks() bool {
	for _, f := range []struct{ path, deny string }{
		{"/proc/sys/kernel/unprivileged_userns_clone", "0"},
		{"/proc/sys/user/max_user_namespaces", "0"},
		{"/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1"},
	} {
		if b, err := os.ReadFile(f.path); err == nil && strings.TrimSpace(string(b)) == f.deny {
			return false
		}
	}
	return true
}

// sink is the browser's proxy: it records the first line of every request
// and closes the connection, so the request fails at once.
type sink struct {
	ln   net.Listener
	mu   sync.Mutex
	seen []string
	wg   sync.WaitGroup
}

func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{ln: ln}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() { s.serve(c) })
		}
	})
	return s, nil
}

func (s *sink) serve(c net.Conn) {
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if line = strings.TrimSpace(line); line == "" && err != nil {
		return
	}
	s.mu.Lock()
	s.seen = append(s.seen, line)
	s.mu.Unlock()
}

func (s *sink) addr() string { return s.ln.Addr().String() }

func (s *sink) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func (s *sink) close() {
	_ = s.ln.Close()
	s.wg.Wait()
}

// tailBuffer keeps the last max bytes written to it: Chromium's output,
// shown when it fails to start.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = bytes.Clone(b.buf[over:])
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
