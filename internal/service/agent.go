package service

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/report"
)

// Notifier tells the service manager how the watch is doing (sd_notify:
// READY=1, STATUS=…, WATCHDOG=1, STOPPING=1). Notify reports false when
// there is no manager to tell.
type Notifier interface {
	Notify(state string) (bool, error)
}

// Journal takes an event as a structured journal entry.
type Journal interface {
	Send(msg string, priority int, fields map[string]string) error
}

// Syslog priorities (journald's PRIORITY).
const (
	PrioCrit    = 2
	PrioErr     = 3
	PrioWarning = 4
	PrioInfo    = 6
)

// Options are an Agent's outside world.
type Options struct {
	Name   string // the watch's name (the unit's instance)
	Config *Config
	Bin    string // the directory of the sre-* tools ("" : PATH)
	// Log writes one diagnostic line at a priority (the caller adds the
	// journal's <N> prefix when stderr is the journal). StageLog writes a
	// stage's own line, which names its tool already (nil: Log).
	Log      func(priority int, line string)
	StageLog func(priority int, line string)
	Notifier Notifier // nil: none
	Journal  Journal  // nil: events are not sent to the journal
	// Watchdog is the manager's watchdog interval (0: none). The agent
	// pings at half of it while records reach the end of the chain, and
	// stops pinging when they stop, so that a hung stage gets the whole
	// service restarted.
	Watchdog time.Duration
	// Stall is how long without a record at the end of the chain makes the
	// agent restart the chain itself, when there is no watchdog to do it
	// (0: 10 intervals and at least 30 s).
	Stall time.Duration
	// Out, when not nil, receives every record that reaches the end.
	Out io.Writer
	// StopGrace is how long the stages get to flush and exit on stop.
	StopGrace time.Duration
	Now       func() time.Time
}

// Agent runs one watch: the chain of its config, kept running.
type Agent struct {
	o      Options
	stages []Stage
	tmp    string // sre-detect's settings, written out

	mu        sync.Mutex
	last      time.Time // the last record at the end of the chain
	ready     bool
	lastEvent string
}

// ErrUsage is a chain that cannot start as configured (a stage refused its
// arguments): restarting it would not help.
var ErrUsage = errors.New("the chain refuses its configuration")

// New prepares an Agent: it finds the tools and writes sre-detect's
// settings where sre-detect can read them.
func New(o Options) (*Agent, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StopGrace <= 0 {
		o.StopGrace = 10 * time.Second
	}
	c := o.Config
	if o.Stall <= 0 {
		o.Stall = max(10*c.Interval, 30*time.Second)
	}
	a := &Agent{o: o}
	tool := func(name string) (string, error) {
		if o.Bin != "" {
			p := filepath.Join(o.Bin, name)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		return lookPath(name)
	}
	sampleArgs := append([]string{"--interval", c.Interval.String()}, c.Watch.sampleArgs()...)
	// Samples flow to the end: they are the chain's heartbeat. The state
	// file lets a chain started again tell what the target did while
	// nothing watched.
	detectArgs := []string{"--pass", "--state", filepath.Join(c.Dir, ".sre-detect-"+stateName(o.Name)+".state")}
	if c.Detect != "" {
		f, err := os.CreateTemp("", "sre-agent-detect-*.yaml")
		if err != nil {
			return nil, fmt.Errorf("sre-detect's settings: %w", err)
		}
		f.WriteString(c.Detect)
		f.Close()
		a.tmp = f.Name()
		detectArgs = append(detectArgs, "--config", a.tmp)
	}
	reportArgs := []string{"--dir", c.Dir}
	for _, l := range c.Logs {
		reportArgs = append(reportArgs, "--log", l)
	}
	specs := []Stage{{Name: "sre-sample", Args: sampleArgs}, {Name: "sre-detect", Args: detectArgs}, {Name: "sre-report", Args: reportArgs}}
	if c.Rules != "" {
		healArgs := []string{"--rules", c.Rules}
		if c.Apply {
			healArgs = append(healArgs, "--apply")
		}
		specs = append(specs, Stage{Name: "sre-heal", Args: healArgs})
	}
	for i := range specs {
		p, err := tool(specs[i].Name)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("%s: %w", specs[i].Name, err)
		}
		specs[i].Path = p
	}
	a.stages = specs
	return a, nil
}

// stateName is a watch name made safe for a file name.
func stateName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "watch"
	}
	return string(b)
}

// Stages returns the chain the agent runs.
func (a *Agent) Stages() []Stage { return a.stages }

// Close removes what New wrote.
func (a *Agent) Close() {
	if a.tmp != "" {
		os.Remove(a.tmp)
	}
}

func (a *Agent) logf(prio int, format string, args ...any) {
	if a.o.Log != nil {
		a.o.Log(prio, fmt.Sprintf(format, args...))
	}
}

func (a *Agent) notify(state string) {
	if a.o.Notifier != nil {
		a.o.Notifier.Notify(state)
	}
}

// Backoff between restarts of the chain: 1 s, doubling to 30 s while
// chains fail before they did their work for a while (a stage that cannot
// run: it exits, or crashes); back to 1 s after a chain whose records
// flowed for 3 intervals, at least 3 s, and after a stage killed from
// outside (SIGKILL, SIGTERM: no fault of the chain's, and the watch must
// come back at once).
const (
	backoffMin = time.Second
	backoffMax = 30 * time.Second
)

// Run runs the chain until ctx is done, starting it again whenever a stage
// ends or it stalls. It returns nil after a clean stop, ErrUsage when the
// chain refuses its configuration before anything flowed.
func (a *Agent) Run(ctx context.Context) error {
	// sre-detect's state file lives in the report directory, which
	// sre-report would make only once it starts.
	if err := os.MkdirAll(a.o.Config.Dir, 0o755); err != nil {
		return fmt.Errorf("report directory %s: %w", a.o.Config.Dir, err)
	}
	if len(a.o.Config.Prune) > 0 {
		pctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		defer func() { stop(); <-done }()
		go func() { defer close(done); a.pruneLoop(pctx) }()
	}
	backoff := backoffMin
	var gap *gapInfo
	for {
		started := a.o.Now()
		ch, err := StartChain(a.stages, a.stageLine)
		if err != nil {
			return err
		}
		a.logf(PrioInfo, "watching %s: %s", a.o.Config.Watch.What(), Describe(a.stages))
		res := a.follow(ctx, ch, gap)
		if res.flowed {
			gap = nil // follow wrote it when the first record came
		}
		switch {
		case res.stopped:
			a.notify("STOPPING=1\nSTATUS=stopping: flushing every event")
			ch.Stop(a.o.StopGrace)
			a.logf(PrioInfo, "stopped; every stage flushed and exited")
			if gap != nil {
				a.writeGap(gap, a.o.Now(), "the agent was stopped before the chain came back")
			}
			return nil
		case res.usage:
			ch.Abort(time.Second)
			return fmt.Errorf("%w: %s before any record flowed", ErrUsage, res.why)
		}
		ch.Abort(2 * time.Second)
		if res.killed || res.flowed && a.o.Now().Sub(started) >= max(3*a.o.Config.Interval, 3*time.Second) {
			backoff = backoffMin
		}
		a.logf(PrioErr, "the watch stopped: %s; starting the chain again in %s", res.why, backoff)
		a.notify("STATUS=restarting the chain: " + res.why)
		if gap == nil {
			gap = &gapInfo{from: res.at, why: res.why}
		} else {
			// The chain before did not come back: the gap goes on.
			gap.why += "; then " + res.why
		}
		select {
		case <-ctx.Done():
			a.notify("STOPPING=1")
			a.writeGap(gap, a.o.Now(), "the agent was stopped before the chain came back")
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, backoffMax)
	}
}

type gapInfo struct {
	from time.Time
	why  string
}

type followResult struct {
	stopped bool
	usage   bool
	flowed  bool // records reached the end before it ended
	killed  bool // a stage was killed from outside (SIGKILL, SIGTERM): no fault of its own
	why     string
	at      time.Time
}

// follow reads the chain's output until the chain ends, stalls or ctx is
// done; it notifies READY, STATUS and WATCHDOG as records come, and sends
// each event to the journal.
func (a *Agent) follow(ctx context.Context, ch *Chain, gap *gapInfo) followResult {
	records := make(chan []byte, 64)
	go func() {
		defer close(records)
		br := bufio.NewReaderSize(ch.Out, 64<<10)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				records <- line
			}
			if err != nil {
				ch.Out.Close()
				return
			}
		}
	}()
	period := a.o.Stall / 4
	if a.o.Watchdog > 0 {
		period = min(a.o.Watchdog/4, time.Second)
	}
	t := time.NewTicker(max(period, 100*time.Millisecond))
	defer t.Stop()
	tick := t.C
	start := a.o.Now()
	a.mu.Lock()
	a.last = start
	a.mu.Unlock()
	flowed := false
	for {
		select {
		case <-ctx.Done():
			return followResult{stopped: true}
		case line, ok := <-records:
			if !ok {
				// The last stage's output closed: it ended. Wait for its
				// exit to say which one went first.
				select {
				case ex := <-ch.Exits:
					return a.lost(ex, flowed)
				case <-ctx.Done():
					return followResult{stopped: true}
				}
			}
			now := a.o.Now()
			a.mu.Lock()
			a.last = now
			a.mu.Unlock()
			if !flowed {
				flowed = true
				if gap != nil {
					a.writeGap(gap, now, "")
				}
				a.markReady()
			}
			a.record(line)
		case ex := <-ch.Exits:
			return a.lost(ex, flowed)
		case <-tick:
			a.mu.Lock()
			idle := a.o.Now().Sub(a.last)
			a.mu.Unlock()
			switch {
			case a.o.Watchdog > 0:
				// Ping while records flow. When none came for a while (a
				// stage stopped or deadlocked), stop pinging: the manager's
				// watchdog restarts the service, every stage in its cgroup
				// with it.
				if flowed && idle < a.hung() {
					a.notify("WATCHDOG=1")
				}
			case idle >= a.o.Stall:
				return followResult{why: fmt.Sprintf("no record reached the end of the chain for %s (a stage hung)", idle.Round(time.Second)), at: a.o.Now(), flowed: flowed}
			}
		}
	}
}

// hung is how long without a record at the end of the chain means a stage
// hung, when a watchdog is to be told: 5 intervals, at least 5 s (a sample
// passes every interval; a report's fsyncs take milliseconds).
func (a *Agent) hung() time.Duration { return max(5*a.o.Config.Interval, 5*time.Second) }

// lost is the result for a stage that ended by itself.
func (a *Agent) lost(ex Exit, flowed bool) followResult {
	if !flowed && ex.Code() == 2 {
		return followResult{usage: true, why: ex.String()}
	}
	return followResult{why: ex.String(), at: ex.At, flowed: flowed, killed: ex.Killed()}
}

func (a *Agent) markReady() {
	a.mu.Lock()
	first := !a.ready
	a.ready = true
	a.mu.Unlock()
	status := "STATUS=" + a.status()
	if first {
		a.notify("READY=1\n" + status)
		a.logf(PrioInfo, "ready: the first sample went through every stage")
		return
	}
	a.notify(status)
}

func (a *Agent) status() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := "watching " + a.o.Config.Watch.What() + " every " + a.o.Config.Interval.String()
	if a.lastEvent != "" {
		s += "; last event: " + a.lastEvent
	}
	return s
}

// endRecord is what the agent reads of an event at the end of the chain.
type endRecord struct {
	Kind     string     `json:"kind"`
	TS       event.Time `json:"ts"`
	ID       string     `json:"id"`
	Type     string     `json:"type"`
	Severity string     `json:"severity"`
	Target   string     `json:"target"`
	Msg      string     `json:"msg"`
	Report   string     `json:"report"`
	Process  *struct {
		PID int `json:"pid"`
	} `json:"process"`
}

// record handles one line at the end of the chain.
func (a *Agent) record(line []byte) {
	if a.o.Out != nil {
		a.o.Out.Write(line)
	}
	h, err := event.ReadHead(line)
	if err != nil || h.Kind == nil || *h.Kind != event.KindEvent {
		return // samples (the heartbeat), actions, notices
	}
	var e endRecord
	if json.Unmarshal(line, &e) != nil {
		return
	}
	a.mu.Lock()
	a.lastEvent = fmt.Sprintf("%s of %s at %s", e.Type, e.Target, e.TS.UTC().Format("15:04:05Z"))
	a.mu.Unlock()
	// The journal first, then STATUS: whoever sees "last event: …" in
	// systemctl status finds the event in the journal already.
	defer a.notify("STATUS=" + a.status())
	if a.o.Journal == nil {
		return
	}
	fields := map[string]string{
		"SYSLOG_IDENTIFIER": "sre-agent",
		"SRE_WATCH":         a.o.Name,
		"SRE_EVENT_ID":      e.ID,
		"SRE_EVENT_TYPE":    e.Type,
		"SRE_SEVERITY":      e.Severity,
		"SRE_TARGET":        e.Target,
	}
	if e.Report != "" {
		fields["SRE_REPORT"] = e.Report
	}
	if e.Process != nil && e.Process.PID > 0 {
		fields["SRE_PID"] = strconv.Itoa(e.Process.PID)
	}
	if err := a.o.Journal.Send(e.Msg, priorityOf(e.Severity), fields); err != nil {
		a.logf(PrioWarning, "event %s not sent to the journal: %v (it is in the archive)", e.ID, err)
	}
}

// priorityOf is the journal priority of an event's severity.
func priorityOf(sev string) int {
	switch sev {
	case event.SevCritical:
		return PrioCrit
	case event.SevWarning:
		return PrioWarning
	}
	return PrioInfo
}

// stageLine relays a stage's diagnostic line: a lost record is an error,
// anything else a warning.
func (a *Agent) stageLine(stage, line string) {
	prio := PrioWarning
	if strings.Contains(line, "lost:") || strings.Contains(line, "cannot") {
		prio = PrioErr
	}
	if a.o.StageLog != nil {
		a.o.StageLog(prio, line)
		return
	}
	a.logf(prio, "%s", line)
}

// NoticeWatchGap is the notice code of a time the watch was down.
const NoticeWatchGap = "watch_gap"

// writeGap records in the archive that the watch was down from gap.from to
// to, and why: what happened to the target meanwhile was not seen.
func (a *Agent) writeGap(gap *gapInfo, to time.Time, more string) {
	why := gap.why
	if more != "" {
		why += "; " + more
	}
	host, _ := os.Hostname()
	n := event.Notice{
		Header: event.NewHeader(event.KindNotice, "sre-agent", host, to),
		Code:   NoticeWatchGap,
		Msg: fmt.Sprintf("the watch %s of %s was down for %s: %s", a.o.Name, a.o.Config.Watch.What(),
			to.Sub(gap.from).Round(time.Millisecond), why),
		Detail: map[string]any{"watch": a.o.Name, "from": event.At(gap.from), "to": event.At(to), "why": why,
			"down_s": to.Sub(gap.from).Seconds()},
	}
	b, err := json.Marshal(&n)
	if err != nil {
		return
	}
	d, err := report.Open(a.o.Config.Dir)
	if err == nil {
		err = d.AppendArchive(b, true)
		d.Close()
	}
	if err != nil {
		a.logf(PrioErr, "the watch gap from %s to %s is not in the archive: %v", gap.from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), err)
		return
	}
	a.logf(PrioWarning, "%s", n.Msg)
}

// pruneLoop runs sre-report prune with the config's retention policy at
// start and every PruneEvery, until ctx is done. What it removes it says
// itself (relayed); a failure is logged and tried again next time: the
// watch goes on.
func (a *Agent) pruneLoop(ctx context.Context) {
	var tool string
	for _, s := range a.stages {
		if s.Name == "sre-report" {
			tool = s.Path
		}
	}
	t := time.NewTicker(a.o.Config.PruneEvery)
	defer t.Stop()
	for {
		if _, err := os.Stat(filepath.Join(a.o.Config.Dir, report.ArchiveName)); err != nil {
			// Nothing written yet (a first start): nothing to prune.
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				continue
			}
		}
		args := append([]string{"prune", "--dir", a.o.Config.Dir}, a.o.Config.Prune...)
		cmd := exec.CommandContext(ctx, tool, args...)
		out, err := cmd.CombinedOutput()
		prio := PrioInfo // what it removed, or that nothing needed to go
		if err != nil {
			prio = PrioErr
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l == "" {
				continue
			}
			if a.o.StageLog != nil {
				a.o.StageLog(prio, l)
			} else {
				a.logf(prio, "%s", l)
			}
		}
		if err != nil && ctx.Err() == nil {
			a.logf(PrioErr, "sre-report prune %s: %v; trying again in %s", strings.Join(a.o.Config.Prune, " "), err, a.o.Config.PruneEvery)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
