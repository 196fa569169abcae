package dashboard

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// maxLive bounds the pages following /live at once; one more is told to
// come back later (503), and a page without it still works (reload).
const maxLive = 64

// live is a Server-Sent Events stream: "change" each time the archive
// gained records, so an open page fetches itself again and shows them
// without a reload. A page passes the generation it was made at (since=);
// a change made between the page and the stream is sent at once.
func (d *Dashboard) live(w http.ResponseWriter, r *http.Request) {
	if d.followers.Add(1) > maxLive {
		d.followers.Add(-1)
		http.Error(w, "too many live pages; reload to see what is new", http.StatusServiceUnavailable)
		return
	}
	defer d.followers.Add(-1)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	gen, ch := d.watch()
	send := func(format string, args ...any) bool {
		// The server's write timeout would end a stream; each write gets
		// its own deadline instead, so a client that stopped reading is
		// dropped and a live one is kept.
		rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("retry: 2000\n\n") {
		return
	}
	if since, err := strconv.ParseUint(r.URL.Query().Get("since"), 10, 64); err == nil && since != gen {
		if !send("event: change\ndata: %d\n\n", gen) {
			return
		}
	}
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ch:
			gen, ch = d.watch()
			if !send("event: change\ndata: %d\n\n", gen) {
				return
			}
		case <-keep.C:
			if !send(": keep-alive\n\n") {
				return
			}
		}
	}
}
