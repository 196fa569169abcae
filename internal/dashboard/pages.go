package dashboard

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/report"
	"github.com/localsre/sre-agent/internal/score"
)

//go:embed tmpl/*.html
var tmplFS embed.FS

//go:embed static
var staticFS embed.FS

// Bounds of what one answer holds.
const (
	pageSize      = 50
	maxPage       = 10000
	maxQuery      = 200
	maxReportSize = 16 << 20
	recentCount   = 15
	maxMarks      = 300 // incident marks per timeline bar, the newest
)

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"utc":   fmtUTC,
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"local": func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05 MST") },
}).ParseFS(tmplFS, "tmpl/*.html"))

func fmtUTC(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

func (d *Dashboard) routes() {
	static, _ := fs.Sub(staticFS, "static")
	d.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	d.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "icon.svg") // for a browser that asks before reading the page's icon link
	})
	d.mux.HandleFunc("GET /{$}", d.overview)
	d.mux.HandleFunc("GET /incidents", d.incidents)
	d.mux.HandleFunc("GET /incident", d.incident)
	d.mux.HandleFunc("GET /target", d.target)
	d.mux.HandleFunc("GET /report", d.report)
	d.mux.HandleFunc("GET /live", d.live)
	d.mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		d.fail(w, r, http.StatusNotFound, "No such page.")
	})
}

// Common is what every page shows around its content.
type Common struct {
	Title   string
	Dir     string
	Now     time.Time
	Window  string
	Windows []link
	Nav     string // which navigation entry is this page
	Counts  counts
	Problem string // a reading error, shown at the top
	Gen     uint64
}

type link struct {
	Label, URL string
	Current    bool
}

func (d *Dashboard) page(r *http.Request, title, nav string) Common {
	c := Common{Title: title, Dir: d.o.Dir, Now: d.o.Now(), Nav: nav, Window: windowOf(r).Label, Problem: d.lastErrSafe()}
	c.Gen, _ = d.watch()
	for _, w := range Windows {
		q := r.URL.Query()
		q.Set("w", w.Label)
		q.Del("page")
		c.Windows = append(c.Windows, link{Label: w.Label, URL: r.URL.Path + "?" + q.Encode(), Current: w.Label == c.Window})
	}
	return c
}

func (d *Dashboard) lastErrSafe() string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.lastErr
}

// windowOf is the window a page asks for (?w=), the default one otherwise.
func windowOf(r *http.Request) score.Window {
	w := r.URL.Query().Get("w")
	for _, win := range Windows {
		if win.Label == w {
			return win
		}
	}
	return Windows[0]
}

// render writes a page, or a plain error when the template fails (which
// is a bug: the page is built first, so nothing half-written is sent).
func (d *Dashboard) render(w http.ResponseWriter, status int, name string, data any) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		fmt.Fprintf(d.o.Err, "sre-report: dashboard: page %s: %v\n", name, err)
		http.Error(w, "the page could not be made", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	d.render(w, status, "error.html", struct {
		Common
		Msg string
	}{d.page(r, http.StatusText(status), ""), msg})
}

// incRow is one event as a row of a list.
type incRow struct {
	ID, Target, Type, Severity, Msg string
	TS                              time.Time
	URL, TargetURL, ReportURL       string
}

func incidentURL(id string) string { return "/incident?id=" + url.QueryEscape(id) }
func targetURL(name, w string) string {
	return "/target?name=" + url.QueryEscape(name) + "&w=" + url.QueryEscape(w)
}
func reportURL(name string) string { return "/report?name=" + url.QueryEscape(name) }

// evLine is what a page reads of an event's line.
type evLine struct {
	V        int             `json:"v"`
	TS       event.Time      `json:"ts"`
	Host     string          `json:"host"`
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Severity string          `json:"severity"`
	Target   string          `json:"target"`
	Msg      string          `json:"msg"`
	Report   string          `json:"report"`
	Detail   json.RawMessage `json:"detail"`
}

// row reads event i back from the archive (the caller holds mu).
func (d *Dashboard) row(i int32, w string) incRow {
	e := d.m.evs[i]
	r := incRow{TS: time.Unix(0, e.ts).UTC(), Target: clean(d.m.names[e.target]), Type: clean(d.m.types[e.typ]),
		Severity: sevNames[e.sev], TargetURL: targetURL(d.m.names[e.target], w)}
	raw, err := readLine(d.files, e.loc)
	var ln evLine
	if err == nil {
		err = json.Unmarshal(raw, &ln)
	}
	if err != nil {
		r.Msg = "(cannot be read back: " + err.Error() + ")"
		return r
	}
	r.ID, r.Msg, r.URL = clean(ln.ID), clean(ln.Msg), incidentURL(ln.ID)
	if name := reportName(ln.Report); name != "" {
		r.ReportURL = reportURL(name)
	}
	return r
}

// reportName is the file name of an event's report, when it names one.
// The report field is a path as sre-report wrote it (relative to where it
// ran); only its base name is used, inside the directory served.
func reportName(p string) string {
	if p == "" {
		return ""
	}
	name := filepath.Base(p)
	if !report.IsReportName(name) {
		return ""
	}
	return name
}

type targetRow struct {
	Name, URL                        string
	Score, Avail, MTBF, MTTR, Status string
	Crashes, Restarts                int
	Bar                              bar
}

func fmtDur(p *float64) string {
	if p == nil {
		return "–"
	}
	return (time.Duration(*p * float64(time.Second))).Round(time.Second).String()
}

func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request) {
	win := windowOf(r)
	d.mu.RLock()
	now := d.o.Now()
	snap := d.m.agg.Snapshot(now)
	data := struct {
		Common
		Targets []targetRow
		Recent  []incRow
		From    time.Time
	}{Common: d.page(r, "Overview", "overview"), From: now.Add(-win.Dur)}
	data.Counts = d.m.counts
	marks := d.marks(now.Add(-win.Dur), now)
	for _, name := range d.m.agg.Targets() {
		row := targetRow{Name: clean(name), URL: targetURL(name, win.Label), Score: "–", Avail: "–", MTBF: "–", MTTR: "–", Status: "up"}
		for _, res := range snap.Results {
			if res.Target == name && res.Window == win.Label {
				row.Score = strconv.FormatFloat(res.Score, 'f', 1, 64)
				row.Avail = strconv.FormatFloat(res.Availability*100, 'f', 3, 64) + " %"
				row.MTBF, row.MTTR = fmtDur(res.MTBFS), fmtDur(res.MTTRS)
				row.Crashes, row.Restarts = res.Crashes, res.Restarts
			}
		}
		var mine []int32
		if idx, ok := d.m.byNm[name]; ok {
			mine = marks[idx]
		}
		row.Bar = d.bar(name, now.Add(-win.Dur), now, mine, 20)
		if row.Bar.Down {
			row.Status = "down"
		}
		data.Targets = append(data.Targets, row)
	}
	for _, i := range d.m.byTime() {
		if len(data.Recent) == recentCount {
			break
		}
		if d.m.evs[i].sev >= sevWarning {
			data.Recent = append(data.Recent, d.row(i, win.Label))
		}
	}
	d.mu.RUnlock()
	d.render(w, http.StatusOK, "overview.html", data)
}

// filter is the incident list's query.
type filter struct {
	Target, Type, Severity, Q, From, To string
	from, to                            int64
	sev                                 uint8
	page                                int
}

func parseFilter(r *http.Request) (filter, error) {
	q := r.URL.Query()
	f := filter{Target: q.Get("target"), Type: q.Get("type"), Severity: q.Get("severity"), Q: q.Get("q"),
		From: q.Get("from"), To: q.Get("to"), page: 1}
	if f.Severity == "" {
		f.Severity = event.SevWarning
	}
	switch f.Severity {
	case "all":
		f.sev = sevInfo
	case event.SevInfo, event.SevWarning, event.SevCritical:
		f.sev = parseSev(f.Severity)
	default:
		return f, fmt.Errorf("severity %q: want all, info, warning or critical", f.Severity)
	}
	if len(f.Q) > maxQuery {
		return f, fmt.Errorf("text: longer than %d characters", maxQuery)
	}
	var err error
	if f.from, err = parseWhen(f.From); err != nil {
		return f, fmt.Errorf("from: %v", err)
	}
	if f.to, err = parseWhen(f.To); err != nil {
		return f, fmt.Errorf("to: %v", err)
	}
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > maxPage {
			return f, fmt.Errorf("page %q: want a number from 1 to %d", p, maxPage)
		}
		f.page = n
	}
	return f, nil
}

// parseWhen reads a time of the filter form: RFC 3339, or a form's
// datetime-local (taken as UTC), or a date. "" is no bound (0).
func parseWhen(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixNano(), nil
		}
	}
	return 0, fmt.Errorf("%q: want a time such as 2026-12-07T03:00 (UTC) or 2026-12-07T03:00:00+01:00", s)
}

func (d *Dashboard) incidents(w http.ResponseWriter, r *http.Request) {
	f, ferr := parseFilter(r)
	win := windowOf(r)
	d.mu.RLock()
	data := struct {
		Common
		F              filter
		Targets, Types []string
		Rows           []incRow
		Error          string
		Shown, Matched int
		Page           int
		Prev, Next     string
		More           bool
		SevOptions     []string
	}{Common: d.page(r, "Incidents", "incidents"), F: f, Page: f.page,
		SevOptions: []string{"critical", "warning", "info", "all"}}
	data.Counts = d.m.counts
	// Names as shown: a name with control characters is matched by its
	// shown form (filter above), so the form round-trips.
	for _, n := range d.m.agg.Targets() {
		data.Targets = append(data.Targets, clean(n))
	}
	for _, n := range d.m.types {
		data.Types = append(data.Types, clean(n))
	}
	if ferr != nil {
		data.Error = ferr.Error()
		d.mu.RUnlock()
		d.render(w, http.StatusBadRequest, "incidents.html", data)
		return
	}
	skip := (f.page - 1) * pageSize
	var hits map[loc]bool
	if f.Q != "" {
		var err error
		if hits, err = d.search(f.Q); err != nil {
			data.Error = "text search: " + cleanText(err.Error(), false)
		}
	}
	for _, i := range d.m.byTime() {
		e := d.m.evs[i]
		switch {
		case e.sev < f.sev,
			f.Target != "" && clean(d.m.names[e.target]) != f.Target,
			f.Type != "" && clean(d.m.types[e.typ]) != f.Type,
			f.from != 0 && e.ts < f.from,
			f.to != 0 && e.ts > f.to,
			hits != nil && !hits[e.loc]:
			continue
		}
		if skip <= data.Matched && data.Matched < skip+pageSize {
			data.Rows = append(data.Rows, d.row(i, win.Label))
		}
		data.Matched++
	}
	d.mu.RUnlock()
	data.Shown = len(data.Rows)
	q := r.URL.Query()
	if f.page > 1 {
		q.Set("page", strconv.Itoa(f.page-1))
		data.Prev = "/incidents?" + q.Encode()
	}
	if skip+pageSize < data.Matched {
		q.Set("page", strconv.Itoa(f.page+1))
		data.Next = "/incidents?" + q.Encode()
	}
	d.render(w, http.StatusOK, "incidents.html", data)
}

// actionRow is one heal action taken for an incident.
type actionRow struct {
	TS                                  time.Time
	Rule, Action, Result, Error, Target string
	DryRun                              bool
	Attempt, MaxAttempts                int
	Argv, Evidence                      []string
}

func (d *Dashboard) incident(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	win := windowOf(r)
	d.mu.RLock()
	i, ok := d.m.byID[d.m.hash(id)]
	var ln evLine
	var raw []byte
	var err error
	if ok {
		raw, err = readLine(d.files, d.m.evs[i].loc)
		if err == nil {
			err = json.Unmarshal(raw, &ln)
		}
		ok = err == nil && ln.ID == id
	}
	if !ok {
		d.mu.RUnlock()
		if err != nil {
			d.fail(w, r, http.StatusServiceUnavailable, "The incident cannot be read back from the archive: "+cleanText(err.Error(), false))
			return
		}
		d.fail(w, r, http.StatusNotFound, "No incident with that id in the archive.")
		return
	}
	data := struct {
		Common
		Ev                     incRow
		Host, Detail, Record   string
		ReportName, ReportText string
		ReportURL, ContextURL  string
		ReportErr              string
		Chain, ChainClass      string
		Actions                []actionRow
		Recovered              *incRow
	}{Common: d.page(r, "Incident", "incidents")}
	data.Counts = d.m.counts
	data.Ev = d.row(i, win.Label)
	data.Host = clean(ln.Host)
	var pretty bytes.Buffer
	if json.Indent(&pretty, raw, "", "  ") == nil {
		data.Record = cleanText(pretty.String(), true)
	}
	for _, l := range d.m.actions[d.m.hash(id)] {
		b, err := readLine(d.files, l)
		var a event.Action
		if err != nil || json.Unmarshal(b, &a) != nil || a.EventID != id {
			continue
		}
		data.Actions = append(data.Actions, actionRow{TS: a.TS.Time, Rule: clean(a.Rule), Action: clean(a.Action),
			Result: clean(a.Result), Error: clean(a.Error), Target: clean(a.Target), DryRun: a.DryRun, Attempt: a.Attempt,
			MaxAttempts: a.MaxAttempts, Argv: cleanAll(a.Argv), Evidence: cleanAll(a.Evidence)})
	}
	if j, ok := d.m.answers[d.m.hash(id)]; ok {
		rec := d.row(j, win.Label)
		data.Recovered = &rec
	}
	prunedWhy := d.m.pruned[reportName(ln.Report)]
	d.mu.RUnlock()

	data.ReportName = reportName(ln.Report)
	switch {
	case ln.Report == "":
		data.ReportErr = "No report was written for this event (sre-report writes one for the types in its --on list)."
	case data.ReportName == "":
		data.ReportErr = "The event names a report this dashboard does not serve: " + clean(ln.Report)
	default:
		data.ReportURL = reportURL(data.ReportName)
		text, mtime, err := d.readReport(data.ReportName)
		switch {
		case err != nil && prunedWhy != "":
			data.ReportErr = "The report was " + cleanText(prunedWhy, false) + "."
		case err != nil:
			data.ReportErr = cleanText(err.Error(), false)
		default:
			data.ReportText = cleanText(text, true)
			if c := contextOf(text); c != "" {
				data.ContextURL = reportURL(c)
			}
		}
		v, bad, err := d.chain.verify(mtime)
		switch {
		case err != nil:
			data.Chain, data.ChainClass = "cannot be verified: "+cleanText(err.Error(), false), "bad"
		case bad[data.ReportName].Kind != "":
			data.Chain, data.ChainClass = cleanText(bad[data.ReportName].String(), false), "bad"
		case len(v.Problems) > 0:
			data.Chain, data.ChainClass = fmt.Sprintf("this report verifies, but the chain has %d problem(s): run sre-report verify", len(v.Problems)), "warn"
		default:
			data.Chain, data.ChainClass = fmt.Sprintf("verified: %d reports, every one as written (sre-report verify)", v.Reports), "ok"
		}
	}
	d.render(w, http.StatusOK, "incident.html", data)
}

func cleanAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = clean(s)
	}
	return out
}

// contextOf is the context report a report's header names.
func contextOf(text string) string {
	for _, l := range strings.SplitN(text, "\n", 40) {
		if v, ok := strings.CutPrefix(l, "Context-Report:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 && report.IsReportName(f[0]) {
				return f[0]
			}
		}
	}
	return ""
}

// errNoReport is a report name that is not a report of the directory.
var errNoReport = errors.New("no such report in the report directory")

// readReport reads a report by its name, inside the report directory only:
// the name must be a report's (no separator, no dot-dot), and it is opened
// through an os.Root of the directory, so no link leads out of it.
func (d *Dashboard) readReport(name string) (text string, mtime time.Time, err error) {
	if !report.IsReportName(name) || strings.ContainsAny(name, `/\`) || name != filepath.Base(name) {
		return "", mtime, errNoReport
	}
	root, err := os.OpenRoot(d.o.Dir)
	if err != nil {
		return "", mtime, fmt.Errorf("report directory: %w", err)
	}
	defer root.Close()
	f, err := root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", mtime, fmt.Errorf("report %s: not in the report directory (removed?)", name)
	}
	if err != nil {
		return "", mtime, fmt.Errorf("report %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return "", mtime, errNoReport
	}
	b, err := io.ReadAll(io.LimitReader(f, maxReportSize+1))
	if err != nil {
		return "", mtime, fmt.Errorf("report %s: %w", name, err)
	}
	if len(b) > maxReportSize {
		b = append(b[:maxReportSize], "\n… (cut at 16 MiB)\n"...)
	}
	return string(b), st.ModTime(), nil
}

// report serves a report as plain text, as it is on disk.
func (d *Dashboard) report(w http.ResponseWriter, r *http.Request) {
	text, _, err := d.readReport(r.URL.Query().Get("name"))
	if err != nil {
		http.Error(w, cleanText(err.Error(), false), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, text)
}
