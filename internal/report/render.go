package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/forensics"
)

// Report is everything one report file says.
type Report struct {
	Event     *event.Event
	ShortID   string
	Name      string // file name
	Prev      Link   // the report before this one; zero for the first
	WrittenAt time.Time
	Local     *time.Location
	Results   []forensics.Result
	// ContextName, on a report written at once with the fast evidence,
	// names the context report that follows with the slower evidence.
	ContextName string
	// ContextFor, on a context report, links the report it completes.
	ContextFor Link
}

// Link names a report and its SHA-256.
type Link struct {
	Name   string
	SHA256 string
}

// Header keys that Verify and Show read back.
const (
	keyReportID = "Report-ID"
	keyEventID  = "Event-ID"
	keyPrev     = "Previous-Report"
	keyPrevSHA  = "Previous-SHA256"
	keyContext  = "Context-For"
	none        = "none"
	title       = "SRE INCIDENT REPORT"
)

// heading writes a report's title, underlined.
func heading(b *bytes.Buffer, t string) {
	b.WriteString(t + "\n")
	b.WriteString(strings.Repeat("=", len(t)) + "\n")
}

// chainFields writes the link to the report before this one, or "none"
// for the first: the fields verify reads the chain from.
func chainFields(kv func(k, v string), prev Link) {
	if prev.Name == "" {
		kv(keyPrev, none)
		kv(keyPrevSHA, none)
		return
	}
	kv(keyPrev, prev.Name)
	kv(keyPrevSHA, prev.SHA256)
}

// Render formats a report. The output depends only on r, so a fixed clock
// and fixed collector results give a fixed rendering (golden tests).
func Render(r *Report) []byte {
	if r.ContextFor.Name != "" {
		return renderContext(r)
	}
	var b bytes.Buffer
	e := r.Event
	loc := r.Local
	if loc == nil {
		loc = time.Local
	}
	kv := func(k, v string) { fmt.Fprintf(&b, "%-16s %s\n", k+":", oneLine(v)) }
	section := func(name string) { fmt.Fprintf(&b, "\n== %s ==\n", name) }

	heading(&b, title)
	kv("What", e.Msg)
	kv("When-UTC", e.TS.UTC().Format(event.TimeLayout))
	kv("When-Local", e.TS.In(loc).Format("2006-01-02 15:04:05.000 MST (-07:00)"))
	kv("Type", e.Type)
	kv("Severity", e.Severity)
	kv("Target", e.Target)
	kv("Host", e.Host)
	kv(keyEventID, e.ID)
	kv(keyReportID, r.ShortID)
	kv("Written-UTC", r.WrittenAt.UTC().Format(event.TimeLayout))
	chainFields(kv, r.Prev)
	if r.ContextName != "" {
		kv("Context-Report", r.ContextName+" (the slower evidence, written when it is in)")
	}

	section("Process at last sight")
	if p := e.Process; p != nil {
		kv("PID", strconv.Itoa(p.PID))
		kv("PPID", strconv.Itoa(p.PPID))
		kv("Name", p.Name)
		kv("User", userOf(p))
		kv("Started", p.Start.UTC().Format(time.RFC3339))
		kv("Uptime", uptime(p, e))
		kv("State", p.State)
		kv("CPU", optFloat(p.CPUPct, "%.1f%%")+fmt.Sprintf(" (%.2fs CPU time)", p.CPUTimeS))
		kv("RSS", bytesHuman(p.RSSBytes))
		kv("VMS", bytesHuman(p.VMSBytes))
		kv("Threads", strconv.Itoa(p.Threads))
		kv("FDs", optInt(p.FDs)+limitOf(p.FDsLimit))
		kv("Exe", orUnknown(p.Exe))
		kv("Command", orUnknown(strings.Join(forensics.Redact(p.Args), " ")))
		kv("Cgroup", orUnknown(p.Cgroup))
		if p.ContainerID != "" {
			kv("Container", p.ContainerID+" ("+orUnknown(p.Runtime)+")")
		}
		if p.CgroupMemMaxBytes != nil {
			kv("Cgroup-Mem-Max", bytesHuman(*p.CgroupMemMaxBytes))
		}
	} else {
		b.WriteString("(the event carries no process: it was never seen running)\n")
	}
	teardownFields(kv, e)
	exitFields(&b, kv, e)

	section("Run-up (last samples before the event)")
	runUp(&b, e)

	if d := scalarDetail(e); len(d) > 0 {
		section("Event detail")
		for _, f := range d {
			kv(f.Key, f.Value)
		}
	}

	renderResults(&b, kv, section, r.Results)
	b.WriteString("\n-- end of report --\n")
	return b.Bytes()
}

// renderResults writes each collector's section, then the Collectors
// section saying how each one fared.
func renderResults(b *bytes.Buffer, kv func(k, v string), section func(string), results []forensics.Result) {
	var status []string
	for _, res := range results {
		switch {
		case res.Err == forensics.ErrNotApplicable:
			status = append(status, fmt.Sprintf("%s: not applicable", res.Name))
			continue
		case res.TimedOut:
			status = append(status, fmt.Sprintf("%s: %v: left out", res.Name, res.Err))
		case res.Err != nil:
			status = append(status, fmt.Sprintf("%s: failed: %v", res.Name, res.Err))
		default:
			status = append(status, fmt.Sprintf("%s: ok in %s", res.Name, res.Duration.Round(time.Millisecond)))
		}
		if res.Err != nil && res.Section.Title == "" {
			continue
		}
		t := res.Section.Title
		if t == "" {
			t = res.Name
		}
		section(t)
		for _, f := range res.Section.Fields {
			kv(f.Key, f.Value)
		}
		for _, n := range res.Section.Notes {
			kv("Note", n)
		}
		if len(res.Section.Lines) > 0 {
			if len(res.Section.Fields)+len(res.Section.Notes) > 0 {
				b.WriteString("\n")
			}
			for _, l := range res.Section.Lines {
				b.WriteString("  | " + strings.TrimRight(sanitize(l), "\r") + "\n")
			}
		}
	}
	if len(status) > 0 {
		section("Collectors")
		for _, s := range status {
			kv("Collector", s)
		}
	}
}

// oneLine keeps a value on its line: a newline or control byte in a process
// name or message must not forge another "Key: value" line.
func oneLine(s string) string {
	return sanitize(strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s))
}

// sanitize replaces control characters (terminal escapes included) so a
// report is safe to cat.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

func userOf(p *event.Process) string {
	switch {
	case p.User != "" && p.UID != nil:
		return fmt.Sprintf("%s (uid %d)", p.User, *p.UID)
	case p.UID != nil:
		return fmt.Sprintf("uid %d", *p.UID)
	}
	return "unknown"
}

func uptime(p *event.Process, e *event.Event) string {
	if p.Start.IsZero() {
		return "unknown"
	}
	d := e.TS.Sub(p.Start.Time)
	if d < 0 {
		return "unknown"
	}
	return d.Round(time.Millisecond).String()
}

func optFloat(v *float64, format string) string {
	if v == nil {
		return "unknown"
	}
	return fmt.Sprintf(format, *v)
}

func optInt(v *int) string {
	if v == nil {
		return "unknown"
	}
	return strconv.Itoa(*v)
}

func limitOf(v *uint64) string {
	if v == nil {
		return ""
	}
	return fmt.Sprintf(" (soft limit %d)", *v)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func bytesHuman(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB (%d bytes)", float64(n)/float64(div), "KMGTPE"[exp], n)
}

// teardownFields says when the process figures were read, when a later
// reading caught the kernel tearing the process down (detail.teardown from
// sre-detect: its memory released, its threads ending), and shows that
// reading apart, so that nobody takes it for the process at work.
func teardownFields(kv func(k, v string), e *event.Event) {
	td, ok := e.Detail["teardown"].(map[string]any)
	if !ok {
		return
	}
	if at, ok := e.Detail["last_sight"].(string); ok {
		kv("Read-At", at+" (the last reading of the live process)")
	}
	var parts []string
	if v, ok := td["rss_bytes"].(float64); ok && v >= 0 {
		parts = append(parts, "RSS "+bytesHuman(uint64(v)))
	}
	if v, ok := td["threads"].(float64); ok {
		parts = append(parts, fmt.Sprintf("threads %d", int64(v)))
	}
	if v, ok := td["state"].(string); ok {
		parts = append(parts, "state "+v)
	}
	if v, ok := td["ts"].(string); ok {
		parts = append(parts, "at "+v)
	}
	kv("Teardown", strings.Join(parts, ", ")+" (read while the kernel was ending the process, not its last live state)")
}

// exitKeys are the detail fields that say how a process ended, flat in the
// detail or under detail.exit (the sampler's shape).
var exitKeys = map[string]string{
	"exit_code": "Exit-Code", "code": "Exit-Code", "signal": "Exit-Signal",
	"core_dumped": "Core-Dumped", "noticed": "Exit-Noticed",
}

// exitFields prints how the process ended when the event says so.
func exitFields(b *bytes.Buffer, kv func(k, v string), e *event.Event) {
	ex, _ := e.Detail["exit"].(map[string]any)
	if ex == nil {
		ex = e.Detail
	}
	if ex == nil || e.Type != "crash" && e.Detail["exit"] == nil {
		return
	}
	code, hasCode := ex["exit_code"]
	if !hasCode {
		code, hasCode = ex["code"]
	}
	sig, hasSig := ex["signal"]
	switch {
	case hasCode:
		kv("Exit-Code", fmt.Sprint(code))
	case hasSig:
		kv("Exit-Signal", fmt.Sprint(sig))
	default:
		kv("Exit-Status", "unknown (not our child, and reaped before its status could be read)")
	}
	if v, ok := ex["core_dumped"]; ok && v == true {
		kv("Core-Dumped", "yes")
	}
	if v, ok := ex["noticed"]; ok {
		kv("Exit-Noticed", fmt.Sprint(v))
	}
}

// Preferred run-up columns, in order; other keys follow alphabetically.
var runUpOrder = []string{"ts", "up", "cpu_pct", "rss_bytes", "threads", "fds", "state"}

func runUp(b *bytes.Buffer, e *event.Event) {
	hist, _ := e.Detail["history"].([]any)
	if len(hist) == 0 {
		b.WriteString("(no samples before the event)\n")
		return
	}
	cols := map[string]bool{}
	for _, h := range hist {
		if m, ok := h.(map[string]any); ok {
			for k := range m {
				cols[k] = true
			}
		}
	}
	var order []string
	for _, k := range runUpOrder {
		if cols[k] {
			order = append(order, k)
			delete(cols, k)
		}
	}
	var rest []string
	for k := range cols {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	order = append(order, rest...)
	rows := [][]string{}
	header := make([]string, len(order))
	for i, k := range order {
		header[i] = strings.ToUpper(k)
	}
	rows = append(rows, header)
	for _, h := range hist {
		m, _ := h.(map[string]any)
		row := make([]string, len(order))
		for i, k := range order {
			row[i] = cell(k, m[k])
		}
		rows = append(rows, row)
	}
	widths := make([]int, len(order))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			if i > 0 {
				line.WriteString("  ")
			}
			fmt.Fprintf(&line, "%-*s", widths[i], c)
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

func cell(k string, v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		if k == "ts" {
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return t.UTC().Format("15:04:05.000")
			}
		}
		return sanitize(x)
	case float64:
		if strings.HasSuffix(k, "_bytes") {
			return strconv.FormatFloat(x/(1<<20), 'f', 1, 64) + "M"
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	}
	return sanitize(fmt.Sprint(v))
}

// scalarDetail lists the event's detail fields that are plain values
// (history and exit have their own sections), sorted by key.
func scalarDetail(e *event.Event) []forensics.Field {
	var out []forensics.Field
	for k, v := range e.Detail {
		if _, ok := exitKeys[k]; ok && e.Type == "crash" {
			continue // shown with the process
		}
		if k == "last_sight" && e.Detail["teardown"] != nil {
			continue // shown with the process
		}
		switch v.(type) {
		case map[string]any, []any:
			if k == "history" || k == "exit" || k == "teardown" {
				continue
			}
			j, _ := json.Marshal(v)
			if len(j) > 300 {
				j = append(j[:300], "…"...)
			}
			out = append(out, forensics.Field{Key: k, Value: string(j)})
		default:
			out = append(out, forensics.Field{Key: k, Value: fmt.Sprint(v)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
