package dashboard

import (
	"slices"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// The trend graphs read the archive's summary records (one per target per
// sre-detect --summary period, a minute by default). What the dashboard
// holds of them is bounded, whatever the archive's size:
//
//   - per target, the latest fineCap summaries as they came (48 h of
//     one-minute summaries), and coarseCap points of coarseStep each
//     (30 days), every summary folded into the point of its step;
//   - at most maxHistTargets targets (the first seen); summaries of others
//     are counted and not drawn.
//
// A point is 40 bytes: about 225 KiB per target, 14 MiB at most for 64
// targets of 30 days each; a homelab's ten targets hold 2.2 MiB.
const (
	fineCap        = 2880
	coarseCap      = 2880
	coarseStep     = 15 * time.Minute
	maxHistTargets = 64
)

// point is one summary period of one target, or several folded together.
type point struct {
	ts                     int64   // end of the period, unix nanoseconds
	rssAvg, rssMax         float32 // bytes: 24 bits of precision are plenty for a graph
	cpuAvg, cpuMax         float32
	threadsMax, fdsMax     float32
	n                      int32 // summaries folded in
	hasRSS, hasCPU, hasThr bool
	hasFDs                 bool
}

func pointOf(s *event.Summary) point {
	p := point{ts: s.To.UnixNano(), n: 1}
	if s.RSS != nil {
		p.rssAvg, p.rssMax, p.hasRSS = float32(s.RSS.Avg), float32(s.RSS.Max), true
	}
	if s.CPUPct != nil {
		p.cpuAvg, p.cpuMax, p.hasCPU = float32(s.CPUPct.Avg), float32(s.CPUPct.Max), true
	}
	if s.Threads != nil {
		p.threadsMax, p.hasThr = float32(s.Threads.Max), true
	}
	if s.FDs != nil {
		p.fdsMax, p.hasFDs = float32(s.FDs.Max), true
	}
	return p
}

// fold adds q into p: averages weighted by the summaries in each, maxima
// kept, the later end.
func (p *point) fold(q point) {
	w1, w2 := float64(p.n), float64(q.n)
	avg := func(a, b float64, ha, hb bool) float64 {
		switch {
		case ha && hb:
			return (a*w1 + b*w2) / (w1 + w2)
		case hb:
			return b
		}
		return a
	}
	p.rssAvg = float32(avg(float64(p.rssAvg), float64(q.rssAvg), p.hasRSS, q.hasRSS))
	p.cpuAvg = float32(avg(float64(p.cpuAvg), float64(q.cpuAvg), p.hasCPU, q.hasCPU))
	p.rssMax = max(p.rssMax, q.rssMax)
	p.cpuMax = max(p.cpuMax, q.cpuMax)
	p.threadsMax = max(p.threadsMax, q.threadsMax)
	p.fdsMax = max(p.fdsMax, q.fdsMax)
	p.hasRSS, p.hasCPU, p.hasThr, p.hasFDs = p.hasRSS || q.hasRSS, p.hasCPU || q.hasCPU, p.hasThr || q.hasThr, p.hasFDs || q.hasFDs
	p.ts = max(p.ts, q.ts)
	p.n += q.n
}

// ring is a fixed-capacity buffer of points, oldest overwritten.
type ring struct {
	buf  []point
	next int
	full bool
}

func (r *ring) push(p point, capacity int) {
	if r.buf == nil {
		r.buf = make([]point, 0, 64)
	}
	if !r.full && len(r.buf) < capacity {
		r.buf = append(r.buf, p)
		if len(r.buf) == capacity {
			r.full, r.next = true, 0
		}
		return
	}
	r.buf[r.next] = p
	r.next = (r.next + 1) % capacity
}

func (r *ring) last() *point {
	if len(r.buf) == 0 {
		return nil
	}
	if !r.full {
		return &r.buf[len(r.buf)-1]
	}
	return &r.buf[(r.next+len(r.buf)-1)%len(r.buf)]
}

// points returns the points in [from, to], by time.
func (r *ring) points(from, to int64) []point {
	var out []point
	for _, p := range r.buf {
		if p.ts >= from && p.ts <= to {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b point) int {
		switch {
		case a.ts < b.ts:
			return -1
		case a.ts > b.ts:
			return 1
		}
		return 0
	})
	return out
}

// history is one target's trend: fine and coarse.
type history struct {
	fine, coarse ring
}

func (h *history) add(p point) {
	h.fine.push(p, fineCap)
	step := int64(coarseStep)
	if l := h.coarse.last(); l != nil && (l.ts-1)/step == (p.ts-1)/step {
		l.fold(p)
		return
	}
	h.coarse.push(p, coarseCap)
}

// points returns the points drawn for [from, to]: the fine ones when they
// reach back to from, the coarse ones otherwise.
func (h *history) points(from, to int64) []point {
	fine := h.fine.points(from, to)
	if h.fine.full && len(fine) > 0 && fine[0].ts > from+int64(coarseStep) {
		return h.coarse.points(from, to) // the fine ring no longer reaches back to from
	}
	if len(fine) > 0 || !h.fine.full {
		return fine
	}
	return h.coarse.points(from, to)
}
