package logtail

// ring keeps the last len(buf) lines, oldest first, counting what it pushes
// out. Its memory is bounded by its capacity times the longest line kept,
// which cutLine bounds in turn.
type ring struct {
	buf     []string
	start   int
	n       int
	dropped uint64
}

func newRing(capacity int) ring { return ring{buf: make([]string, capacity)} }

func (r *ring) push(s string) {
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = s
		r.n++
		return
	}
	r.buf[r.start] = s
	r.start = (r.start + 1) % len(r.buf)
	r.dropped++
}

// lines returns a copy, oldest first.
func (r *ring) lines() []string {
	out := make([]string, r.n)
	for i := range out {
		out[i] = r.buf[(r.start+i)%len(r.buf)]
	}
	return out
}
