package dashboard

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/report"
	"github.com/localsre/sre-agent/internal/score"
)

// fixture is a report directory written the way sre-report writes one:
// reports through report.Dir (so the chain and the archive's
// report_written notices are real), everything else appended to the
// archive as lines.
type fixture struct {
	t   *testing.T
	dir string
	rd  *report.Dir
	now time.Time
	n   int
	d   *Dashboard
	err bytes.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), now: time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)}
	rd, err := report.Open(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	f.rd = rd
	f.d, err = New(Options{Dir: f.dir, Now: func() time.Time { return f.now }, Err: &f.err})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) append(v any) {
	f.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.rd.AppendArchive(b, false); err != nil {
		f.t.Fatal(err)
	}
}

// ev appends an event of target at ts; with a report when report is set.
func (f *fixture) ev(ts time.Time, target, typ, sev, msg string, detail map[string]any, withReport bool) *event.Event {
	f.t.Helper()
	f.n++
	e := &event.Event{Header: event.NewHeader(event.KindEvent, "sre-detect", "box", ts),
		ID: fmt.Sprintf("e%04d-%s", f.n, typ), Type: typ, Severity: sev, Target: target, Msg: msg, Detail: detail}
	if !withReport {
		f.append(e)
		return e
	}
	id := shortOf(e.ID)
	r := &report.Report{Event: e, ShortID: id, Name: report.FileName(ts, target, typ, id), WrittenAt: ts}
	_, _, _, err := f.rd.Write(r, func(path, sum string) [][]byte {
		e.Report = path
		b, _ := json.Marshal(e)
		n := event.Notice{Header: event.NewHeader(event.KindNotice, "sre-report", "box", ts), Code: report.NoticeReportWritten,
			Msg: "report written", Detail: map[string]any{"name": filepath.Base(path), "path": path, "sha256": sum, "event_id": e.ID}}
		nb, _ := json.Marshal(&n)
		return [][]byte{b, nb}
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

func (f *fixture) get(path string) (int, string) {
	f.t.Helper()
	rec := httptest.NewRecorder()
	f.d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func (f *fixture) page(path string) string {
	f.t.Helper()
	code, body := f.get(path)
	if code != http.StatusOK {
		f.t.Fatalf("GET %s: %d\n%s", path, code, body)
	}
	return body
}

var downRE = regexp.MustCompile(`<rect class="down" x="[^"]*" y="0" width="[^"]*" height="24" data-from="([^"]*)" data-to="([^"]*)">`)

// TestOverview: a crash and its recovery draw one down interval from the
// crash to the recovery, marked with a link to the crash; the figures are
// those sre-score computes from the same archive.
func TestOverview(t *testing.T) {
	f := newFixture(t)
	crashAt := f.now.Add(-time.Hour)
	f.ev(f.now.Add(-2*time.Hour), "api", event.TypeStarted, event.SevInfo, "api is up.", nil, false)
	f.ev(f.now.Add(-3*time.Hour), "db", event.TypeStarted, event.SevInfo, "db is up.", nil, false)
	crash := f.ev(crashAt, "api", event.TypeCrash, event.SevCritical, "api was killed by SIGKILL.", nil, true)
	f.ev(crashAt.Add(90*time.Second), "api", event.TypeRecovered, event.SevInfo, "api is back.",
		map[string]any{"crash_id": crash.ID, "down_since": crashAt.Format(time.RFC3339Nano), "downtime_s": 90.0}, false)
	f.d.Refresh()

	body := f.page("/")
	downs := downRE.FindAllStringSubmatch(body, -1)
	if len(downs) != 1 || downs[0][1] != crashAt.Format(time.RFC3339Nano) || downs[0][2] != crashAt.Add(90*time.Second).Format(time.RFC3339Nano) {
		t.Errorf("down intervals %q; want one from the crash for 90 s", downs)
	}
	if !strings.Contains(body, `href="/incident?id=`+url.QueryEscape(crash.ID)+`" class="mark crit"`) {
		t.Errorf("no mark linking to the crash in\n%s", body)
	}
	// The same figures as sre-score over the same archive.
	agg := score.New(Windows, time.Time{})
	af, err := os.Open(filepath.Join(f.dir, report.ArchiveName))
	if err != nil {
		t.Fatal(err)
	}
	defer af.Close()
	if _, err := score.ReadArchive(context.Background(), af, agg, nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range agg.Snapshot(f.now).Results {
		if r.Target == "api" && r.Window == "24h" {
			want := fmt.Sprintf("availability <b>%s %%</b>", strconv.FormatFloat(r.Availability*100, 'f', 3, 64))
			if !strings.Contains(body, want) || !strings.Contains(body, "score <b>"+strconv.FormatFloat(r.Score, 'f', 1, 64)+"</b>") {
				t.Errorf("overview lacks sre-score's figures %q, score %.1f", want, r.Score)
			}
		}
	}
	for _, name := range []string{`data-target="api"`, `data-target="db"`} {
		if !strings.Contains(body, name) {
			t.Errorf("overview lacks %s", name)
		}
	}
	// An open crash is down until now, and says so; two that overlap are
	// one stretch of down time.
	f.ev(f.now.Add(-2*time.Minute), "db", event.TypeCrash, event.SevCritical, "db exited 1.", nil, false)
	f.ev(f.now.Add(-time.Minute), "db", event.TypeCrash, event.SevCritical, "db exited 1 again.", nil, false)
	f.d.Refresh()
	body = f.page("/?w=1h")
	if !strings.Contains(body, `class="target status-down" data-target="db"`) || !strings.Contains(body, "down now") {
		t.Errorf("db's open crash is not shown down now")
	}
	db := body[strings.Index(body, `data-target="db"`):]
	if downs := downRE.FindAllStringSubmatch(db, -1); len(downs) != 1 || downs[0][1] != f.now.Add(-2*time.Minute).Format(time.RFC3339Nano) {
		t.Errorf("db's two open crashes: %q; want one stretch from the first", downs)
	}
}

// TestIncidentPage: the report in full, its chain status, the heal actions
// for it, its recovery; and an altered report is named as altered.
func TestIncidentPage(t *testing.T) {
	f := newFixture(t)
	crashAt := f.now.Add(-10 * time.Minute)
	crash := f.ev(crashAt, "api", event.TypeCrash, event.SevCritical, "api was killed by SIGKILL.", nil, true)
	f.append(&event.Action{Header: event.NewHeader(event.KindAction, "sre-heal", "box", crashAt.Add(time.Second)),
		Rule: "restart-api", Action: "restart", EventID: crash.ID, Target: "api", Attempt: 1, MaxAttempts: 3,
		Argv: []string{"systemctl", "restart", "api"}, Result: event.ResultOK})
	f.append(&event.Action{Header: event.NewHeader(event.KindAction, "sre-heal", "box", crashAt.Add(time.Second)),
		Rule: "other", Action: "restart", EventID: "not-this-one", Result: event.ResultOK})
	f.ev(crashAt.Add(5*time.Second), "api", event.TypeRecovered, event.SevInfo, "api is back after 5s.",
		map[string]any{"crash_id": crash.ID, "downtime_s": 5.0}, false)
	f.d.Refresh()

	body := f.page("/incident?id=" + url.QueryEscape(crash.ID))
	for _, want := range []string{
		"SRE INCIDENT REPORT", "Event-ID:        " + crash.ID, // the report itself
		`class="chain-ok">verified: 1 reports`,
		"<td>restart-api</td>", "systemctl restart api", // its action
		"api is back after 5s.", // its recovery
	} {
		if !strings.Contains(body, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	if strings.Contains(body, "<td>other</td>") {
		t.Errorf("incident page shows another event's action")
	}
	name := report.FileName(crashAt, "api", event.TypeCrash, shortOf(crash.ID))
	if code, text := f.get("/report?name=" + name); code != 200 || !strings.HasPrefix(text, "SRE INCIDENT REPORT") {
		t.Errorf("/report: %d %.40q", code, text)
	}

	// Alter the report: the page says so.
	p := filepath.Join(f.dir, name)
	os.Chmod(p, 0o644)
	fh, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.WriteString("an added line\n")
	fh.Close()
	f.ev(f.now, "api", "memory_high", event.SevWarning, "more", nil, false) // the archive moves: verify again
	f.d.Refresh()
	if body := f.page("/incident?id=" + url.QueryEscape(crash.ID)); !strings.Contains(body, `class="chain-bad">altered: `+name) {
		t.Errorf("an altered report is not named as altered:\n%s", body[strings.Index(body, "Chain"):][:300])
	}

	for _, path := range []string{"/incident?id=nope", "/incident", "/target?name=nope", "/nope"} {
		if code, _ := f.get(path); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
	}
}

// TestIncidentList: filters, paging, and a bad filter named.
func TestIncidentList(t *testing.T) {
	f := newFixture(t)
	base := f.now.Add(-5 * time.Hour)
	for i := range 120 {
		target, typ, sev := "api", event.TypeCrash, event.SevCritical
		if i%2 == 1 {
			target, typ, sev = "db", "memory_high", event.SevWarning
		}
		if i%10 == 0 {
			typ, sev = event.TypeStarted, event.SevInfo
		}
		msg := fmt.Sprintf("event number %d of %s", i, target)
		switch i {
		case 77:
			msg = "the needle is here"
		case 78:
			msg = `it said "quoted" at the Café`
		}
		f.ev(base.Add(time.Duration(i)*time.Minute), target, typ, sev, msg, nil, false)
	}
	f.d.Refresh()
	rows := func(body string) []string {
		return regexp.MustCompile(`<tr data-id="([^"]*)"`).FindAllString(body, -1)
	}
	all := f.page("/incidents?severity=all")
	if n := len(rows(all)); n != pageSize || !strings.Contains(all, "120 matching") || !strings.Contains(all, `rel="next"`) {
		t.Errorf("first page: %d rows; want %d of 120 with a next link", n, pageSize)
	}
	if !strings.Contains(all, "event number 119 of db") || strings.Contains(all, "event number 69 of db") {
		t.Errorf("first page is not the newest 50")
	}
	last := f.page("/incidents?severity=all&page=3")
	if n := len(rows(last)); n != 20 || strings.Contains(last, `rel="next"`) || !strings.Contains(last, `rel="prev"`) {
		t.Errorf("third page: %d rows; want 20, a prev link and no next", n)
	}
	if n := len(rows(f.page("/incidents"))); n != 50 { // default: warning and above (108 of 120)
		t.Errorf("default list: %d rows", n)
	}
	crit := f.page("/incidents?severity=critical&target=api")
	if !strings.Contains(crit, "48 matching") || strings.Contains(crit, "of db") {
		t.Errorf("critical of api: want 48 matching and no db\n%s", crit[:min(len(crit), 400)])
	}
	typ := f.page("/incidents?severity=all&type=started")
	if !strings.Contains(typ, "12 matching") {
		t.Errorf("type filter: want 12 started")
	}
	from := base.Add(100 * time.Minute).Format("2006-01-02T15:04")
	if b := f.page("/incidents?severity=all&from=" + from); !strings.Contains(b, "20 matching") {
		t.Errorf("from %s: want the 20 last", from)
	}
	to := base.Add(9*time.Minute + 30*time.Second).Format(time.RFC3339)
	if b := f.page("/incidents?severity=all&to=" + url.QueryEscape(to)); !strings.Contains(b, "10 matching") {
		t.Errorf("to %s: want the 10 first", to)
	}
	if b := f.page("/incidents?severity=all&q=NEEDLE"); !strings.Contains(b, "1 matching") || !strings.Contains(b, "the needle is here") {
		t.Errorf("text filter: want the one needle")
	}
	for _, q := range []string{`"quoted"`, "CAFÉ", "e0079-"} { // escaped in JSON, not ASCII, an id
		if b := f.page("/incidents?severity=all&q=" + url.QueryEscape(q)); !strings.Contains(b, "1 matching") {
			t.Errorf("text filter %s: want one match", q)
		}
	}
	for q, want := range map[string]string{
		"severity=loud":                        `severity &#34;loud&#34;`,
		"page=0":                               `page &#34;0&#34;`,
		"from=yesterday":                       `from: &#34;yesterday&#34;`,
		"q=" + strings.Repeat("x", maxQuery+1): "text: longer than 200",
	} {
		code, body := f.get("/incidents?" + q)
		if code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("/incidents?%.30s: %d, want 400 saying %q", q, code, want)
		}
	}
}

// TestHostileNames: names, messages and report text from the archive are
// shown as text, never as markup; control characters show as symbols.
func TestHostileNames(t *testing.T) {
	f := newFixture(t)
	hostile := []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(2)>`, "javascript:alert(3)",
		"red\x1b[31mALERT\x1b[0m", "bad\xffutf8", "line\r\nbreak"}
	var ids []string
	for i, h := range hostile {
		e := f.ev(f.now.Add(-time.Duration(i+1)*time.Minute), h, event.TypeCrash, event.SevCritical, "msg "+h, map[string]any{"note": h}, true)
		ids = append(ids, e.ID)
	}
	f.d.Refresh()
	// A line as another writer may leave it: not valid UTF-8.
	f.rd.AppendArchive([]byte("{\"v\":1,\"kind\":\"event\",\"ts\":\"2026-12-07T02:00:00Z\",\"tool\":\"x\",\"host\":\"h\",\"id\":\"raw\",\"type\":\"crash\",\"severity\":\"critical\",\"target\":\"<script>alert(1)</script>\",\"msg\":\"raw \\u001b[1m \xff\xfe end\"}"), false)
	f.d.Refresh()
	pages := []string{"/", "/incidents?severity=all", "/incidents?severity=all&q=" + url.QueryEscape("<script>"),
		"/target?name=" + url.QueryEscape(hostile[0]), "/incident?id=raw"}
	for _, id := range ids {
		pages = append(pages, "/incident?id="+url.QueryEscape(id))
	}
	for _, p := range pages {
		body := f.page(p)
		for _, bad := range []string{"<script>alert", "<img src=x", `href="javascript:`, "\x1b", "\xff", "onerror=alert(2)>"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: %q appears unescaped", p, bad)
			}
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") && !strings.Contains(p, "incident?id=e") {
			t.Errorf("%s: the script name is not shown as text", p)
		}
	}
	if body := f.page("/incident?id=raw"); !strings.Contains(body, "raw ␛[1m \uFFFD\uFFFD end") {
		t.Errorf("a raw line's escape and invalid bytes are not shown as symbols")
	}
	if body := f.page("/"); !strings.Contains(body, "red␛[31mALERT␛[0m") || !strings.Contains(body, "bad\uFFFDutf8") {
		t.Errorf("control characters and invalid UTF-8 are not shown as symbols")
	}
}

// TestReportsStayInside: a report is read from the directory only, by its
// name; a path, a link leading out or a name that is no report's is 404.
func TestReportsStayInside(t *testing.T) {
	f := newFixture(t)
	outside := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(outside, []byte("SECRET"), 0o644)
	link := "20261207T000000Z_x_crash_00000000.txt"
	if err := os.Symlink(outside, filepath.Join(f.dir, link)); err != nil {
		t.Fatal(err)
	}
	e := f.ev(f.now.Add(-time.Minute), "api", event.TypeCrash, event.SevCritical, "m", nil, false)
	_ = e
	f.append(map[string]any{"v": 1, "kind": "event", "ts": f.now.Format(time.RFC3339Nano), "tool": "sre-detect", "host": "box",
		"id": "evil", "type": "crash", "severity": "critical", "target": "api", "msg": "m", "report": outside})
	f.d.Refresh()
	for _, name := range []string{"../../../etc/passwd", "/etc/passwd", link, "events.ndjson", ".lock", "..%2f" + link, ""} {
		code, body := f.get("/report?name=" + url.QueryEscape(name))
		if code != http.StatusNotFound || strings.Contains(body, "SECRET") || strings.Contains(body, "root:") {
			t.Errorf("/report?name=%s: %d %.60q", name, code, body)
		}
	}
	body := f.page("/incident?id=evil")
	if strings.Contains(body, "SECRET") || !strings.Contains(body, "does not serve") {
		t.Errorf("an event naming a report outside the directory: %s", body[strings.Index(body, "<h2 id=\"rep\">"):][:300])
	}
}

// TestFollow: records appended are read on the next refresh and wake a
// live page; a rotated, compressed archive is read with the new one, and
// its events can still be opened.
func TestFollow(t *testing.T) {
	f := newFixture(t)
	f.d.Refresh()
	if !strings.Contains(f.page("/"), "No target in the archive yet") {
		t.Errorf("an empty directory does not say so")
	}
	srv := httptest.NewServer(f.d.Handler())
	defer srv.Close()
	gen, _ := f.d.watch()
	resp, err := http.Get(srv.URL + "/live?since=" + strconv.FormatUint(gen, 10))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("/live Content-Type %q", ct)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	old := f.ev(f.now.Add(-2*time.Hour), "api", event.TypeCrash, event.SevCritical, "the old crash", nil, false)
	f.d.Refresh()
	waitLine(t, lines, "event: change")
	if !strings.Contains(f.page("/incidents"), "the old crash") {
		t.Errorf("an appended event is not listed")
	}

	// Rotate the way logrotate's compress does: the old file compressed
	// beside a new one.
	live := filepath.Join(f.dir, report.ArchiveName)
	b, _ := os.ReadFile(live)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(b)
	zw.Close()
	os.WriteFile(live+".1.gz", z.Bytes(), 0o644)
	os.Remove(live)
	f.rd.Close()
	rd, err := report.Open(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	f.rd = rd
	t.Cleanup(func() { rd.Close() })
	f.ev(f.now.Add(-time.Hour), "api", event.TypeCrash, event.SevCritical, "the new crash", nil, false)
	f.d.Refresh()
	waitLine(t, lines, "event: change")
	body := f.page("/incidents")
	if !strings.Contains(body, "the old crash") || !strings.Contains(body, "the new crash") || !strings.Contains(body, "2 matching") {
		t.Errorf("after rotation: want both crashes once\n%s", body)
	}
	if !strings.Contains(f.page("/incident?id="+url.QueryEscape(old.ID)), "the old crash") {
		t.Errorf("the compressed archive's event cannot be opened")
	}

	// Truncated and written again: read again from the start.
	os.WriteFile(live, nil, 0o644)
	f.d.Refresh()
	if body := f.page("/incidents"); !strings.Contains(body, "1 matching") || strings.Contains(body, "the new crash") {
		t.Errorf("after truncation: want only the rotated crash")
	}
	if f.err.Len() != 0 {
		t.Errorf("stderr: %s", f.err.String())
	}
}

func waitLine(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stream ended before %q", want)
			}
			if l == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %q within 30 s", want)
		}
	}
}

// TestUnreadableDirectory: said once, the pages keep what was read, and
// the return is said too.
func TestUnreadableDirectory(t *testing.T) {
	f := newFixture(t)
	f.ev(f.now.Add(-time.Minute), "api", event.TypeCrash, event.SevCritical, "kept", nil, false)
	f.d.Refresh()
	real := f.dir
	file := filepath.Join(t.TempDir(), "not-a-dir")
	os.WriteFile(file, nil, 0o644)
	f.d.o.Dir = file
	f.d.Refresh()
	f.d.Refresh()
	if n := strings.Count(f.err.String(), "cannot be read"); n != 1 {
		t.Errorf("said %d times:\n%s", n, f.err.String())
	}
	if body := f.page("/incidents"); !strings.Contains(body, "kept") || !strings.Contains(body, `class="problem" role="alert"`) {
		t.Errorf("the page lost what it had, or does not show the problem")
	}
	f.d.o.Dir = real
	f.d.Refresh()
	if !strings.Contains(f.err.String(), "readable again") {
		t.Errorf("the return is not said:\n%s", f.err.String())
	}
}

// TestTrends: summaries draw the graphs; a leak warning is marked on the
// memory graph as a link to it.
func TestTrends(t *testing.T) {
	f := newFixture(t)
	for i := range 60 {
		to := f.now.Add(-time.Duration(60-i) * time.Minute)
		rss := float64(100<<20 + i*(1<<20))
		f.append(&event.Summary{Header: event.NewHeader(event.KindSummary, "sre-detect", "box", to), Target: "api",
			From: event.Time{Time: to.Add(-time.Minute)}, To: event.Time{Time: to}, Samples: 60,
			RSS: &event.Stat{Min: rss, Avg: rss, Max: rss + 1}, CPUPct: &event.Stat{Avg: 5, Max: 9},
			Threads: &event.Stat{Max: 12}, FDs: &event.Stat{Max: 40}})
	}
	leak := f.ev(f.now.Add(-10*time.Minute), "api", "leak_suspected", event.SevWarning, "api may leak", nil, false)
	f.d.Refresh()
	body := f.page("/target?name=api&w=1h")
	polys := regexp.MustCompile(`<polyline class="(\w+)" points="([^"]*)"`).FindAllStringSubmatch(body, -1)
	if len(polys) != 6 {
		t.Fatalf("%d lines; want 6 (RSS max, avg; CPU max, avg; threads; fds)", len(polys))
	}
	for _, p := range polys {
		if n := len(strings.Fields(p[2])); n != 60 {
			t.Errorf("%s line: %d points, want 60", p[1], n)
		}
	}
	if !strings.Contains(body, `<a href="/incident?id=`+url.QueryEscape(leak.ID)+`" class="leak"`) {
		t.Errorf("the leak warning is not marked on the memory graph")
	}
	if !strings.Contains(body, "200 MiB at top") { // 160 MiB × 1.1 → 200
		t.Errorf("memory scale: want 200 MiB at top")
	}
}

// TestHistoryBounded: the history holds at most its two rings, whatever
// comes in, and draws from the coarse one beyond the fine one's reach.
func TestHistoryBounded(t *testing.T) {
	if n := unsafe.Sizeof(point{}); n != 40 {
		t.Errorf("a point is %d bytes; history.go's bound says 40", n)
	}
	var h history
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	n := 3*fineCap + 17
	for i := range n {
		ts := start.Add(time.Duration(i+1) * time.Minute)
		h.add(point{ts: ts.UnixNano(), rssAvg: float32(i), rssMax: float32(i), hasRSS: true, n: 1})
	}
	if len(h.fine.buf) != fineCap || len(h.coarse.buf) > coarseCap {
		t.Fatalf("fine %d (cap %d), coarse %d (cap %d)", len(h.fine.buf), fineCap, len(h.coarse.buf), coarseCap)
	}
	end := start.Add(time.Duration(n) * time.Minute)
	recent := h.points(end.Add(-time.Hour).UnixNano(), end.UnixNano())
	if len(recent) != 61 || recent[60].rssAvg != float32(n-1) {
		t.Errorf("last hour: %d points, last %v; want 61 one-minute points (both ends in)", len(recent), recent[len(recent)-1])
	}
	week := h.points(end.Add(-7*24*time.Hour).UnixNano(), end.UnixNano())
	if len(week) == 0 || len(week) > n/15+2 || week[len(week)-1].ts != end.UnixNano() {
		t.Errorf("a week: %d points; want 15-minute points", len(week))
	}
	// A 15-minute point averages its summaries and keeps their maximum.
	if p := week[len(week)-2]; p.n != 15 || p.rssMax != p.rssAvg+7 {
		t.Errorf("a folded point: %+v; want 15 summaries, max 7 above the average", p)
	}
}

func TestMain(m *testing.M) {
	os.Setenv("TZ", "UTC")
	os.Exit(m.Run())
}

var _ = io.Discard

// shortOf is a report id as sre-report makes one: the first 8 hex digits
// of the SHA-256 of the event id.
func shortOf(id string) string {
	s := sha256.Sum256([]byte(id))
	return hex.EncodeToString(s[:4])
}

// TestPrunedReport: an incident whose report sre-report prune removed says
// so, when and why, rather than that the report is missing.
func TestPrunedReport(t *testing.T) {
	f := newFixture(t)
	e := f.ev(f.now.Add(-time.Hour), "api", event.TypeCrash, event.SevCritical, "api died", nil, true)
	name := report.FileName(e.TS.Time, "api", event.TypeCrash, shortOf(e.ID))
	os.Remove(filepath.Join(f.dir, name))
	f.append(&event.Notice{Header: event.NewHeader(event.KindNotice, "sre-report", "box", f.now), Code: "report_pruned",
		Msg: "pruned", Detail: map[string]any{"name": name, "why": "beyond the newest 1"}})
	f.d.Refresh()
	body := f.page("/incident?id=" + url.QueryEscape(e.ID))
	if !strings.Contains(body, "The report was pruned at 2026-12-07 03:00:00Z by the retention policy (beyond the newest 1)") {
		t.Errorf("a pruned report:\n%s", body[strings.Index(body, `<h2 id="rep">`):][:400])
	}
}

// TestOldFactsPruned: what no window can show is not kept, when the
// archive is first read and as it grows, so a server that runs for months
// holds 30 days of facts.
func TestOldFactsPruned(t *testing.T) {
	f := newFixture(t)
	old := f.now.Add(-40 * 24 * time.Hour)
	c := f.ev(old, "api", event.TypeCrash, event.SevCritical, "long ago", nil, false)
	f.ev(old.Add(time.Minute), "api", event.TypeRecovered, event.SevInfo, "back", map[string]any{"crash_id": c.ID, "downtime_s": 60.0}, false)
	f.d.Refresh()
	if got := f.d.m.agg.Downtime("api", f.now.Add(-60*24*time.Hour), f.now); len(got) != 0 {
		t.Errorf("a 40-day-old incident kept: %+v", got)
	}
	c2 := f.ev(f.now.Add(-24*time.Hour), "api", event.TypeCrash, event.SevCritical, "yesterday", nil, false)
	f.ev(f.now.Add(-24*time.Hour+time.Minute), "api", event.TypeRecovered, event.SevInfo, "back", map[string]any{"crash_id": c2.ID, "downtime_s": 60.0}, false)
	f.now = f.now.Add(30*24*time.Hour - 23*time.Hour) // yesterday's is now just past 30 days
	f.d.Refresh()
	if got := f.d.m.agg.Downtime("api", f.now.Add(-60*24*time.Hour), f.now); len(got) != 0 {
		t.Errorf("an incident past the longest window kept as the archive grew: %+v", got)
	}
}
