package detect

import (
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// summaries makes one summary record per target and period of sample time.
// Periods are aligned to multiples of the period (every minute on the
// minute), so that every run over the same stream cuts them alike. A
// period's summaries go out with the first sample of a later period, or at
// the end of the input.
type summaries struct {
	period time.Duration
	acc    map[*Target]*acc
	cur    int64 // the period the stream clock is in
	active bool
}

type acc struct {
	bucket             int64
	last               time.Time
	n                  int
	cpu, rss, thr, fds stat
	slope              fit
	tickTS             time.Time
	tickRSS            float64
	tickOpen           bool
}

type stat struct {
	n             int
	min, max, sum float64
}

func (s *stat) add(v float64) {
	if s.n == 0 || v < s.min {
		s.min = v
	}
	if s.n == 0 || v > s.max {
		s.max = v
	}
	s.n++
	s.sum += v
}

func (s *stat) get() *event.Stat {
	if s.n == 0 {
		return nil
	}
	return &event.Stat{Min: s.min, Avg: round(s.sum/float64(s.n), 3), Max: s.max}
}

func newSummaries(p time.Duration) *summaries {
	return &summaries{period: p, acc: map[*Target]*acc{}}
}

func (m *summaries) bucket(ts time.Time) int64 {
	n, p := ts.UnixNano(), int64(m.period)
	if n < 0 {
		return (n - p + 1) / p
	}
	return n / p
}

// flushBefore sends the summaries of every period that ended before ts.
func (m *summaries) flushBefore(e *Engine, ts time.Time) {
	b := m.bucket(ts)
	if m.active && b <= m.cur {
		return
	}
	m.cur, m.active = b, true
	for _, t := range e.order {
		a := m.acc[t]
		if a != nil && a.bucket < b {
			m.send(e, t, a, false)
			delete(m.acc, t)
		}
	}
}

func (m *summaries) flushAll(e *Engine) {
	for _, t := range e.order {
		if a := m.acc[t]; a != nil {
			m.send(e, t, a, true)
			delete(m.acc, t)
		}
	}
}

func (m *summaries) add(t *Target, s *Sample) {
	b := m.bucket(s.TS)
	a := m.acc[t]
	if a == nil {
		a = &acc{bucket: b}
		m.acc[t] = a
	}
	if b < a.bucket {
		return // a late exit sample of the previous period: already told
	}
	if s.TS.After(a.last) {
		a.last = s.TS
	}
	if !s.Up || s.HasExit {
		return
	}
	a.n++
	if s.CPU.OK {
		a.cpu.add(s.CPU.V)
	}
	a.rss.add(float64(s.RSS))
	a.thr.add(float64(s.Threads))
	if s.FDs.OK {
		a.fds.add(float64(s.FDs.V))
	}
	// The slope is of the target's total RSS per tick, so that several
	// processes under one target make one line.
	if a.tickOpen && !s.TS.Equal(a.tickTS) {
		a.slope.add(float64(a.tickTS.UnixNano())/1e9, a.tickRSS)
		a.tickRSS = 0
	}
	a.tickTS, a.tickOpen = s.TS, true
	a.tickRSS += float64(s.RSS)
}

func (m *summaries) send(e *Engine, t *Target, a *acc, partial bool) {
	if a.tickOpen {
		a.slope.add(float64(a.tickTS.UnixNano())/1e9, a.tickRSS)
		a.tickOpen = false
	}
	from := time.Unix(0, a.bucket*int64(m.period))
	to := from.Add(m.period)
	if partial {
		to = a.last
	}
	slope, _, _ := a.slope.line()
	e.send(&event.Summary{
		Header:  event.NewHeader(event.KindSummary, Src, t.Host, to),
		Target:  t.Name,
		From:    event.At(from),
		To:      event.At(to),
		Samples: a.n,
		CPUPct:  a.cpu.get(),
		RSS:     a.rss.get(),
		Threads: a.thr.get(),
		FDs:     a.fds.get(),
		Slope:   round(slope, 3),
	})
}
