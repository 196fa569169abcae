package dashboard

import (
	"context"
	"io"
	"net/http"
	"time"
)

// Options say what a Dashboard reads.
type Options struct {
	Dir string           // the report directory (reports and events.ndjson)
	Now func() time.Time // nil: time.Now
	Err io.Writer        // diagnostics, one line each; nil: discarded
	// Poll is how often the directory is read again for what is new
	// (0: one second).
	Poll time.Duration
}

// Dashboard serves the pages of one report directory.
type Dashboard struct {
	o   Options
	mux *http.ServeMux
}

// New returns a Dashboard of o.Dir; it reads nothing until Run.
func New(o Options) (*Dashboard, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Err == nil {
		o.Err = io.Discard
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	d := &Dashboard{o: o, mux: http.NewServeMux()}
	d.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>sre-agent</title><p>dashboard</p>\n")
	})
	return d, nil
}

// Handler serves the pages. It does not check methods, Host or
// credentials: wrap it in Guard.
func (d *Dashboard) Handler() http.Handler { return d.mux }

// Run follows the directory until ctx is done.
func (d *Dashboard) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
