package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// Page is one tab of a Browser. From its opening to the test's end it
// records what the page does: console errors, uncaught exceptions,
// JavaScript dialogs (each dismissed at once, so the page never hangs on
// one), browser log errors (a Content-Security-Policy violation, a failed
// load) and every request's URL.
type Page struct {
	b    *Browser
	ctx  context.Context
	sink *sink // the proxy of the tab's own browser context

	mu          sync.Mutex
	problems    []string
	requests    []string
	navigations int
}

// Options say how a tab shows its pages.
type Options struct {
	Width, Height int  // the viewport, in CSS pixels
	Mobile        bool // a phone: mobile layout, touch, 2 device pixels a CSS pixel
	NoScript      bool // JavaScript off
	Dark          bool // the system asks for dark: prefers-color-scheme: dark
}

// Desktop and Phone are the sizes the dashboard is checked at.
var (
	Desktop = Options{Width: 1280, Height: 900}
	Phone   = Options{Width: 390, Height: 844, Mobile: true}
)

// Open opens url in a new tab with a viewport of width x height CSS
// pixels; mobile emulates a phone (mobile layout, touch, 2 device pixels
// a CSS pixel). It returns once the page has loaded. The tab closes when
// the test ends.
func (b *Browser) Open(t testing.TB, url string, width, height int, mobile bool) *Page {
	t.Helper()
	return b.OpenWith(t, url, Options{Width: width, Height: height, Mobile: mobile})
}

// OpenWith is Open with all the options.
func (b *Browser) OpenWith(t testing.TB, url string, o Options) *Page {
	t.Helper()
	if o.Width <= 0 || o.Height <= 0 {
		t.Fatalf("browsertest: a viewport of %dx%d", o.Width, o.Height)
	}
	sk, err := startSink()
	if err != nil {
		t.Fatalf("browsertest: the tab's proxy: %v", err)
	}
	t.Cleanup(sk.close)
	p := &Page{b: b, sink: sk}
	// Each tab has a browser context of its own (no cookies or storage
	// shared with another tab) with a proxy of its own: what reaches it
	// came from this tab, not from the browser's own calls home.
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(p.record),
		chromedp.WithNewBrowserContext(func(c *target.CreateBrowserContextParams) {
			c.ProxyServer = "http://" + sk.addr()
		}))
	t.Cleanup(cancel)
	p.ctx = ctx
	// The first Do opens the tab and binds it to ctx: no deadline of its
	// own, the select is the ceiling.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("browsertest: opening a tab: %v", err)
		}
	case <-time.After(Timeout):
		cancel()
		t.Fatalf("browsertest: no tab after %v", Timeout)
	}
	opts := []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
	if o.Mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2))
	} else {
		opts = append(opts, chromedp.EmulateLandscape)
	}
	scheme := "light"
	if o.Dark {
		scheme = "dark"
	}
	p.Run(t, chromedp.EmulateViewport(int64(o.Width), int64(o.Height), opts...),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
			})
			if err != nil || !o.NoScript {
				return err
			}
			_, err = cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}))
	p.Navigate(t, url)
	return p
}

// Context is the tab's chromedp context, for what the helpers do not
// cover: chromedp.Run(p.Context(), ...). Bound a call with
// context.WithTimeout of it.
func (p *Page) Context() context.Context { return p.ctx }

// Run runs chromedp actions in the tab, failing the test on an error or
// after Timeout.
func (p *Page) Run(t testing.TB, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
}

// Navigate loads url in the tab and waits for its load event.
func (p *Page) Navigate(t testing.TB, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("browsertest: loading %s: %v", url, err)
	}
}

// WaitVisible waits up to timeout for an element matching the CSS
// selector to be visible, without reloading the page.
func (p *Page) WaitVisible(t testing.TB, selector string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(selector))); err != nil {
		t.Fatalf("browsertest: %s not visible after %v: %v", selector, timeout, err)
	}
}

// Text returns the visible text of the first element matching the CSS
// selector, waiting up to Timeout for it.
func (p *Page) Text(t testing.TB, selector string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(selector)))
	if err != nil {
		t.Fatalf("browsertest: text of %s: %v", selector, err)
	}
	return s
}

// Click clicks the first visible element matching the CSS selector, as a
// mouse would. For a link, ClickNav also waits for the new page.
func (p *Page) Click(t testing.TB, selector string) {
	t.Helper()
	p.Run(t, chromedp.Click(chromedp.CSS(selector)))
}

// ClickNav clicks the first element matching the CSS selector and waits
// for the page it leads to to load; it fails the test when that page's
// status is not 2xx. It returns the new page's URL.
func (p *Page) ClickNav(t testing.TB, selector string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(selector)))
	if err != nil {
		t.Fatalf("browsertest: clicking %s: %v", selector, err)
	}
	if resp == nil || resp.Status < 200 || resp.Status > 299 {
		status := int64(0)
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("browsertest: clicking %s led to HTTP status %d", selector, status)
	}
	return resp.URL
}

// URL returns the address of the page the tab shows.
func (p *Page) URL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("browsertest: location: %v", err)
	}
	return u
}

// Eval evaluates the JavaScript expression js in the page and decodes its
// value, as JSON, into a T.
func Eval[T any](t testing.TB, p *Page, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("browsertest: evaluating %q: %v", js, err)
	}
	return v
}

// Navigations counts the documents the tab's main frame has loaded since
// Open, the first included: unchanged across a wait means the page was
// not reloaded.
func (p *Page) Navigations() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.navigations
}

// Requests lists the URL of every request the page made, in order.
func (p *Page) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

// Problems lists, in order, what the page did that a clean page does not:
// console errors, uncaught exceptions, JavaScript dialogs, browser log
// errors, and requests to any host but 127.0.0.1 (data: and blob: URLs
// are fine).
func (p *Page) Problems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.problems...)
}

// Escapes lists the requests from this tab that reached its proxy: each
// one it tried to send off the machine, as the first line of its HTTP
// request (CONNECT host:443 for https). Problems has them too, by URL.
func (p *Page) Escapes() []string { return p.sink.list() }

// CheckClean fails the test with the page's Problems, if any, and with
// any request that reached the tab's proxy (one that tried to leave the
// machine).
func (p *Page) CheckClean(t testing.TB) {
	t.Helper()
	// One round trip first: the events the browser sent before its answer
	// are recorded by then.
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	_, _ = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void]("0"))
	cancel()
	probs := p.Problems()
	for _, e := range p.Escapes() {
		probs = append(probs, "request to the proxy: "+e)
	}
	if len(probs) > 0 {
		t.Errorf("browsertest: the page was not clean:\n\t%s", strings.Join(probs, "\n\t"))
	}
}

// Screenshot saves a PNG of the whole page (beyond the viewport) as
// NAME-name.png, NAME the test's name, in ArtifactDir, and returns its
// path.
func (p *Page) Screenshot(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	path := filepath.Join(ArtifactDir(t), fileName(t.Name()+"-"+name)+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	return path
}

// ArtifactDir is where screenshots go: $SRE_ARTIFACT_DIR, made if need
// be, else the test's temporary directory.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(ArtifactEnv)
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("browsertest: %s: %v", ArtifactEnv, err)
	}
	return dir
}

// fileName makes s safe as a file name: letters, digits, '.', '_' and
// '-' stay, anything else becomes '_'.
func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, s)
}

// record is the tab's listener: it runs in the loop that reads the tab's
// messages, in their order, so it only records (and hands a dialog to a
// goroutine to dismiss).
func (p *Page) record(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			p.problem("console.%s: %s%s", ev.Type, argsText(ev.Args), stackPlace(ev.StackTrace))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + firstLine(d.Exception.Description)
		} else if d.Exception != nil && len(d.Exception.Value) > 0 {
			text += " " + string(d.Exception.Value)
		}
		p.problem("exception: %s (%s:%d:%d)", text, d.URL, d.LineNumber+1, d.ColumnNumber+1)
	case *log.EventEntryAdded:
		if e := ev.Entry; e != nil && e.Level == log.EntryLevelError {
			p.problem("log %s error: %s (%s)", e.Source, e.Text, e.URL)
		}
	case *page.EventJavascriptDialogOpening:
		p.problem("dialog %s: %q (%s)", ev.Type, ev.Message, ev.URL)
		// The listener must not send commands; the dialog blocks the page
		// until this answer.
		go func() {
			ctx, cancel := context.WithTimeout(p.ctx, Timeout)
			defer cancel()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}()
	case *network.EventRequestWillBeSent:
		if ev.Request != nil {
			p.request(ev.Request.URL)
		}
	case *network.EventWebSocketCreated:
		p.request(ev.URL)
	case *page.EventFrameNavigated:
		if ev.Frame != nil && ev.Frame.ParentID == "" {
			p.mu.Lock()
			p.navigations++
			p.mu.Unlock()
		}
	}
}

func (p *Page) problem(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	p.mu.Lock()
	p.problems = append(p.problems, s)
	p.mu.Unlock()
}

func (p *Page) request(u string) {
	p.mu.Lock()
	p.requests = append(p.requests, u)
	p.mu.Unlock()
	if Leaves(u) {
		p.problem("request leaves 127.0.0.1: %s", u)
	}
}

// Leaves reports whether a request to u would leave 127.0.0.1: any URL
// but a data:, blob: or about: one, or one whose host is 127.0.0.1.
func Leaves(u string) bool {
	pu, err := url.Parse(u)
	if err != nil {
		return true
	}
	switch pu.Scheme {
	case "data", "blob", "about":
		return false
	case "http", "https", "ws", "wss":
		return pu.Hostname() != "127.0.0.1"
	}
	return true
}

// argsText is the console call's arguments as the console shows them,
// roughly: strings as they are, other values by their JSON or their
// description.
func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case a == nil:
		case a.Type == runtime.RemoteObjectTypeString && len(a.Value) > 0:
			var s string
			if err := json.Unmarshal(a.Value, &s); err != nil {
				s = string(a.Value)
			}
			parts = append(parts, s)
		case a.Description != "":
			parts = append(parts, firstLine(a.Description))
		case len(a.Value) > 0:
			parts = append(parts, string(a.Value))
		case a.UnserializableValue != "":
			parts = append(parts, string(a.UnserializableValue))
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

func stackPlace(st *runtime.StackTrace) string {
	if st == nil || len(st.CallFrames) == 0 {
		return ""
	}
	f := st.CallFrames[0]
	return fmt.Sprintf(" (%s:%d:%d)", f.URL, f.LineNumber+1, f.ColumnNumber+1)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
