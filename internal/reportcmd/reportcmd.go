// Package reportcmd is the sre-report command: the stream filter that
// writes forensic reports and the archive, and the subcommands that read
// them back (list, show, verify, ecs; one file each, dispatched from the
// table in subcommands.go).
package reportcmd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/forensics"
	"github.com/localsre/sre-agent/internal/ndjson"
	"github.com/localsre/sre-agent/internal/report"
)

const tool = "sre-report"

// usage is sre-report's help: the filter's synopsis, the subcommands'
// from their table (subcommands.go), then the rest.
var usage = `sre-report — write a forensic report for every failure, and keep the event archive.

Usage:
` + usageLine("... | sre-report [flags]", "filter: report events, archive, pass everything on") +
	subcommandUsage() + `
Every record passes through unchanged and in order; an event of a type in
--on gets a report at once (the event, the process, the run-up, the log
tail), and leaves annotated with "report": its path, added to the line as
it came, so fields sre-report does not know stay. The slower evidence
(journal, host, kernel, Docker, Kubernetes, tools) follows in a linked
context report, NAME_context.txt. Every event, action, notice and summary
(not samples) is appended to DIR/events.ndjson. Several sre-report
processes may share one DIR: they take turns under the lock DIR/.lock.

Examples:
  sre-sample api | sre-detect | sre-report --log /var/log/api.log
  sre-sample --pidfile /run/db.pid | sre-detect | sre-report --log db=/var/log/db.log --on crash,oom_kill
  sre-report list --since 24h --type crash
  sre-report list --where '.process.rss_bytes > 1e9'
  sre-report show 3f9a1c2e
  sre-report verify --dir /var/lib/sre/reports
`

// DefaultOn is the event types reported unless --on says otherwise.
var DefaultOn = []string{"crash", "oom_kill", "absent", "leak_suspected", "memory_high", "evicted"}

// Options are the filter's flags.
type Options struct {
	Dir      string
	On       []string
	Logs     []string
	LogLines int
	// ContainerLogLines is how many of a container's last log lines a
	// report keeps.
	ContainerLogLines int
	Journal           []string
	Timeout           time.Duration
	DockerSock        string
	Strict            bool
	MaxLine           int
	Launch            bool
	RetryEvery        time.Duration
	FlushWait         time.Duration
	Version           bool
	Disks             []string
}

func dirDefault(std cli.IO) string {
	if d := std.Getenv("SRE_REPORT_DIR"); d != "" {
		return d
	}
	return "sre_reports"
}

// Run is sre-report.
func Run(ctx context.Context, std cli.IO, args []string) error {
	if len(args) > 0 {
		if sub := findSubcommand(args[0]); sub != nil {
			return sub.run(ctx, std, args[1:])
		}
	}
	o := &Options{}
	fs := cli.NewFlagSet(tool, usage, std.Out)
	for _, s := range subcommands { // for --completion
		cli.Subcommand(fs, s.name, s.summary, func(args []string) error { return s.run(ctx, std, args) })
	}
	fs.StringVar(&o.Dir, "dir", dirDefault(std), "report directory (env SRE_REPORT_DIR)")
	fs.StringSliceVar(&o.On, "on", DefaultOn, "event `TYPES` that get a report (comma-separated)")
	fs.StringArrayVar(&o.Logs, "log", nil, "follow application log `FILE` (or TARGET=FILE) from now on; its tail goes in reports (repeatable)")
	fs.IntVar(&o.LogLines, "log-lines", 100, "log lines kept per file")
	fs.IntVar(&o.ContainerLogLines, "container-log-lines", forensics.DefaultContainerLogLines, "a container's last log lines (both streams, with Docker's timestamps) kept in its report")
	fs.StringArrayVar(&o.Journal, "journal-unit", nil, "add `UNIT`'s journal lines (journalctl -u) to reports (repeatable)")
	fs.DurationVar(&o.Timeout, "collector-timeout", 2*time.Second, "longest wait for each evidence collector")
	fs.StringVar(&o.DockerSock, "docker-socket", "", "Docker Engine unix socket (default: the daemon DOCKER_HOST names, unix or tcp with DOCKER_CERT_PATH, else /var/run/docker.sock)")
	fs.StringArrayVar(&o.Disks, "disk", []string{"/"}, "disk usage of the filesystem holding `PATH` in reports (repeatable)")
	fs.BoolVar(&o.Launch, "launch", false, "after a crash report, open the fitting operator tool on the terminal (only with a controlling terminal)")
	fs.BoolVar(&o.Strict, "strict", false, "exit 1 if any input line was skipped")
	fs.IntVar(&o.MaxLine, "max-line", ndjson.DefaultMaxLine, "longest input line in bytes; longer lines are skipped and counted")
	fs.DurationVar(&o.RetryEvery, "retry", 5*time.Second, "how often to retry a report or archive record that could not be written")
	fs.DurationVar(&o.FlushWait, "flush-timeout", 10*time.Second, "at the end of input, how long to keep retrying what could not be written yet before naming it lost (exit 1)")
	fs.BoolVar(&o.Version, "version", false, "print the version and exit")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if o.Version {
		fmt.Fprintf(std.Out, "%s %s\n", tool, cli.Version())
		return nil
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q (subcommands: %s)", fs.Arg(0), subcommandNames())
	}
	if err := o.check(); err != nil {
		return err
	}
	return filter(ctx, std, o)
}

func (o *Options) check() error {
	switch {
	case o.LogLines < 1 || o.LogLines > 100000:
		return cli.Usagef("--log-lines %d: must be between 1 and 100000", o.LogLines)
	case o.ContainerLogLines < 1 || o.ContainerLogLines > 100000:
		return cli.Usagef("--container-log-lines %d: must be between 1 and 100000", o.ContainerLogLines)
	case o.Timeout <= 0:
		return cli.Usagef("--collector-timeout %v: must be positive", o.Timeout)
	case o.MaxLine < 1024:
		return cli.Usagef("--max-line %d: must be at least 1024", o.MaxLine)
	case o.RetryEvery <= 0:
		return cli.Usagef("--retry %v: must be positive", o.RetryEvery)
	case o.FlushWait < 0:
		return cli.Usagef("--flush-timeout %v: must not be negative", o.FlushWait)
	case o.Dir == "":
		return cli.Usagef("--dir: empty")
	}
	for _, t := range o.On {
		if t == "" || strings.Trim(t, "abcdefghijklmnopqrstuvwxyz_") != "" {
			return cli.Usagef("--on %q: not an event type", t)
		}
	}
	return nil
}

// shortID is the report id: 8 hex digits derived from the event id.
func shortID(eventID string) string {
	s := sha256.Sum256([]byte(eventID))
	return hex.EncodeToString(s[:4])
}

// pending is a report that could not be written yet: the first report of
// an event (written again from the event), or a context report (kept as
// rendered, with the evidence gathered once).
type pending struct {
	ev      *event.Event
	context *report.Report
	tries   int
}

// maxContextRuns bounds the context reports gathered at once.
const maxContextRuns = 4

type filterState struct {
	std    cli.IO
	o      *Options
	dir    *report.Dir
	out    *ndjson.Writer
	on     map[string]bool
	host   string
	first  []forensics.Entry // evidence in the report written at once
	slow   []forensics.Entry // evidence in the context report that follows
	stop   func()
	launch *launcher

	mu        sync.Mutex // guards retry, lostEarly and warnedAr: context reports are written in the background
	retry     []*pending
	lostEarly int // reports given up at once, named when they were, because maxPending waited
	warnedAr  bool
	// gathering holds the events whose context report is being gathered
	// or waits for its turn (maxContextRuns at a time), so that one still
	// there when sre-report ends is named.
	gathering map[*event.Event]bool

	contexts sync.WaitGroup
	running  atomic.Int32 // context reports being gathered or written
	ctxRuns  chan struct{}
}

func filter(ctx context.Context, std cli.IO, o *Options) error {
	dir, err := report.Open(o.Dir)
	if err != nil {
		return cli.Usagef("--dir: %v", err)
	}
	defer dir.Close()
	if _, err := dir.Head(); err != nil {
		return cli.Failf("%v", err)
	}
	host, _ := os.Hostname()
	st := &filterState{std: std, o: o, dir: dir, out: ndjson.NewWriter(std.Out), on: map[string]bool{}, host: host,
		ctxRuns: make(chan struct{}, maxContextRuns)}
	for _, t := range o.On {
		st.on[t] = true
	}
	first, slow, stop, err := collectors(ctx, std, o)
	if err != nil {
		return err
	}
	// The context's collectors yield the CPU (see yielding); the warm-up
	// started above keeps the collectors themselves.
	st.first, st.slow, st.stop = first, yieldingAll(slow), stop
	defer stop()
	if o.Launch {
		st.launch = newLauncher(func(format string, args ...any) {
			fmt.Fprintf(std.Err, tool+": "+format+"\n", args...)
		})
	}

	warner := ndjson.NewWarner(tool, "stdin", std.Err)
	rd := ndjson.NewReader(std.In, ndjson.WithMaxLine(o.MaxLine), ndjson.OnSkip(warner.Skip))
	recs := rd.Chan(ctx)
	retry := time.NewTicker(o.RetryEvery)
	defer retry.Stop()
	var invalid int64
	for {
		select {
		case <-ctx.Done():
			// Context reports being gathered are bounded by
			// --collector-timeout: let them land.
			// What is still unwritten gets one more try, and is named.
			lost := st.drain(0)
			warner.Summary(rd.Counts())
			if lost > 0 {
				return cli.Failf("%d reports or archive records lost (named above)", lost)
			}
			return nil
		case <-retry.C:
			st.flushArchive()
			if err := st.retryPending(); err != nil {
				return st.outErr(err)
			}
		case it := <-recs:
			if it.Err != nil {
				if !errors.Is(it.Err, io.EOF) {
					fmt.Fprintf(std.Err, "%s: stdin: %v\n", tool, it.Err)
				}
				lost := st.drain(o.FlushWait)
				c := rd.Counts()
				warner.Summary(c)
				if invalid > 0 {
					fmt.Fprintf(std.Err, "%s: stdin: %d events skipped as invalid\n", tool, invalid)
				}
				if lost > 0 {
					return cli.Failf("%d reports or archive records lost (named above): still not written %v after the end of input", lost, o.FlushWait)
				}
				if o.Strict && c.SkippedTotal()+invalid > 0 {
					return cli.Failf("--strict: %d input lines skipped", c.SkippedTotal()+invalid)
				}
				return nil
			}
			skipped, err := st.handle(it.Record)
			if skipped {
				invalid++
				warner.Skip(ndjson.Skip{Line: it.Record.Line, Reason: "invalid_event", Err: err})
				continue
			}
			if err != nil {
				return st.outErr(err)
			}
			if err := st.retryPending(); err != nil {
				return st.outErr(err)
			}
		}
	}
}

func (st *filterState) outErr(err error) error {
	if errors.Is(err, ndjson.ErrClosed) {
		return nil
	}
	return cli.Failf("%v", err)
}

// handle archives and passes one record on; an event of a reported type
// gets its report first. skipped reports an event that is not valid.
func (st *filterState) handle(rec ndjson.Record) (skipped bool, err error) {
	switch rec.Kind {
	case event.KindEvent:
		var ev event.Event
		if err := json.Unmarshal(rec.Raw, &ev); err != nil {
			return true, err
		}
		if err := ev.Validate(); err != nil {
			return true, err
		}
		if st.on[ev.Type] && ev.Report == "" {
			return false, st.reportAndPass(&ev, rec.Raw)
		}
		st.archive(rec.Raw, ev.Severity == event.SevCritical)
		return false, st.out.WriteLine(rec.Raw)
	case event.KindAction, event.KindNotice, event.KindSummary:
		// Summaries too (one per target per --summary period, not every
		// sample): sre-score's memory gauges are made from them.
		st.archive(rec.Raw, rec.Kind == event.KindAction)
	}
	return false, st.out.WriteLine(rec.Raw)
}

// archive appends to events.ndjson; a failure is said on stderr (once
// until the archive is written again) and the stream goes on: the record
// still reaches the next stage, and waits in memory, in order, to be
// written by a later append or retry.
func (st *filterState) archive(line []byte, critical bool) {
	st.archived(st.dir.AppendArchive(line, critical))
}

func (st *filterState) archived(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err != nil {
		if !st.warnedAr {
			fmt.Fprintf(st.std.Err, "%s: %v (records still pass on; the archive's are kept in memory and retried every %v)\n", tool, err, st.o.RetryEvery)
			st.warnedAr = true
		}
		return
	}
	if st.warnedAr {
		fmt.Fprintf(st.std.Err, "%s: archive: written again, no record lost\n", tool)
	}
	st.warnedAr = false
}

// flushArchive retries the archive records waiting in memory.
func (st *filterState) flushArchive() {
	n, err := st.dir.Flush()
	st.mu.Lock()
	warned := st.warnedAr
	st.mu.Unlock()
	if err != nil || n == 0 && warned {
		st.archived(err)
	}
}

// waitContexts waits at most d for the context reports being gathered.
func (st *filterState) waitContexts(d time.Duration) {
	done := make(chan struct{})
	go func() {
		st.contexts.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// drain is the end of input (or a signal): it waits for the context
// reports being gathered, retries what could not be written for at most
// wait, then names every event whose report or archive
// record is lost, and returns how many are.
func (st *filterState) drain(wait time.Duration) int {
	deadline := time.Now().Add(wait)
	st.waitContexts(st.o.Timeout + time.Second + wait)
	every := min(st.o.RetryEvery, 200*time.Millisecond)
	for {
		st.flushArchive()
		if err := st.retryPending(); err != nil && !errors.Is(err, ndjson.ErrClosed) {
			fmt.Fprintf(st.std.Err, "%s: %v\n", tool, err)
		}
		if st.waiting() == 0 && st.running.Load() == 0 && st.unwritten() == 0 || !time.Now().Before(deadline) {
			break
		}
		time.Sleep(every)
	}
	lost := 0
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, p := range st.retry {
		fmt.Fprintf(st.std.Err, "%s: lost: the %s of event %s (%s of %s): not written after %d tries\n", tool, p.what(), p.ev.ID, p.ev.Type, p.ev.Target, p.tries)
		lost++
	}
	still := make([]*event.Event, 0, len(st.gathering))
	for ev := range st.gathering {
		still = append(still, ev)
	}
	slices.SortFunc(still, func(a, b *event.Event) int { return strings.Compare(a.ID, b.ID) })
	for _, ev := range still {
		fmt.Fprintf(st.std.Err, "%s: lost: the context report of event %s (%s of %s): still being gathered when sre-report ended\n", tool, ev.ID, ev.Type, ev.Target)
		lost++
	}
	labels, more := st.dir.Unwritten()
	for _, label := range labels {
		fmt.Fprintf(st.std.Err, "%s: lost: %s: not in the archive\n", tool, label)
		lost++
	}
	if more > 0 {
		fmt.Fprintf(st.std.Err, "%s: lost: %d more records not in the archive (not named: over %d)\n", tool, more, report.MaxDroppedNamed)
		lost += more
	}
	return lost + st.lostEarly
}

// unwritten counts the archive records not written.
func (st *filterState) unwritten() int {
	labels, more := st.dir.Unwritten()
	return len(labels) + more
}

// reportAndPass writes the report of ev, decoded from raw, and passes raw
// on with "report": its path added. The event leaves as it came, every
// field kept — those a user or a newer stage added too — so it is
// annotated on its own bytes, never encoded again from ev.
func (st *filterState) reportAndPass(ev *event.Event, raw []byte) error {
	path, annotated, follow, sync, err := st.write(ev, raw)
	if err != nil {
		fmt.Fprintf(st.std.Err, "%s: %v; the event passes on without a report, retrying every %v\n", tool, err, st.o.RetryEvery)
		st.pend(&pending{ev: ev, tries: 1})
		st.archive(raw, ev.Severity == event.SevCritical)
		return st.out.WriteLine(raw)
	}
	// The context is gathered once the event has left: its collectors
	// fork processes and scan /proc, and on a busy machine they would
	// otherwise compete for the CPU with the write of the event, and with
	// the next stage reading it.
	defer follow()
	// The report is durable; the archive's record of it is written, and
	// made durable once the event has left (Dir.WriteFirst).
	werr := st.out.WriteLine(annotated)
	if err := sync(); err != nil {
		fmt.Fprintf(st.std.Err, "%s: %v: the archive records of event %s may not be durable\n", tool, err, ev.ID)
	}
	if werr != nil {
		return werr
	}
	st.launch.open(ev, path)
	return nil
}

// annotate is the event line raw with "report": path added. raw is an
// object the reader and the decoder have accepted, which Annotate cannot
// refuse; were it refused, the event would go on as it came, unannotated,
// rather than lose a field.
func annotate(raw []byte, path string) []byte {
	line, err := event.Annotate(make([]byte, 0, len(raw)+len(path)+16), raw, "report", path)
	if err != nil {
		return raw
	}
	return line
}

// write writes the report of ev, archives the event line raw annotated
// with the report's path (unless raw is nil: archived already, on a retry)
// and the report_written notice, and returns the report's path, the
// annotated line, and follow, which starts gathering its context report
// in the background: the caller calls it once it has said the report is
// written.
func (st *filterState) write(ev *event.Event, raw []byte) (path string, annotated []byte, follow func(), sync func() error, err error) {
	now := st.std.Now()
	inc := &forensics.Incident{Event: ev, Process: ev.Process, Target: ev.Target, At: ev.TS.Time, Now: now}
	first, slow := st.split(inc)
	results := forensics.Run(context.Background(), first, inc, st.o.Timeout)
	id := shortID(ev.ID)
	r := &report.Report{
		Event: ev, ShortID: id,
		Name:      report.FileName(ev.TS.Time, ev.Target, ev.Type, id),
		WrittenAt: now, Results: results,
	}
	if len(slow) > 0 {
		r.ContextName = report.ContextName(r.Name)
	}
	// The annotated event and the report_written notice go to the archive
	// under the same hold of the directory's lock as the report itself.
	path, sum, sync, archErr, err := st.dir.WriteFirst(r, func(path, sum string) [][]byte {
		var lines [][]byte
		if raw != nil {
			annotated = annotate(raw, path)
			lines = append(lines, annotated)
		}
		n := event.Notice{
			Header: event.NewHeader(event.KindNotice, tool, st.host, now),
			Code:   report.NoticeReportWritten,
			Msg:    fmt.Sprintf("report written for %s %s of %s", ev.Type, ev.ID, ev.Target),
			Detail: map[string]any{"name": baseName(path), "path": path, "sha256": sum, "event_id": ev.ID},
		}
		nraw, _ := json.Marshal(&n)
		return append(lines, nraw)
	})
	if err != nil {
		return "", nil, nil, nil, err
	}
	st.archived(archErr)
	follow = func() {}
	if len(slow) > 0 {
		// Counted now, so drain waits for it even before it starts.
		st.contexts.Add(1)
		st.running.Add(1)
		st.mu.Lock()
		if st.gathering == nil {
			st.gathering = map[*event.Event]bool{}
		}
		st.gathering[ev] = true
		st.mu.Unlock()
		follow = func() { go st.gatherContext(ev, inc, slow, r, path, sum) }
	}
	return path, annotated, follow, sync, nil
}

// gatherContext runs the slower collectors for a report just written and
// writes their evidence as its context report, linked to it by name and
// SHA-256 and chained like any report. It runs in the background: the first
// report and its event never wait for it.
func (st *filterState) gatherContext(ev *event.Event, inc *forensics.Incident, slow []forensics.Entry, first *report.Report, path, sum string) {
	defer st.contexts.Done()
	defer st.running.Add(-1)
	defer func() {
		st.mu.Lock()
		delete(st.gathering, ev)
		st.mu.Unlock()
	}()
	st.ctxRuns <- struct{}{}
	results := forensics.Run(context.Background(), slow, inc, st.o.Timeout)
	<-st.ctxRuns
	cr := &report.Report{
		Event: ev, ShortID: first.ShortID, Name: first.ContextName,
		WrittenAt: st.std.Now(), Results: results,
		ContextFor: report.Link{Name: baseName(path), SHA256: sum},
	}
	if err := st.writeContext(cr); err != nil {
		fmt.Fprintf(st.std.Err, "%s: %v; retrying every %v\n", tool, err, st.o.RetryEvery)
		st.pend(&pending{ev: ev, context: cr, tries: 1})
	}
}

func (st *filterState) writeContext(cr *report.Report) error {
	_, _, archErr, err := st.dir.Write(cr, func(path, sum string) [][]byte {
		n := event.Notice{
			Header: event.NewHeader(event.KindNotice, tool, st.host, cr.WrittenAt),
			Code:   report.NoticeReportWritten,
			Msg:    fmt.Sprintf("context report written for %s %s of %s", cr.Event.Type, cr.Event.ID, cr.Event.Target),
			Detail: map[string]any{"name": baseName(path), "path": path, "sha256": sum, "event_id": cr.Event.ID,
				"context_for": cr.ContextFor.Name},
		}
		raw, _ := json.Marshal(&n)
		return [][]byte{raw}
	})
	if err == nil {
		st.archived(archErr)
	}
	return err
}

// maxPending bounds the reports kept in memory to be written again: each
// holds its event, history included. One past it is given up at once, and
// named.
const maxPending = 1000

// pend keeps p to be written again, or names it lost when maxPending wait.
func (st *filterState) pend(p *pending) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.retry) < maxPending {
		st.retry = append(st.retry, p)
		return
	}
	fmt.Fprintf(st.std.Err, "%s: lost: the %s of event %s (%s of %s): %d reports already wait to be written\n",
		tool, p.what(), p.ev.ID, p.ev.Type, p.ev.Target, len(st.retry))
	st.lostEarly++
}

func (p *pending) what() string {
	if p.context != nil {
		return "context report"
	}
	return "report"
}

func (st *filterState) waiting() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.retry)
}

// retryPending tries again the reports that could not be written; a report
// written late is announced downstream by its report_written notice.
func (st *filterState) retryPending() error {
	st.mu.Lock()
	todo := st.retry
	st.retry = nil
	st.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	var left []*pending
	defer func() {
		st.mu.Lock()
		st.retry = append(left, st.retry...)
		st.mu.Unlock()
	}()
	for i, p := range todo {
		if p.context != nil {
			if err := st.writeContext(p.context); err != nil {
				p.tries++
				left = append(left, p)
			}
			continue
		}
		path, _, follow, sync, err := st.write(p.ev, nil)
		if err != nil {
			p.tries++
			left = append(left, p)
			continue
		}
		if err := sync(); err != nil {
			fmt.Fprintf(st.std.Err, "%s: %v: the archive records of event %s may not be durable\n", tool, err, p.ev.ID)
		}
		fmt.Fprintf(st.std.Err, "%s: report for event %s written on try %d: %s\n", tool, p.ev.ID, p.tries+1, path)
		n := event.Notice{
			Header: event.NewHeader(event.KindNotice, tool, st.host, st.std.Now()),
			Code:   report.NoticeReportWritten,
			Msg:    fmt.Sprintf("report for %s %s of %s written late, on try %d", p.ev.Type, p.ev.ID, p.ev.Target, p.tries+1),
			Detail: map[string]any{"path": path, "event_id": p.ev.ID, "late": true},
		}
		err = st.out.Encode(&n)
		follow()
		if err != nil {
			left = append(left, todo[i+1:]...)
			return err
		}
	}
	return nil
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}
