// Package healcmd is the sre-heal command: it reads the record stream,
// passes every record on, and runs (or, by default, only plans) the actions
// its rules call for, each recorded as an action record downstream and in
// the archive.
package healcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/olekukonko/tablewriter"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/docker"
	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/heal"
	"github.com/localsre/sre-agent/internal/ndjson"
	"github.com/localsre/sre-agent/internal/report"
)

const tool = "sre-heal"

const usage = `sre-heal — act on events by declarative rules: dry-run by default, bounded, audited.

Usage:
  ... | sre-report | sre-heal --rules FILE [--apply] [flags]
  sre-heal --check FILE                    validate a rules file and print its plan

Every record passes through unchanged and in order. An event that a rule
matches gets an action record after it: "planned" (and a "would run:" line
on stderr) unless --apply is given, then "ok" or "failed". A crash is acted
on only when its report exists on disk; events older than --max-event-age
are ignored, so replaying an archive never acts. Budgets live in
DIR/heal-state.json; action records are appended to DIR/events.ndjson.
A process that restart_process started and that dies stays a zombie until
the stream shows its end (at most 10s), so that the sampler upstream reads
its exit status; sre-heal tells it too, in a "child_exited" notice.

restart_container, stop_container and start_container act only on the
containers their rule names (container: NAME|ID-prefix, container_label:
KEY=VALUE), through the Docker daemon DOCKER_HOST names (unix socket, or tcp
with DOCKER_CERT_PATH/DOCKER_TLS_VERIFY). Before acting they keep the
container's last log lines and its inspect in DIR (the action record's
"evidence" names the files); no evidence, no action, unless the rule says
capture: best_effort. A container with a Docker restart policy is never
restarted or started: Docker does that itself. A dry run prints the API call
(POST /containers/NAME/restart?t=10) and asks the daemon nothing.

restart_pod, rollout_restart and scale act on Kubernetes through sre-kube
(beside sre-heal, else on PATH; SRE_KUBE names another), with the cluster
KUBECONFIG names: only in the namespaces their rule names (namespaces:),
on the workloads it names (workloads: [Deployment/web]); an event outside
them is refused and audited. restart_pod keeps the pod's previous logs and
events in DIR first. A dry run runs sre-kube --dry-run, which reads but
never writes: the record's argv is the exact API call.

Examples:
  sre-sample --pidfile /run/api.pid | sre-detect | sre-report | sre-heal --rules rules.yaml
  sre-sample --pidfile /run/api.pid | sre-detect | sre-report | sre-heal --rules rules.yaml --apply
  sre-heal --check rules.yaml
`

// Options are sre-heal's flags.
type Options struct {
	Rules           string
	Check           bool
	Apply           bool
	Dir             string
	AllowUnreported bool
	MaxEventAge     time.Duration
	ProcRoot        string
	Strict          bool
	MaxLine         int
	Version         bool
}

func dirDefault(std cli.IO) string {
	if d := std.Getenv("SRE_REPORT_DIR"); d != "" {
		return d
	}
	return "sre_reports"
}

// Run is sre-heal.
func Run(ctx context.Context, std cli.IO, args []string) error {
	o := &Options{}
	fs := cli.NewFlagSet(tool, usage, std.Out)
	fs.StringVar(&o.Rules, "rules", "", "rules `FILE` (YAML)")
	fs.BoolVar(&o.Check, "check", false, "validate the rules file (--rules or the argument), print the plan, exit 0 or 2")
	fs.BoolVar(&o.Apply, "apply", false, "run the actions (default: dry-run, print what would run)")
	fs.StringVar(&o.Dir, "dir", dirDefault(std), "report directory: archive and heal-state.json (env SRE_REPORT_DIR)")
	fs.BoolVar(&o.AllowUnreported, "allow-unreported", false, "act on crashes that have no report on disk")
	fs.DurationVar(&o.MaxEventAge, "max-event-age", heal.DefaultMaxEventAge, "ignore events older than this")
	fs.StringVar(&o.ProcRoot, "proc-root", "/proc", "where /proc is mounted")
	fs.BoolVar(&o.Strict, "strict", false, "exit 1 if any input line was skipped")
	fs.IntVar(&o.MaxLine, "max-line", ndjson.DefaultMaxLine, "longest input line in bytes; longer lines are skipped and counted")
	fs.BoolVar(&o.Version, "version", false, "print the version and exit")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if o.Version {
		fmt.Fprintf(std.Out, "%s %s\n", tool, cli.Version())
		return nil
	}
	switch {
	case fs.NArg() == 1 && o.Rules == "" && o.Check:
		o.Rules = fs.Arg(0)
	case fs.NArg() > 0:
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if o.Rules == "" {
		return cli.Usagef("no rules: give --rules FILE")
	}
	if o.MaxEventAge <= 0 {
		return cli.Usagef("--max-event-age %v: must be positive", o.MaxEventAge)
	}
	if o.MaxLine < 1024 {
		return cli.Usagef("--max-line %d: must be at least 1024", o.MaxLine)
	}
	if o.Dir == "" {
		return cli.Usagef("--dir: empty")
	}
	if o.Apply {
		if err := heal.CheckFileSafe(o.Rules); err != nil {
			return cli.Usagef("%v", err)
		}
	}
	data, err := os.ReadFile(o.Rules)
	if err != nil {
		return cli.Usagef("rules %s: %v", o.Rules, unwrap(err))
	}
	rules, err := heal.Parse(o.Rules, data)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	if o.Check {
		return printPlan(std.Out, rules)
	}
	return filter(ctx, std, o, rules)
}

func unwrap(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func printPlan(w io.Writer, rs *heal.Rules) error {
	t := tablewriter.NewTable(w)
	t.Header("RULE", "ON", "TARGET", "ACTION", "RUNS", "RETRIES", "WINDOW", "COOLDOWN", "BACKOFF", "ESCALATE")
	for _, r := range rs.Rules {
		on := strings.Join(r.On, ",")
		if on == "" {
			on = "(escalation only)"
		}
		target := r.Target
		if target == "" {
			target = "(any)"
		}
		retries := strconv.Itoa(r.MaxRetries)
		if r.MaxRetries == 0 {
			retries = "unlimited"
		}
		b := r.Backoff
		backoff := fmt.Sprintf("%v×%g≤%v ±%g%% reset %v", b.Initial, b.Factor, b.Max, b.Jitter*100, b.ResetAfter)
		if err := t.Append([]string{r.Name, on, target, r.Action, runs(r), retries, r.RetryWindow.String(),
			r.Cooldown.String(), backoff, r.Escalate}); err != nil {
			return cli.Failf("plan: %v", err)
		}
	}
	if err := t.Render(); err != nil {
		return cli.Failf("plan: %v", err)
	}
	return nil
}

func runs(r *heal.Rule) string {
	switch r.Action {
	case "signal":
		return "SIG" + strings.TrimPrefix(strings.ToUpper(r.Signal), "SIG") + " to the event's pid"
	case "systemd_restart":
		s := r.Systemctl
		if r.UserUnit {
			s += " --user"
		}
		return s + " restart -- " + r.Unit
	case "restart_pod", "rollout_restart", "scale":
		return heal.PodPlan(r)
	case "restart_container", "stop_container", "start_container":
		op := strings.TrimSuffix(r.Action, "_container")
		var t *int
		if op != "start" {
			t = docker.StopTimeout(r.StopTimeout)
		}
		if len(r.Containers) == 1 && r.ContainerLabel == "" {
			return docker.Call(op, r.Containers[0], t)
		}
		var scope []string
		if len(r.Containers) > 0 {
			scope = append(scope, strings.Join(r.Containers, "|"))
		}
		if r.ContainerLabel != "" {
			scope = append(scope, "label "+r.ContainerLabel)
		}
		return docker.Call(op, "{event's container}", t) + " if " + strings.Join(scope, " or ")
	}
	q := make([]string, len(r.Command))
	for i, a := range r.Command {
		q[i] = strconv.Quote(a)
	}
	return strings.Join(q, " ")
}

type result struct {
	d  heal.Decision
	o  heal.Outcome
	at time.Time
}

type healer struct {
	docker    heal.ContainerAPI
	dockerErr error
	std       cli.IO
	o         *Options
	eng       *heal.Engine
	out       *ndjson.Writer
	dir       *report.Dir
	host      string
	state     string
	environ   []string
	results   chan result
	started   chan heal.Decision
	children  *heal.Children
	wg        sync.WaitGroup
	warnedAr  bool
	warnedSt  bool
}

func filter(ctx context.Context, std cli.IO, o *Options, rules *heal.Rules) error {
	dir, err := report.Open(o.Dir)
	if err != nil {
		return cli.Usagef("--dir: %v", err)
	}
	defer dir.Close()
	statePath := filepath.Join(o.Dir, heal.StateName)
	state, err := heal.LoadState(statePath)
	if err != nil {
		return cli.Failf("%v", err)
	}
	host, _ := os.Hostname()
	h := &healer{
		std: std, o: o, out: ndjson.NewWriter(std.Out), dir: dir, host: host, state: statePath,
		environ: os.Environ(), results: make(chan result, 16), started: make(chan heal.Decision),
		children: heal.NewChildren(heal.DefaultHold, o.ProcRoot),
	}
	if needsDocker(rules) {
		if dc, err := docker.New(docker.EnvFrom(std.Getenv)); err != nil {
			if o.Apply {
				return cli.Usagef("%v: the rules' container actions need the Docker daemon", err)
			}
			h.dockerErr = err
		} else {
			h.docker = dc
			defer dc.Close()
		}
	}
	h.eng = &heal.Engine{
		Rules: rules, State: state, Now: std.Now, Rand: rand.Float64,
		Exists:          func(p string) bool { _, err := os.Stat(p); return err == nil },
		Apply:           o.Apply,
		AllowUnreported: o.AllowUnreported,
		MaxEventAge:     o.MaxEventAge,
		Warn:            func(f string, a ...any) { fmt.Fprintf(std.Err, tool+": "+f+"\n", a...) },
	}
	warner := ndjson.NewWarner(tool, "stdin", std.Err)
	rd := ndjson.NewReader(std.In, ndjson.WithMaxLine(o.MaxLine), ndjson.OnSkip(warner.Skip))
	jobCtx, cancelJobs := context.WithCancel(context.Background())
	defer cancelJobs()
	recs := rd.Chan(ctx)
	finish := func() error {
		warner.Summary(rd.Counts())
		if h.eng.Old > 0 {
			fmt.Fprintf(std.Err, "%s: %d events older than --max-event-age %v ignored\n", tool, h.eng.Old, o.MaxEventAge)
		}
		if o.Strict && rd.Counts().SkippedTotal() > 0 {
			return cli.Failf("--strict: %d input lines skipped", rd.Counts().SkippedTotal())
		}
		return nil
	}
	eof := false
	for {
		if eof {
			// Input is over: let the scheduled actions run, then stop.
			done := make(chan struct{})
			go func() { h.wg.Wait(); close(done) }()
			for {
				select {
				case d := <-h.started:
					h.eng.Done(&d)
				case <-h.children.Notify():
					if err := h.childExits(); err != nil {
						return h.outErr(err)
					}
				case r := <-h.results:
					if err := h.finished(r); err != nil {
						return h.outErr(err)
					}
				case <-done:
					for {
						select {
						case r := <-h.results:
							if err := h.finished(r); err != nil {
								return h.outErr(err)
							}
						default:
							// Children that ended while the last actions
							// ran: their exits are queued, the notify may
							// not have been read.
							if err := h.childExits(); err != nil {
								return h.outErr(err)
							}
							return finish()
						}
					}
				case <-ctx.Done():
					cancelJobs()
					return finish()
				}
			}
		}
		select {
		case <-ctx.Done():
			cancelJobs()
			return finish()
		case d := <-h.started:
			h.eng.Done(&d)
		case <-h.children.Notify():
			if err := h.childExits(); err != nil {
				return h.outErr(err)
			}
		case r := <-h.results:
			if err := h.finished(r); err != nil {
				return h.outErr(err)
			}
		case it := <-recs:
			if it.Err != nil {
				if !errors.Is(it.Err, io.EOF) {
					fmt.Fprintf(std.Err, "%s: stdin: %v\n", tool, it.Err)
				}
				eof = true
				continue
			}
			if err := h.out.WriteLine(it.Record.Raw); err != nil {
				return h.outErr(err)
			}
			if err := h.handle(jobCtx, it.Record); err != nil {
				return h.outErr(err)
			}
		}
	}
}

// needsDocker reports whether a rule acts on containers.
func needsDocker(rs *heal.Rules) bool {
	for _, r := range rs.Rules {
		if slices.Contains(heal.ContainerActions(), r.Action) {
			return true
		}
	}
	return false
}

// job is d's job with what this sre-heal holds for it.
func (h *healer) job(d heal.Decision, apply bool) *heal.Job {
	j := d.Job(apply, h.environ, h.o.ProcRoot)
	j.Docker, j.DockerErr, j.Dir = h.docker, h.dockerErr, h.o.Dir
	return j
}

func (h *healer) outErr(err error) error {
	if errors.Is(err, ndjson.ErrClosed) {
		return nil
	}
	return cli.Failf("%v", err)
}

func (h *healer) handle(ctx context.Context, rec ndjson.Record) error {
	switch rec.Kind {
	case event.KindSample:
		var s event.Sample
		if json.Unmarshal(rec.Raw, &s) != nil || s.Validate() != nil {
			return nil
		}
		if s.Exit != nil && s.Process != nil {
			h.children.Seen(s.Process.ID())
		}
		if h.eng.Sample(&s) {
			h.save()
		}
		return nil
	case event.KindEvent:
	default:
		return nil
	}
	var ev event.Event
	if err := json.Unmarshal(rec.Raw, &ev); err != nil {
		return nil
	}
	if err := ev.Validate(); err != nil {
		return nil
	}
	if ev.Process != nil && heal.IsDown(&ev) {
		h.children.Seen(ev.Process.ID())
	}
	ds, changed := h.eng.Handle(&ev)
	if changed {
		h.save()
	}
	for _, d := range ds {
		if d.Result != "" {
			if err := h.emit(d, heal.Outcome{Result: d.Result, Err: d.Err}, h.std.Now()); err != nil {
				return err
			}
			continue
		}
		if !h.o.Apply {
			o := heal.Do(ctx, h.job(d, false))
			if o.Desc != "" {
				fmt.Fprintf(h.std.Err, "%s: %s (rule %s, attempt %d, after %v)\n", tool, o.Desc, d.Rule.Name, d.Attempt, heal.Round(d.Delay))
			}
			if err := h.emit(d, o, h.std.Now()); err != nil {
				return err
			}
			continue
		}
		h.schedule(ctx, d)
	}
	return nil
}

// schedule runs d after its delay without holding up the stream.
func (h *healer) schedule(ctx context.Context, d heal.Decision) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTimer(d.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		// The engine learns the action is no longer waiting before it
		// starts, so a crash of what it starts is a new trigger, not
		// "already scheduled".
		select {
		case h.started <- d:
		case <-ctx.Done():
			return
		}
		at := h.std.Now()
		j := h.job(d, true)
		j.Children = h.children
		o := heal.Do(ctx, j)
		h.results <- result{d: d, o: o, at: at}
	}()
}

func (h *healer) finished(r result) error {
	if r.o.Desc != "" {
		msg := r.o.Desc
		if r.o.Err != "" {
			msg += ": " + r.o.Err
		}
		fmt.Fprintf(h.std.Err, "%s: %s (rule %s, attempt %d, %s)\n", tool, msg, r.d.Rule.Name, r.d.Attempt, r.o.Result)
	}
	if len(r.o.Evidence) > 0 {
		fmt.Fprintf(h.std.Err, "%s: kept before %s (rule %s, attempt %d): %s\n", tool, r.d.Rule.Action, r.d.Rule.Name, r.d.Attempt, strings.Join(r.o.Evidence, ", "))
	}
	return h.emit(r.d, r.o, r.at)
}

func (h *healer) emit(d heal.Decision, o heal.Outcome, at time.Time) error {
	a := event.Action{
		Header:      event.NewHeader(event.KindAction, tool, h.host, at),
		Rule:        d.Rule.Name,
		Action:      d.Rule.Action,
		DryRun:      !h.o.Apply,
		Attempt:     d.Attempt,
		MaxAttempts: d.MaxAttempts,
		DelayS:      d.Delay.Seconds(),
		Argv:        o.Argv,
		PID:         o.PID,
		Result:      o.Result,
		Error:       o.Err,
		Evidence:    o.Evidence,
	}
	if d.Event != nil {
		a.EventID, a.Target = d.Event.ID, d.Event.Target
	}
	raw, err := json.Marshal(&a)
	if err != nil {
		return err
	}
	return h.archive(raw)
}

// archive appends raw to the archive (fsync'd) and passes it on.
func (h *healer) archive(raw []byte) error {
	if err := h.dir.AppendArchive(raw, true); err != nil {
		if !h.warnedAr {
			fmt.Fprintf(h.std.Err, "%s: %v (records still pass on)\n", tool, err)
			h.warnedAr = true
		}
	} else {
		h.warnedAr = false
	}
	return h.out.WriteLine(raw)
}

// childExits tells downstream and in the archive how each process that
// restart_process started has ended: its exact wait status, which only its
// parent is sure to know.
func (h *healer) childExits() error {
	for _, x := range h.children.Exits() {
		detail := map[string]any{"pid": x.ID.PID, "rule": x.Rule, "event_id": x.EventID,
			"program": x.Argv0, "uptime_s": x.At.Sub(x.Started).Seconds()}
		if x.ID.StartTicks != 0 {
			detail["start_ticks"] = x.ID.StartTicks
		}
		if x.Target != "" {
			detail["target"] = x.Target
		}
		switch {
		case x.Code != nil:
			detail["code"] = *x.Code
		case x.Signal != 0:
			detail["signal"], detail["signal_num"] = x.SignalName(), int(x.Signal)
			if x.CoreDump {
				detail["core_dumped"] = true
			}
		default:
			detail["error"] = x.WaitError
		}
		n := event.Notice{
			Header: event.NewHeader(event.KindNotice, tool, h.host, x.At),
			Code:   "child_exited",
			Msg: fmt.Sprintf("%s (pid %d), started by rule %s, ended after %v: %s.",
				filepath.Base(x.Argv0), x.ID.PID, x.Rule, heal.Round(x.At.Sub(x.Started)), x.Status()),
			Detail: detail,
		}
		raw, err := json.Marshal(&n)
		if err != nil {
			return err
		}
		fmt.Fprintf(h.std.Err, "%s: %s\n", tool, n.Msg)
		if err := h.archive(raw); err != nil {
			return err
		}
	}
	return nil
}

func (h *healer) save() {
	if !h.o.Apply {
		return // a dry run never changes the budgets of real runs
	}
	if err := h.eng.State.Save(h.state); err != nil {
		if !h.warnedSt {
			fmt.Fprintf(h.std.Err, "%s: %v\n", tool, err)
			h.warnedSt = true
		}
		return
	}
	h.warnedSt = false
}
