package dashboard

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The charts are SVG drawn here, on the server, so a page needs no script
// and no chart library, and works with JavaScript off. Every number in
// them is formatted by Go; every text goes through html/template.

const barW = 1000.0 // the timeline's viewBox width; the bar stretches to the page

// bar is one target's timeline over a window: the time it was watched
// (up), the incidents that had it down, and a mark for each warning or
// critical event, each a link to its incident.
type bar struct {
	Segs  []seg
	Marks []mark
	Down  bool // down at the window's end
	Label string
}

type seg struct {
	Class    string
	X, W     string
	From, To string // RFC 3339, for tests and tooltips
	Title    string
}

type mark struct {
	URL, Class, X, W, Title string
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

// xOf places ts on a bar or chart of width w spanning [from, to].
func xOf(ts, from, to time.Time, w float64) float64 {
	span := to.Sub(from)
	if span <= 0 {
		return 0
	}
	x := float64(ts.Sub(from)) / float64(span) * w
	return min(max(x, 0), w)
}

// marks gathers, in one pass over the events of [from, to], each target's
// warning and critical events, newest first, at most maxMarks each. The
// caller holds mu.
func (d *Dashboard) marks(from, to time.Time) map[uint32][]int32 {
	out := map[uint32][]int32{}
	lo, hi := from.UnixNano(), to.UnixNano()
	for _, i := range d.m.byTime() {
		e := d.m.evs[i]
		if e.ts > hi {
			continue
		}
		if e.ts < lo {
			break
		}
		if e.sev >= sevWarning && len(out[e.target]) < maxMarks {
			out[e.target] = append(out[e.target], i)
		}
	}
	return out
}

// bar draws target's timeline; marks are its events from d.marks, drawn
// one per bucket (in units of barW). The caller holds mu.
func (d *Dashboard) bar(target string, from, to time.Time, marks []int32, bucket float64) bar {
	var b bar
	first, _ := d.m.agg.Seen(target)
	if !first.IsZero() && first.Before(to) {
		s := first
		if s.Before(from) {
			s = from
		}
		x := xOf(s, from, to, barW)
		b.Segs = append(b.Segs, seg{Class: "up", X: num(x), W: num(barW - x), From: s.UTC().Format(time.RFC3339Nano),
			To: to.UTC().Format(time.RFC3339Nano), Title: "watched from " + fmtUTC(s)})
	}
	// Incidents that overlap, or lie closer than a unit apart, are drawn
	// as one: the bar shows when the target was down, and stays small
	// however many crashes a window holds.
	type span struct {
		s, e       time.Time
		n          int
		open       bool
		first, end time.Time
	}
	var spans []span
	unit := to.Sub(from) / barW
	for _, iv := range d.m.agg.Downtime(target, from, to) { // by start
		s, e := iv.Start, iv.End
		if s.Before(from) {
			s = from
		}
		if e.After(to) {
			e = to
		}
		if n := len(spans); n > 0 && !s.After(spans[n-1].e.Add(unit)) {
			l := &spans[n-1]
			if e.After(l.e) {
				l.e, l.end = e, iv.End
			}
			l.n++
			l.open = l.open || iv.Open && !iv.End.Before(to)
			continue
		}
		spans = append(spans, span{s: s, e: e, n: 1, open: iv.Open && !iv.End.Before(to), first: iv.Start, end: iv.End})
	}
	downS := 0.0
	for _, sp := range spans {
		x := xOf(sp.s, from, to, barW)
		w := max(xOf(sp.e, from, to, barW)-x, 2) // an outage of a second is still seen
		title := fmt.Sprintf("down %s → %s (%s)", fmtUTC(sp.first), fmtUTC(sp.end), sp.end.Sub(sp.first).Round(time.Millisecond))
		if sp.n > 1 {
			title = fmt.Sprintf("%d incidents, %s", sp.n, title)
		}
		if sp.open {
			title = fmt.Sprintf("down since %s, not recovered", fmtUTC(sp.first))
			b.Down = true
		}
		downS += sp.e.Sub(sp.s).Seconds()
		b.Segs = append(b.Segs, seg{Class: "down", X: num(x), W: num(w), From: sp.first.UTC().Format(time.RFC3339Nano),
			To: sp.end.UTC().Format(time.RFC3339Nano), Title: title})
	}
	// Marks closer than bucket units share one: the most severe, then the
	// newest, of its events, titled with how many it stands for. A bar
	// then holds at most barW/bucket marks however busy the window was.
	type slot struct {
		i    int32
		n    int
		crit int
	}
	slots := map[int]*slot{}
	var order []int
	for _, i := range marks { // newest first
		e := d.m.evs[i]
		k := int(xOf(time.Unix(0, e.ts), from, to, barW) / bucket)
		sl := slots[k]
		if sl == nil {
			sl = &slot{i: i}
			slots[k] = sl
			order = append(order, k)
		} else if e.sev > d.m.evs[sl.i].sev {
			sl.i = i
		}
		sl.n++
		if e.sev == sevCritical {
			sl.crit++
		}
	}
	for _, k := range order {
		sl := slots[k]
		e := d.m.evs[sl.i]
		ts := time.Unix(0, e.ts)
		class := "warn"
		if e.sev == sevCritical {
			class = "crit"
		}
		w := min(bucket, 4.0)
		x := min(max(xOf(ts, from, to, barW)-w/2, 0), barW-w)
		id := d.eventID(sl.i)
		if id == "" {
			continue
		}
		title := fmt.Sprintf("%s %s at %s", clean(d.m.types[e.typ]), sevNames[e.sev], fmtUTC(ts))
		if sl.n > 1 {
			title = fmt.Sprintf("%d events here (%d critical); the %s", sl.n, sl.crit, title)
		}
		b.Marks = append(b.Marks, mark{URL: incidentURL(id), Class: class, X: num(x), W: num(w), Title: title})
	}
	b.Label = fmt.Sprintf("%s: %d events marked, down %s of %s", clean(target), len(marks),
		time.Duration(downS*float64(time.Second)).Round(time.Second), to.Sub(from))
	return b
}

// eventID reads event i's id back (the caller holds mu).
func (d *Dashboard) eventID(i int32) string {
	raw, err := readLine(d.files, d.m.evs[i].loc)
	if err != nil {
		return ""
	}
	return idOf(raw)
}

// idOf picks the top-level "id" of a line.
func idOf(raw []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return v.ID
}

// chart is one trend graph of a target.
type chart struct {
	Title, Unit string
	Lines       []polyline
	YMax, YMid  string
	From, To    time.Time
	Marks       []vmark
	Empty       bool
	Points      int
	Desc        string
}

type polyline struct{ Class, Label, Points string }

type vmark struct{ X, URL, Title string }

const chartW, chartH = 600.0, 150.0

// charts draws target's RSS, CPU, threads and fds over [from, to] from its
// summary history, with its leak and memory warnings marked. The caller
// holds mu.
func (d *Dashboard) charts(target string, from, to time.Time, marks []int32) []chart {
	var pts []point
	if idx, ok := d.m.byNm[target]; ok {
		if h := d.m.hist[idx]; h != nil {
			pts = h.points(from.UnixNano(), to.UnixNano())
		}
	}
	var vm []vmark
	for _, i := range marks {
		e := d.m.evs[i]
		if t := d.m.types[e.typ]; t == "leak_suspected" || t == "memory_high" {
			if id := d.eventID(i); id != "" {
				ts := time.Unix(0, e.ts)
				vm = append(vm, vmark{X: num(xOf(ts, from, to, chartW)), URL: incidentURL(id), Title: clean(t) + " at " + fmtUTC(ts)})
			}
		}
	}
	mk := func(title, unit string, scale float64, series ...struct {
		class, label string
		v            func(p point) (float64, bool)
	}) chart {
		c := chart{Title: title, Unit: unit, From: from, To: to, Points: len(pts)}
		top := 0.0
		for _, s := range series {
			for _, p := range pts {
				if v, ok := s.v(p); ok {
					top = max(top, v/scale)
				}
			}
		}
		if top <= 0 {
			top = 1
		}
		top = niceCeil(top * 1.1)
		for _, s := range series {
			var b strings.Builder
			n := 0
			for _, p := range pts {
				v, ok := s.v(p)
				if !ok {
					continue
				}
				x := xOf(time.Unix(0, p.ts), from, to, chartW)
				y := chartH - v/scale/top*(chartH-10)
				fmt.Fprintf(&b, "%s,%s ", num(x), num(y))
				n++
			}
			if n > 0 {
				c.Lines = append(c.Lines, polyline{Class: s.class, Label: s.label, Points: strings.TrimSpace(b.String())})
			}
		}
		c.Empty = len(c.Lines) == 0
		c.YMax, c.YMid = fmtNum(top)+" "+unit, fmtNum(top/2)+" "+unit
		if title == "Memory (RSS)" {
			c.Marks = vm
		}
		c.Desc = fmt.Sprintf("%s of %s, %d points, top of scale %s", title, clean(target), len(pts), c.YMax)
		return c
	}
	type ser = struct {
		class, label string
		v            func(p point) (float64, bool)
	}
	return []chart{
		mk("Memory (RSS)", "MiB", 1<<20,
			ser{"max", "max", func(p point) (float64, bool) { return float64(p.rssMax), p.hasRSS }},
			ser{"avg", "average", func(p point) (float64, bool) { return float64(p.rssAvg), p.hasRSS }}),
		mk("CPU", "%", 1,
			ser{"max", "max", func(p point) (float64, bool) { return float64(p.cpuMax), p.hasCPU }},
			ser{"avg", "average", func(p point) (float64, bool) { return float64(p.cpuAvg), p.hasCPU }}),
		mk("Threads", "", 1, ser{"max", "max", func(p point) (float64, bool) { return float64(p.threadsMax), p.hasThr }}),
		mk("Open files", "", 1, ser{"max", "max", func(p point) (float64, bool) { return float64(p.fdsMax), p.hasFDs }}),
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func fmtNum(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// scoreRow is a target's figures over one window.
type scoreRow struct {
	Window, Score, Avail, MTBF, MTTR string
	Crashes, Failures, Restarts      int
	Incidents, OOMKills              int
	Current                          bool
}

func (d *Dashboard) target(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	win := windowOf(r)
	d.mu.RLock()
	first, _ := d.m.agg.Seen(name)
	if _, ok := d.m.byNm[name]; !ok && first.IsZero() {
		d.mu.RUnlock()
		d.fail(w, r, http.StatusNotFound, "No target of that name in the archive.")
		return
	}
	now := d.o.Now()
	from := now.Add(-win.Dur)
	data := struct {
		Common
		Name   string
		Bar    bar
		Scores []scoreRow
		Charts []chart
		Recent []incRow
		AllURL string
		From   time.Time
		NoRoom bool // the target's summaries are not kept (maxHistTargets)
	}{Common: d.page(r, clean(name), "overview"), Name: clean(name), From: from}
	data.Counts = d.m.counts
	snap := d.m.agg.Snapshot(now)
	for _, wn := range Windows {
		row := scoreRow{Window: wn.Label, Score: "–", Avail: "–", MTBF: "–", MTTR: "–", Current: wn.Label == win.Label}
		for _, res := range snap.Results {
			if res.Target == name && res.Window == wn.Label {
				row.Score = strconv.FormatFloat(res.Score, 'f', 1, 64)
				row.Avail = strconv.FormatFloat(res.Availability*100, 'f', 3, 64) + " %"
				row.MTBF, row.MTTR = fmtDur(res.MTBFS), fmtDur(res.MTTRS)
				row.Crashes, row.Failures, row.Restarts, row.Incidents, row.OOMKills = res.Crashes, res.Failures, res.Restarts, res.Incidents, res.OOMKills
			}
		}
		data.Scores = append(data.Scores, row)
	}
	var mine []int32
	if idx, ok := d.m.byNm[name]; ok {
		mine = d.marks(from, now)[idx]
	}
	data.Bar = d.bar(name, from, now, mine, 4)
	data.Charts = d.charts(name, from, now, mine)
	if idx, ok := d.m.byNm[name]; ok && d.m.hist[idx] == nil && len(d.m.hist) >= maxHistTargets {
		data.NoRoom = true
	}
	for _, i := range mine {
		if len(data.Recent) == recentCount {
			break
		}
		data.Recent = append(data.Recent, d.row(i, win.Label))
	}
	d.mu.RUnlock()
	data.AllURL = "/incidents?target=" + url.QueryEscape(name) + "&severity=all"
	d.render(w, http.StatusOK, "target.html", data)
}
