package scorecmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/ndjson"
	"github.com/localsre/sre-agent/internal/score"
)

// follower reads the archives incrementally: from the last offset up to the
// last full line. A file that shrank or was replaced (rotation) is read
// again from the start, with every file, into a fresh Aggregator. Each
// file's health (readable or not, last good read, lines skipped) is kept
// for the exporter's own metrics, and a change of it is said once on
// stderr.
type follower struct {
	mu      sync.Mutex
	std     cli.IO
	windows []score.Window
	files   []*followed
	agg     *score.Aggregator
}

type followed struct {
	path   string
	offset int64
	ino    uint64
	dev    uint64
	size   int64
	gz     bool
	tail   []byte // the bytes just before offset, to notice a rewrite
	health archiveHealth
}

// archiveHealth is what the exporter says of one archive file.
type archiveHealth struct {
	checked  bool      // a first check was made
	up       bool      // readable at the last check
	lastRead time.Time // of the last check that could read it
	// skipped counts the lines skipped, by reason, since the file was last
	// read from its start (a rotation resets it, as a counter may).
	skipped map[string]int64
}

// rewritten reports whether the bytes before offset are no longer those
// that were read: truncated and written again, even to the same size.
func (fl *followed) rewritten() bool { return !fl.gz && ndjson.Rewritten(fl.path, fl.offset, fl.tail) }

func newFollower(std cli.IO, paths []string, windows []score.Window) *follower {
	f := &follower{std: std, windows: windows, agg: score.New(windows, time.Time{})}
	for _, p := range paths {
		f.files = append(f.files, &followed{path: p, health: archiveHealth{skipped: map[string]int64{}}})
	}
	return f
}

// openArchive opens an archive for reading; a directory is refused here,
// as reading it would fail anyway.
func openArchive(path string) (*os.File, os.FileInfo, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := file.Stat()
	if err == nil && st.IsDir() {
		err = &fs.PathError{Op: "read", Path: path, Err: syscall.EISDIR}
	}
	if err != nil {
		file.Close()
		return nil, nil, err
	}
	return file, st, nil
}

// refresh reads what was appended since the last call.
func (f *follower) refresh() {
	for _, fl := range f.files {
		file, st, err := openArchive(fl.path)
		if err != nil {
			f.down(fl, err) // not there yet, rotated away or unreadable: keep what we have
			continue
		}
		var ino, dev uint64
		if s, ok := st.Sys().(*syscall.Stat_t); ok {
			ino, dev = s.Ino, uint64(s.Dev)
		}
		changed := fl.offset > 0 && (ino != fl.ino || dev != fl.dev || st.Size() < fl.offset || (fl.gz && st.Size() != fl.size) || fl.rewritten())
		if changed {
			file.Close()
			f.reset()
			f.refresh()
			return
		}
		fl.ino, fl.dev, fl.size = ino, dev, st.Size()
		if st.Size() > fl.offset || (fl.offset == 0 && st.Size() > 0) {
			err = f.readFrom(fl, file)
		}
		file.Close()
		if err != nil {
			f.down(fl, err)
			continue
		}
		f.up(fl)
	}
}

// down marks fl unreadable, saying so when it was not already.
func (f *follower) down(fl *followed, err error) {
	h := &fl.health
	if !h.checked || h.up {
		what := "serving what was read before"
		if h.lastRead.IsZero() {
			what = "no figures from it until it can be"
		}
		fmt.Fprintf(f.std.Err, "%s: archive %s cannot be read: %v; %s (sre_archive_up 0)\n", tool, fl.path, err, what)
	}
	h.checked, h.up = true, false
}

// up marks fl read, saying so when it was unreadable.
func (f *follower) up(fl *followed) {
	h := &fl.health
	if h.checked && !h.up {
		fmt.Fprintf(f.std.Err, "%s: archive %s is readable again\n", tool, fl.path)
	}
	h.checked, h.up, h.lastRead = true, true, f.std.Now()
}

func (f *follower) reset() {
	f.agg = score.New(f.windows, time.Time{})
	for _, fl := range f.files {
		fl.offset, fl.ino, fl.dev, fl.size, fl.gz, fl.tail = 0, 0, 0, 0, false, nil
		clear(fl.health.skipped)
	}
}

func (f *follower) readFrom(fl *followed, file *os.File) error {
	var magic [2]byte
	if n, _ := file.ReadAt(magic[:], 0); n == 2 && magic == [2]byte{0x1f, 0x8b} {
		// A compressed archive cannot be appended to line by line: read it
		// whole, again when its size changes.
		if fl.offset == 0 {
			fl.gz = true
			fl.offset = fl.size
			c, err := readOne(context.Background(), f.std, fl.path, file, f.agg)
			fl.count(c)
			return err
		}
		return nil
	}
	// Only up to the last newline: a line still being written waits for
	// the next scrape. The new part is streamed, never held whole.
	end, err := ndjson.LastNewline(file, fl.offset, fl.size)
	if err != nil {
		return err
	}
	if end <= fl.offset {
		return nil
	}
	warner := ndjson.NewWarner(tool, fl.path, f.std.Err)
	c, err := score.ReadArchive(context.Background(), io.NewSectionReader(file, fl.offset, end-fl.offset), f.agg, warner.Skip)
	warner.Summary(c)
	fl.count(c)
	// Past the section even when its read failed part way: what was
	// folded in must not be folded in again.
	fl.offset, fl.tail = end, ndjson.TailOf(file, end)
	return err
}

// count adds a read's skipped lines to fl's.
func (fl *followed) count(c ndjson.Counts) {
	for k, v := range c.Skipped {
		fl.health.skipped[k] += v
	}
}

func (f *follower) snapshot() (score.Snapshot, []archiveState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refresh()
	now := f.std.Now()
	s := f.agg.Snapshot(now)
	f.agg.Prune(now)
	st := make([]archiveState, 0, len(f.files))
	for _, fl := range f.files {
		st = append(st, archiveState{path: fl.path, up: fl.health.up, lastRead: fl.health.lastRead,
			skipped: maps.Clone(fl.health.skipped)})
	}
	return s, st
}

// guard serves GET and HEAD only, to a Host naming this listener, with
// nosniff and a CSP that allows nothing.
func guard(allowed func(string) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'")
		h.Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !allowed(r.Host) {
			http.Error(w, "misdirected request: unknown Host", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func listen(ctx context.Context, std cli.IO, o options, windows []score.Window) error {
	host, err := cli.CheckListen(o.listen, "127.0.0.1:9478", o.allowRemote)
	if err != nil {
		return err
	}
	for _, p := range o.files {
		if p == "-" {
			return cli.Usagef("--listen: follows files; stdin (-) cannot be followed")
		}
	}
	fol := newFollower(std, o.files, windows)
	fol.snapshot() // read what is there now, and report its skipped lines once
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(exporterCollector{fol})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "sre-score exporter: metrics at /metrics")
	})
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return cli.Failf("listen %s: %v", o.listen, err)
	}
	srv := &http.Server{
		Handler:           guard(cli.HostAllowed(host), mux),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	fmt.Fprintf(std.Err, "%s: serving http://%s/metrics\n", tool, ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-done
		return nil
	case err := <-done:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return cli.Failf("serve %s: %v", o.listen, err)
	}
}
