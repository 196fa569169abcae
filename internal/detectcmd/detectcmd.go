// Package detectcmd is the sre-detect command: flags, usage and the wiring
// of stdin through the detection engine (internal/detect) to stdout.
package detectcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/detect"
	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/ndjson"
)

const tool = "sre-detect"

const usage = `sre-detect — turn a stream of samples into the events a person needs.

Usage:
  sre-sample TARGET | sre-detect [flags]

Reads NDJSON records on stdin and writes "event" and "summary" records (and
a "notice" when the kernel OOM-killed a process that is no target's) to
stdout, the moment they exist. Every record that is not a sample passes
through unchanged and in order (--pass passes the samples too). Conditions
are edge-triggered per process: one event when they start, one when they
end. All timing (--absent-after, --*-for, --cooldown, --summary) is on the
samples' own timestamps, so replaying a recorded stream gives the same
events.

Detectors (turn off with --disable NAME): crash, started, recovered,
restarted, pod, unhealthy, flapping, absent, memory, leak, threads, fds,
cpu, oom, custom.

A Kubernetes pod target (sre-sample --pod, --pod-selector: samples with a
"pod") has events of its own, from the pod detector: started; crash, one
per container restart, dated when the container died; recovered, with the
kubelet's downtime; crashloop (CrashLoopBackOff), unready and evicted, once
each time they begin; deleted when the API server deleted the pod.

Examples:
  sre-sample nginx | sre-detect
  sre-sample --pidfile /run/app.pid | sre-detect --mem-max 1.5GiB --cpu-max 150 --cpu-for 5m
  sre-sample api | sre-detect --mem-max 80% --leak-window 30m --leak-rate 5MiB/h
  sre-sample worker | sre-detect --when 'zombie=.process.state == "Z"' --when-severity zombie=critical
  sre-sample worker | sre-detect --when 'busy=.process.cpu_pct > 50' --when-for busy=30s
  sre-detect --summary 0 --disable threads,cpu < recorded.ndjson | jq -c 'select(.type == "crash")'
  sre-sample app | sre-detect --pass | sre-report
  sre-sample api | sre-detect --config detect.yaml   # mem_max: 1.5GiB, leak_window: 30m, …
`

// Options are sre-detect's flags, parsed into the engine's configuration.
type Options struct {
	Config  detect.Config
	Pass    bool
	Strict  bool
	Version bool
	// State is the --state file: the last sighting of each target, read at
	// start and kept as samples come (state.go).
	State string
}

func parse(std cli.IO, args []string) (*Options, error) {
	o := &Options{Config: detect.Defaults()}
	c := &o.Config
	fs := cli.NewFlagSet(tool, usage, std.Out)
	fs.BoolVar(&o.Pass, "pass", false, "pass the samples through too (after them come the events they caused)")
	fs.StringSliceVar(&c.Disabled, "disable", nil, "turn off the detectors `NAME[,NAME]` (repeatable)")
	durVar(fs, &c.AbsentAfter, "absent-after", "a target with no process for this long is \"absent\" (0: never)")
	fs.IntVar(&c.History, "history", c.History, "samples of run-up (ts, cpu, rss, threads, fds) a crash carries in detail.history")
	durVar(fs, &c.Cooldown, "cooldown", "least time between two starts of the same condition of one process")
	pctVar(fs, &c.Hysteresis, "hysteresis", "how far (`PCT` of the threshold) a value must fall back before its condition ends")
	limitVar(fs, &c.MemMax, "mem-max", "process RSS at or above `SIZE|PCT` (1.5GiB, 512MB, or 80%: of its cgroup's memory limit when it has one, else of host memory) is memory_high (0: off)", detect.ParseSizeOrPct)
	limitVar(fs, &c.HostMemMin, "host-mem-min", "host available memory below `SIZE|PCT` is memory_high (0: off)", detect.ParseSizeOrPct)
	floatPctVar(fs, &c.PSIMax, "psi-max", "memory pressure (PSI some avg10) at or above `PCT` is memory_high (0: off)")
	durVar(fs, &c.MemFor, "mem-for", "a memory condition must hold this long before memory_high")
	durVar(fs, &c.LeakWindow, "leak-window", "fit a line to RSS over this window; leak_suspected needs half of it (0: off)")
	rateVar(fs, &c.LeakRate, "leak-rate", "growth at or above `RATE` (1MiB/m, 100KiB/s, 2GB/h) is a leak")
	fs.Float64Var(&c.LeakR2, "leak-r2", c.LeakR2, "least fit quality (R², 0–1) for a leak: steady growth, not noise")
	limitVar(fs, &c.ThreadsDelta, "threads-delta", "threads_changed when the count moves by `N|PCT` (10, or 50%) (0: off)", detect.ParseDelta)
	floatPctVar(fs, &c.FDsPct, "fds-pct", "fds_high at `PCT` of the process's open-files limit, when the sample knows it")
	fs.IntVar(&c.FDsMax, "fds-max", c.FDsMax, "fds_high at `N` open files when the limit is not known (0: off)")
	durVar(fs, &c.FDsFor, "fds-for", "fds must stay high this long before fds_high")
	floatPctVar(fs, &c.CPUMax, "cpu-max", "cpu_high at or above `PCT` of one core (150 = one and a half cores) (0: off)")
	durVar(fs, &c.CPUFor, "cpu-for", "CPU must stay high this long before cpu_high")
	fs.IntVar(&c.FlapCount, "flap-count", c.FlapCount, "flapping after `N` deaths of a target (crashes, restarts by a container's restart policy) within --flap-window (0: off)")
	durVar(fs, &c.FlapWindow, "flap-window", "the window of --flap-count")
	var whens, whenFor, whenSev []string
	fs.StringArrayVar(&whens, "when", nil, "custom condition `NAME=JQ` over each sample, true when the output is not false/null (repeatable)")
	fs.StringArrayVar(&whenFor, "when-for", nil, "condition NAME must hold this long: `NAME=DURATION` (repeatable)")
	fs.StringArrayVar(&whenSev, "when-severity", nil, "severity of condition NAME: `NAME=critical|warning|info` (default warning)")
	durVar(fs, &c.Summary, "summary", "a summary record per target every period of sample time (0: off)")
	fs.BoolVar(&o.Strict, "strict", false, "exit 1 when any line or sample was skipped")
	fs.StringVar(&o.State, "state", "", "keep each target's last sighting in `FILE`, so that a restart tells what happened while nothing watched (a crash or a restart)")
	config := fs.String("config", "", "read flags from the YAML `FILE` (mem_max: 80%, leak_window: 30m, …); flags given here win")
	fs.BoolVar(&o.Version, "version", false, "print the version and exit")
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	if o.Version {
		return o, nil
	}
	if fs.NArg() > 0 {
		return nil, cli.Usagef("unexpected argument %q: sre-detect reads stdin (see --help)", fs.Arg(0))
	}
	if *config != "" {
		if err := applyConfig(fs, *config); err != nil {
			return nil, err
		}
	}
	if err := o.whens(whens, whenFor, whenSev); err != nil {
		return nil, err
	}
	if err := c.Check(); err != nil {
		return nil, cli.Usagef("%v", err)
	}
	if o.State != "" {
		prior, err := readState(o.State)
		if err != nil {
			return nil, cli.Usagef("--state %s: %v", o.State, err)
		}
		c.Prior = prior
	}
	return o, nil
}

func (o *Options) whens(whens, whenFor, whenSev []string) error {
	for _, w := range whens {
		name, expr, ok := strings.Cut(w, "=")
		name = strings.TrimSpace(name)
		if !ok || !validName(name) || strings.TrimSpace(expr) == "" {
			return cli.Usagef("--when %q: want NAME=JQ_EXPRESSION, NAME of letters, digits, - and _", w)
		}
		o.Config.Whens = append(o.Config.Whens, detect.When{Name: name, Expr: expr})
	}
	find := func(flag, arg string) (*detect.When, string, error) {
		name, val, ok := strings.Cut(arg, "=")
		if !ok {
			return nil, "", cli.Usagef("--%s %q: want NAME=VALUE", flag, arg)
		}
		i := slices.IndexFunc(o.Config.Whens, func(w detect.When) bool { return w.Name == name })
		if i < 0 {
			return nil, "", cli.Usagef("--%s %s: no --when named %q", flag, arg, name)
		}
		return &o.Config.Whens[i], val, nil
	}
	for _, a := range whenFor {
		w, v, err := find("when-for", a)
		if err != nil {
			return err
		}
		if w.For, err = detect.ParseDuration(v); err != nil {
			return cli.Usagef("--when-for %s: %v", a, err)
		}
	}
	for _, a := range whenSev {
		w, v, err := find("when-severity", a)
		if err != nil {
			return err
		}
		w.Severity = v
	}
	return nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// Run is sre-detect. A sample line is checked while it is decoded, not
// once by the reader and again by the decoder, and decoding runs beside the
// detectors (pipeline.go).
func Run(ctx context.Context, std cli.IO, args []string) error {
	o, err := parse(std, args)
	if err != nil {
		var ce *detect.CompileError
		if errors.As(err, &ce) {
			return cli.Usagef("%v", ce)
		}
		return err
	}
	if o.Version {
		fmt.Fprintf(std.Out, "%s %s\n", tool, cli.Version())
		return nil
	}
	warn := ndjson.NewWarner(tool, "stdin", std.Err)
	o.Config.Warnf = func(format string, a ...any) { fmt.Fprintf(std.Err, tool+": "+format+"\n", a...) }
	out := ndjson.NewWriter(std.Out)
	eng, err := detect.New(o.Config, out.Encode)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	d := &driver{o: o, out: out, eng: eng, warn: warn, skipped: map[string]int64{}, stderr: std.Err}
	quit := make(chan struct{})
	defer close(quit)
	done := make(chan error, 1)
	// Samples are decoded in full anyway, and the decoder checks what it
	// reads: the reader's check is the decoder, and a sample line is
	// scanned once. Its warnings go to the detector side, to be printed in
	// line order.
	d.dec = detect.NewDecoder()
	d.r = ndjson.NewReader(std.In, ndjson.WithCheck(d.dec.Check),
		ndjson.OnSkip(func(s ndjson.Skip) { d.cur.items = append(d.cur.items, item{skip: &s}) }))
	go func() { done <- d.pipeline(quit) }()
	ended := true
	select {
	case err = <-done:
	case <-ctx.Done():
		// Finish the record in hand, flush, and go: the reader may be
		// blocked on a pipe that never closes.
		err, ended = nil, false
	}
	return d.finish(std.Err, err, ended)
}

// driver moves records from the reader to the engine and the writer. mu
// makes a record and the final flush exclusive, so a signal never cuts a
// record in half.
type driver struct {
	dec     *detect.Decoder // the reader's check: decodes samples as it reads them
	o       *Options
	r       *ndjson.Reader
	out     *ndjson.Writer
	eng     *detect.Engine
	warn    *ndjson.Warner
	mu      sync.Mutex
	stopped bool
	skipped map[string]int64
	// snap is the reader's counts as of the last record, for a stop while
	// the reader may still be counting.
	snap ndjson.Counts
	cur  *batch // the batch being filled
	// The --state file's last write, by sample time, and its last error
	// said.
	stateAt      time.Time
	stateChanges uint64
	stateErr     string
	stderr       io.Writer
}

// use passes rec on and runs the detectors on its sample, decoded into s,
// unless derr says why it is unusable.
func (d *driver) use(rec ndjson.Record, derr error, s *detect.Sample) error {
	if rec.Kind != event.KindSample { // a later "kind" key said otherwise
		return d.out.WriteLine(rec.Raw)
	}
	if d.o.Pass {
		if werr := d.out.WriteLine(rec.Raw); werr != nil {
			return werr
		}
	}
	err := derr
	if err == nil {
		err = d.eng.UseSample(s)
	}
	if err == nil {
		d.keepState(s.TS, false)
		return nil
	}
	var se *detect.SkipError
	if errors.As(err, &se) {
		d.skipped[se.Reason]++
		d.warn.Skip(ndjson.Skip{Line: rec.Line, Reason: se.Reason, Err: se.Err})
		return nil
	}
	return err
}

func (d *driver) finish(stderr io.Writer, err error, ended bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.stopped {
		d.stopped = true
		if err == nil {
			err = d.eng.Flush()
		}
		d.keepState(time.Time{}, true)
	}
	if errors.Is(err, ndjson.ErrClosed) {
		return nil // the reader of our output is gone: a quiet end
	}
	if err != nil {
		var ce *cli.Error
		if errors.As(err, &ce) {
			return err
		}
		return cli.Failf("%v", err)
	}
	counts := d.snap
	if ended {
		counts = d.r.Counts()
	}
	d.warn.Summary(counts)
	var n int64
	var parts []string
	for _, k := range []string{detect.SkipBadSample, detect.SkipOutOfOrder, detect.SkipDuplicate, detect.SkipStale} {
		if v := d.skipped[k]; v > 0 {
			n += v
			parts = append(parts, fmt.Sprintf("%s=%d", k, v))
		}
	}
	if n > 0 {
		fmt.Fprintf(stderr, "%s: stdin: %d samples skipped (%s)\n", tool, n, strings.Join(parts, " "))
	}
	if d.o.Strict && n+counts.SkippedTotal() > 0 {
		return cli.Failf("--strict: %d lines and %d samples skipped", counts.SkippedTotal(), n)
	}
	return nil
}

// Flag values: each parses with the detect package's parsers, so a bad
// value fails at parse time naming its flag.

type parsed[T any] struct {
	p     *T
	parse func(string) (T, error)
	typ   string
	text  string
}

func (v *parsed[T]) String() string { return v.text }
func (v *parsed[T]) Type() string   { return v.typ }
func (v *parsed[T]) Set(s string) error {
	x, err := v.parse(s)
	if err != nil {
		return err
	}
	*v.p, v.text = x, s
	return nil
}

func durVar(fs *pflag.FlagSet, p *time.Duration, name, help string) {
	text := p.String()
	if *p == 0 {
		text = "0"
	}
	fs.Var(&parsed[time.Duration]{p: p, parse: detect.ParseDuration, typ: "duration", text: text}, name, help)
}

func limitVar(fs *pflag.FlagSet, p *detect.Limit, name, help string, parse func(string) (detect.Limit, error)) {
	text := ""
	if !p.IsZero() {
		text = p.String()
	}
	fs.Var(&parsed[detect.Limit]{p: p, parse: parse, typ: "string", text: text}, name, help)
}

// pctVar stores a percentage as a fraction (10% → 0.1).
func pctVar(fs *pflag.FlagSet, p *float64, name, help string) {
	text := fmt.Sprintf("%g%%", *p*100)
	fs.Var(&parsed[float64]{p: p, typ: "string", text: text, parse: func(s string) (float64, error) {
		v, err := detect.ParsePct(s)
		return v / 100, err
	}}, name, help)
}

// floatPctVar stores a percentage as a number of percent (80% → 80).
func floatPctVar(fs *pflag.FlagSet, p *float64, name, help string) {
	fs.Var(&parsed[float64]{p: p, parse: detect.ParsePct, typ: "string", text: fmt.Sprintf("%g", *p)}, name, help)
}

func rateVar(fs *pflag.FlagSet, p *float64, name, help string) {
	text := detect.FormatBytes(*p*60) + "/m"
	text = strings.ReplaceAll(text, " ", "")
	fs.Var(&parsed[float64]{p: p, parse: detect.ParseRate, typ: "string", text: text}, name, help)
}
