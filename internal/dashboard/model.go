package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/score"
)

// Windows are the spans the timeline and the scores are drawn over, the
// first being the default.
var Windows = []score.Window{
	{Label: "24h", Dur: 24 * time.Hour},
	{Label: "1h", Dur: time.Hour},
	{Label: "7d", Dur: 7 * 24 * time.Hour},
	{Label: "30d", Dur: 30 * 24 * time.Hour},
}

// loc is where a record's line is: which archive file of the current
// reading, at which offset, how long.
type loc struct {
	file uint16
	n    uint32
	off  int64
}

// evRec is what is held of one event: enough to filter, sort and draw it.
// Its message, detail and report are read back from the archive when a
// page shows it, so 100,000 events cost a few MiB, not the archive's size.
type evRec struct {
	ts     int64 // unix nanoseconds
	loc    loc
	target uint32 // index into model.names
	typ    uint16 // index into model.types
	sev    uint8
}

// Severities, in the order a filter ranks them.
const (
	sevInfo uint8 = iota
	sevWarning
	sevCritical
)

var sevNames = [...]string{sevInfo: event.SevInfo, sevWarning: event.SevWarning, sevCritical: event.SevCritical}

func parseSev(s string) uint8 {
	switch s {
	case event.SevCritical:
		return sevCritical
	case event.SevWarning:
		return sevWarning
	}
	return sevInfo
}

// model is everything read from the archive, rebuilt from scratch when
// the archive was rotated or rewritten and extended as it grows.
// Dashboard.mu guards it.
type model struct {
	seed  maphash.Seed
	names []string
	byNm  map[string]uint32
	types []string
	byTyp map[string]uint16

	// names and types are as the archive has them (a page cleans them for
	// showing), so they match sre-score's targets.
	evs    []evRec          // in archive order
	sorted []int32          // evs by time, newest first; nil when stale
	byID   map[uint64]int32 // hash of an event id → index in evs (checked on read)
	// actions are sre-heal's records, by the hash of the event they answer.
	actions map[uint64][]loc
	// answers are recovered events by the hash of the crash they answer.
	answers map[uint64]int32
	hist    map[uint32]*history
	// pruned says, by report name, when and why sre-report prune removed it.
	pruned map[string]string
	agg    *score.Aggregator
	in     *event.Interner // targets, types and severities, shared by their records
	counts counts
}

// counts are what the reading of the archive met, for the page's footer.
type counts struct {
	Events, Actions, Summaries, Notices int
	Skipped                             int64
}

func newModel() *model {
	return &model{
		seed:    maphash.MakeSeed(),
		byNm:    map[string]uint32{},
		byTyp:   map[string]uint16{},
		byID:    map[uint64]int32{},
		actions: map[uint64][]loc{},
		answers: map[uint64]int32{},
		hist:    map[uint32]*history{},
		pruned:  map[string]string{},
		agg:     score.New(Windows, time.Time{}),
		in:      event.NewInterner(),
	}
}

func (m *model) hash(s string) uint64 { return maphash.String(m.seed, s) }

func (m *model) name(s string) uint32 {
	if i, ok := m.byNm[s]; ok {
		return i
	}
	i := uint32(len(m.names))
	m.names = append(m.names, s)
	m.byNm[s] = i
	return i
}

func (m *model) typ(s string) uint16 {
	if i, ok := m.byTyp[s]; ok {
		return i
	}
	if len(m.types) >= 1<<16-1 {
		s = "other" // more than 65,535 event types: not ours
		if i, ok := m.byTyp[s]; ok {
			return i
		}
	}
	i := uint16(len(m.types))
	m.types = append(m.types, s)
	m.byTyp[s] = i
	return i
}

// add reads one record of kind found at l. It returns false for a record
// the dashboard cannot use (counted as skipped). Events and actions are
// read through the score's view (event.ReadRecord, which passes over a
// crash's process and history without decoding them): the model and the
// scores read each line once.
func (m *model) add(kind string, raw []byte, l loc) bool {
	switch kind {
	case event.KindEvent, event.KindAction, event.KindSummary:
	case event.KindNotice:
		m.counts.Notices++
		if bytes.Contains(raw, []byte(`"report_pruned"`)) {
			var n struct {
				TS     event.Time `json:"ts"`
				Code   string     `json:"code"`
				Detail struct {
					Name string `json:"name"`
					Why  string `json:"why"`
				} `json:"detail"`
			}
			if json.Unmarshal(raw, &n) == nil && n.Code == "report_pruned" && n.Detail.Name != "" {
				m.pruned[n.Detail.Name] = fmt.Sprintf("pruned at %s by the retention policy (%s); its summary stays in the archive", fmtUTC(n.TS.Time), n.Detail.Why)
			}
		}
		return true
	default:
		return true // samples, scores: nothing to draw
	}
	rv, ok, err := event.ReadRecord(kind, raw, m.in)
	if err != nil || !ok {
		return false
	}
	m.agg.Add(&rv)
	switch kind {
	case event.KindSummary:
		var s event.Summary
		if json.Unmarshal(raw, &s) != nil || s.Target == "" || s.To.IsZero() {
			return false
		}
		m.counts.Summaries++
		t := m.name(s.Target)
		h := m.hist[t]
		if h == nil {
			if len(m.hist) >= maxHistTargets {
				return true // counted, not drawn: see maxHistTargets
			}
			h = &history{}
			m.hist[t] = h
		}
		h.add(pointOf(&s))
		return true
	case event.KindAction:
		if rv.EventID == "" || rv.TS.IsZero() {
			return false
		}
		m.counts.Actions++
		k := m.hash(rv.EventID)
		m.actions[k] = append(m.actions[k], l)
		return true
	}
	id := rawString(rv.RawID)
	if rv.TS.IsZero() || id == "" || rv.Type == "" || rv.Target == "" {
		return false
	}
	m.counts.Events++
	i := int32(len(m.evs))
	m.evs = append(m.evs, evRec{ts: rv.TS.UnixNano(), loc: l, target: m.name(rv.Target), typ: m.typ(rv.Type), sev: parseSev(rv.Severity)})
	m.sorted = nil
	m.byID[m.hash(id)] = i
	if rv.Type == event.TypeRecovered && rv.CrashID != "" {
		m.answers[m.hash(rv.CrashID)] = i
	}
	return true
}

// rawString is the string a JSON string value holds ("" for anything else).
func rawString(v []byte) string {
	if len(v) >= 2 && v[0] == '"' && bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1])
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return ""
	}
	return s
}

// byTime returns the events newest first (the caller holds Dashboard.mu;
// sort is made under its write lock whenever events are added).
func (m *model) byTime() []int32 {
	return m.sorted
}

// sort makes sorted again; the caller holds mu for writing.
func (m *model) sort() {
	if m.sorted != nil {
		return
	}
	s := make([]int32, len(m.evs))
	for i := range s {
		s[i] = int32(i)
	}
	slices.SortStableFunc(s, func(a, b int32) int {
		ta, tb := m.evs[a].ts, m.evs[b].ts
		switch {
		case ta > tb:
			return -1
		case ta < tb:
			return 1
		}
		return int(b - a) // same time: the later line first
	})
	m.sorted = s
}

// clean makes a name from the archive safe to hold and show: valid UTF-8,
// no control characters (an ANSI escape in a target name shows as ␛[…).
// html/template escapes what is left for HTML.
func clean(s string) string {
	ok := utf8.ValidString(s)
	if ok {
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] == 0x7f {
				ok = false
				break
			}
		}
	}
	if ok {
		return s
	}
	return cleanText(s, false)
}

// cleanText is clean for a text of several lines: newlines and tabs stay
// when keepLines is set; every other control character is shown by its
// Unicode picture (U+2400 block), invalid UTF-8 as U+FFFD.
func cleanText(s string, keepLines bool) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case keepLines && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r < 0x20:
			b.WriteRune(0x2400 + r)
		case r == 0x7f:
			b.WriteRune('\u2421')
		case r >= 0x80 && r < 0xa0: // C1 controls (CSI and friends)
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
