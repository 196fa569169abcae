package report

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// ContextName is the name of the context report that completes the report
// named first: "…_context.txt".
func ContextName(first string) string {
	return strings.TrimSuffix(first, ".txt") + "_context.txt"
}

const contextTitle = "SRE INCIDENT REPORT: CONTEXT"

// renderContext formats a context report: the slower evidence (host,
// kernel, journal, Docker, Kubernetes, tools) of the report it names in
// Context-For, with that report's SHA-256. It is a report of the chain
// like any other: written once, linked to the report before it.
func renderContext(r *Report) []byte {
	var b bytes.Buffer
	e := r.Event
	kv := func(k, v string) { fmt.Fprintf(&b, "%-16s %s\n", k+":", oneLine(v)) }
	section := func(name string) { fmt.Fprintf(&b, "\n== %s ==\n", name) }

	heading(&b, contextTitle)
	kv("What", e.Msg)
	kv("When-UTC", e.TS.UTC().Format(event.TimeLayout))
	kv("Type", e.Type)
	kv("Target", e.Target)
	kv("Host", e.Host)
	kv(keyEventID, e.ID)
	kv(keyReportID, r.ShortID)
	kv("Written-UTC", r.WrittenAt.UTC().Format(event.TimeLayout))
	kv(keyContext, r.ContextFor.Name)
	kv(keyContext+"-SHA256", r.ContextFor.SHA256)
	chainFields(kv, r.Prev)
	if !r.WrittenAt.IsZero() && !e.TS.IsZero() {
		kv("After-Event", r.WrittenAt.Sub(e.TS.Time).Round(time.Millisecond).String())
	}
	renderResults(&b, kv, section, r.Results)
	b.WriteString("\n-- end of report --\n")
	return b.Bytes()
}
