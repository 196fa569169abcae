// Package scorecmd is the sre-score command: stability figures per target
// and window from the event archive, as score records, a table, Prometheus
// text, a node_exporter textfile or a live exporter.
package scorecmd

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/olekukonko/tablewriter"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/ndjson"
	"github.com/localsre/sre-agent/internal/score"
)

const tool = "sre-score"

const usage = `sre-score — MTBF, MTTR, availability and a 0–100 stability score per target.

Usage:
  sre-score [flags] [FILE...]     FILE: an archive (default sre_reports/events.ndjson),
                                  gzip-compressed or not; - for stdin

Examples:
  sre-score                                        # table on a terminal, score records in a pipe
  sre-score --window 24h,30d sre_reports/events.ndjson.1.gz sre_reports/events.ndjson
  sre-score --format prom                          # Prometheus text on stdout
  sre-score --textfile /var/lib/node_exporter/textfile/sre.prom --fail-below 50 sre_reports/events.ndjson
  sre-score --listen 127.0.0.1:9478                # exporter following the archive
  sre-score --alert --fail-below 80 | sre-heal --rules rules.yaml

The score is 100 × availability × 1/(1 + failures/max(observed_days, 1)):
docs/score.md shows how to recompute it by hand.
`

// DefaultArchive is read when no FILE is given.
const DefaultArchive = "sre_reports/events.ndjson"

type options struct {
	files       []string
	at          string
	windows     string
	format      string
	textfile    string
	listen      string
	allowRemote bool
	failBelow   float64
	alert       bool
	strict      bool
	version     bool
	failSet     bool
}

// Run is the sre-score command.
func Run(ctx context.Context, std cli.IO, args []string) error {
	var o options
	fs := cli.NewFlagSet(tool, usage, std.Out)
	fs.StringVar(&o.at, "at", "", "score as of this time, RFC 3339 (default now)")
	fs.StringVar(&o.windows, "window", "1h,24h,7d", "rolling windows ending at --at: s, m, h, d, w")
	fs.StringVar(&o.format, "format", "auto", "auto (table on a terminal, else json), table, json or prom")
	fs.StringVar(&o.textfile, "textfile", "", "also write Prometheus text to FILE atomically (node_exporter textfile collector); stdout stays quiet unless --format is given")
	fs.StringVar(&o.listen, "listen", "", "serve /metrics on ADDR (loopback only), following the archive as it grows (sre_archive_up says whether it can be read)")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "let --listen bind the non-loopback address given")
	fs.Float64Var(&o.failBelow, "fail-below", 0, "exit 1 when any target's score in any window is below N (0-100)")
	fs.BoolVar(&o.alert, "alert", false, "also emit a stability_low event per target and window below --fail-below (default 50)")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 when any line was skipped")
	fs.BoolVar(&o.version, "version", false, "print the version")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if o.version {
		fmt.Fprintf(std.Out, "%s %s\n", tool, cli.Version())
		return nil
	}
	o.failSet = fs.Changed("fail-below")
	o.files = fs.Args()
	if len(o.files) == 0 {
		o.files = []string{DefaultArchive}
	}
	windows, err := score.ParseWindows(o.windows)
	if err != nil {
		return cli.Usagef("--window: %v", err)
	}
	switch o.format {
	case "auto", "table", "json", "prom":
	default:
		return cli.Usagef("--format %q: want auto, table, json or prom", o.format)
	}
	if o.failSet && (o.failBelow < 0 || o.failBelow > 100 || math.IsNaN(o.failBelow)) {
		return cli.Usagef("--fail-below %v: want 0-100", o.failBelow)
	}
	at := std.Now()
	if o.at != "" {
		if o.listen != "" {
			return cli.Usagef("--at: not with --listen (the exporter scores as of each scrape)")
		}
		at, err = time.Parse(time.RFC3339Nano, o.at)
		if err != nil {
			return cli.Usagef("--at %q: want RFC 3339 such as 2026-01-02T15:04:05Z", o.at)
		}
	}
	if o.listen != "" {
		if o.textfile != "" || o.alert || o.failSet {
			return cli.Usagef("--listen: not with --textfile, --alert or --fail-below")
		}
		return listen(ctx, std, o, windows)
	}
	if o.allowRemote {
		return cli.Usagef("--allow-remote: only with --listen")
	}
	agg := score.New(windows, at)
	skipped, err := readAll(ctx, std, o.files, agg)
	if err != nil {
		return err
	}
	snap := agg.Snapshot(at)
	if o.textfile != "" {
		if err := writeTextfile(o.textfile, snap); err != nil {
			return err
		}
	}
	if err := output(std, o, snap); err != nil {
		if ndjson.IsClosed(err) {
			return nil
		}
		return err
	}
	threshold := 50.0
	if o.failSet {
		threshold = o.failBelow
	}
	var below []score.Result
	for _, r := range snap.Results {
		if r.Score < threshold {
			below = append(below, r)
		}
	}
	if o.alert {
		if err := alerts(std, below, at, threshold); err != nil && !ndjson.IsClosed(err) {
			return err
		}
	}
	if o.strict && skipped > 0 {
		return cli.Failf("%d lines skipped (--strict)", skipped)
	}
	if o.failSet && len(below) > 0 {
		for _, r := range below {
			fmt.Fprintf(std.Err, "%s: %s: score %.2f in %s is below %g\n", tool, r.Target, r.Score, r.Window, threshold)
		}
		return cli.Failf("%d target windows below %g (--fail-below)", len(below), threshold)
	}
	return nil
}

// readAll folds every input into agg and returns the lines skipped.
func readAll(ctx context.Context, std cli.IO, files []string, agg *score.Aggregator) (int64, error) {
	var skipped int64
	for _, name := range files {
		var r io.Reader
		label := name
		if name == "-" {
			r, label = std.In, "stdin"
		} else {
			f, err := os.Open(name)
			if err != nil {
				return skipped, cli.Failf("read archive: %v", err)
			}
			defer f.Close()
			r = f
		}
		c, err := readOne(ctx, std, label, r, agg)
		skipped += c.SkippedTotal()
		if err != nil {
			return skipped, err
		}
	}
	return skipped, nil
}

// readOne reads one archive, gzip-compressed or not (by its magic bytes).
// It returns the reader's counts, skipped lines by reason among them.
func readOne(ctx context.Context, std cli.IO, label string, r io.Reader, agg *score.Aggregator) (ndjson.Counts, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return ndjson.Counts{}, cli.Failf("read %s: %v", label, err)
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	warner := ndjson.NewWarner(tool, label, std.Err)
	c, err := score.ReadArchive(ctx, r, agg, warner.Skip)
	warner.Summary(c)
	if n := c.Skipped[score.SkipBadRecord]; n > 0 {
		fmt.Fprintf(std.Err, "%s: %s: of them bad_record=%d (valid JSON, a field of the wrong type)\n", tool, label, n)
	}
	if err != nil {
		return c, cli.Failf("read %s: %v", label, err)
	}
	return c, nil
}

func output(std cli.IO, o options, snap score.Snapshot) error {
	format := o.format
	if format == "auto" {
		if o.textfile != "" {
			return nil // cron: the textfile is the output
		}
		format = "json"
		if cli.IsTerminal(std.Out) {
			format = "table"
		}
	}
	switch format {
	case "prom":
		return score.WriteText(std.Out, snap)
	case "table":
		return table(std.Out, snap)
	}
	w := ndjson.NewWriter(std.Out)
	host := hostname()
	for _, r := range snap.Results {
		if err := w.Encode(Record(r, host, snap.At)); err != nil {
			return err
		}
	}
	return nil
}

// Record is the score record of r.
func Record(r score.Result, host string, at time.Time) event.Score {
	a := r.Availability
	return event.Score{
		Header:  event.NewHeader(event.KindScore, tool, host, at),
		Target:  r.Target,
		Window:  r.Window,
		Crashes: r.Crashes, Restarts: r.Restarts, OOMKills: r.OOMKills,
		UptimeS: r.UptimeS, DowntimeS: r.DowntimeS,
		MTBFS: r.MTBFS, MTTRS: r.MTTRS, Availability: &a,
		Score:   r.Score,
		Explain: r.Explain.Map(),
	}
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

func table(w io.Writer, snap score.Snapshot) error {
	if len(snap.Results) == 0 {
		_, err := fmt.Fprintln(w, "no target has events in any window")
		return err
	}
	t := tablewriter.NewTable(w)
	t.Header("TARGET", "WINDOW", "SCORE", "AVAILABILITY", "FAILURES", "MTBF", "MTTR", "RESTARTS", "OOM")
	for _, r := range snap.Results {
		row := []string{r.Target, r.Window, strconv.FormatFloat(r.Score, 'f', 2, 64),
			strconv.FormatFloat(100*r.Availability, 'f', 3, 64) + "%", strconv.Itoa(r.Failures),
			dur(r.MTBFS), dur(r.MTTRS), strconv.Itoa(r.Restarts), strconv.Itoa(r.OOMKills)}
		if err := t.Append(row); err != nil {
			return cli.Failf("table: %v", err)
		}
	}
	if err := t.Render(); err != nil {
		return cli.Failf("table: %v", err)
	}
	return nil
}

func dur(s *float64) string {
	if s == nil {
		return "-"
	}
	return time.Duration(*s * float64(time.Second)).Round(time.Second).String()
}

// alerts emits one stability_low event per result below threshold.
func alerts(std cli.IO, below []score.Result, at time.Time, threshold float64) error {
	w := ndjson.NewWriter(std.Out)
	host := hostname()
	for _, r := range below {
		h := sha256.Sum256([]byte(host + "\x00" + r.Target + "\x00" + r.Window + "\x00" + strconv.FormatInt(at.UnixNano(), 10)))
		ev := event.Event{
			Header:   event.NewHeader(event.KindEvent, tool, host, at),
			ID:       at.UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(h[:8]),
			Type:     score.TypeStabilityLow,
			Severity: event.SevWarning,
			Target:   r.Target,
			Msg: fmt.Sprintf("%s scores %.2f over %s, below %g: %d failures, availability %.3f%%.",
				r.Target, r.Score, r.Window, threshold, r.Failures, 100*r.Availability),
			Detail: map[string]any{"window": r.Window, "score": r.Score, "threshold": threshold,
				"failures": r.Failures, "availability": r.Availability, "explain": r.Explain.Map()},
		}
		if err := w.Encode(ev); err != nil {
			return err
		}
	}
	return nil
}

// writeTextfile writes the metrics to path atomically: a temp file in the
// same directory (not ending in .prom, so the collector never reads it
// half-written), fsync, rename.
func writeTextfile(path string, snap score.Snapshot) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return cli.Failf("write textfile %s: %v", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return cli.Failf("write textfile %s: %v", path, err)
	}
	bw := bufio.NewWriter(f)
	if err := score.WriteText(bw, snap); err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return cli.Failf("write textfile %s: %v", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return cli.Failf("write textfile %s: %v", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
