// Package samplecmd is the sre-sample command: flags, usage and the wiring
// of the sampler to stdout. The sampling itself lives in internal/sampler.
package samplecmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/docker"
	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/ndjson"
	"github.com/localsre/sre-agent/internal/sampler"
)

const tool = "sre-sample"

const usage = `sre-sample — sample processes and the host as NDJSON records.

Usage:
  sre-sample [flags] NAME...               processes whose name is NAME
  sre-sample [flags] --match REGEX         processes whose command line matches
  sre-sample [flags] --pid N | --pidfile FILE | --user USER
  sre-sample [flags] --container NAME|ID | --container-label KEY=VALUE
  sre-sample [flags] --pod NAMESPACE/NAME | --pod-selector NAMESPACE:SELECTOR
  sre-sample [flags] -- CMD [ARGS...]      start CMD, sample it, exit with its status

Every tick prints one "sample" record per matching process (or one with
"up": false when none matches). When a watched process dies, its "up": false
record with "exit" is printed at once, not at the next tick.

A container target samples the container's main process and says what
Docker says of it ("container": state, health, restart count, exit code,
OOM kill). Its death, start and health changes are followed through the
daemon's events (DOCKER_HOST, default the local socket) and sampled the
moment Docker reports them.

A pod target says what the Kubernetes API says of the pod ("pod": owner,
node, phase, ready, and each container's restart count, state and last
state), at once on every change and at every tick. The cluster is the one
kubectl would use (--kubeconfig, KUBECONFIG, ~/.kube/config, in-cluster);
sre-kube, beside sre-sample or on PATH, does the watching.

Examples:
  sre-sample nginx                          # every nginx process, once a second
  sre-sample --match 'gunicorn.*api' --interval 5s
  sre-sample --pidfile /run/myapp.pid | sre-detect
  sre-sample --pid 4242 --count 1 | jq .process.rss_bytes
  sre-sample --user www-data --disk / --disk /var
  sre-sample --child-log app.log -- ./app --port 8080
  sre-sample --container web | sre-detect   # a container's deaths, OOM kills, health
  sre-sample --container-label com.docker.compose.project=shop
  sre-sample --pod-selector shop:app=web | sre-detect   # a workload's pods, restarts, OOM kills
`

// Options are sre-sample's flags.
type Options struct {
	Names           []string
	Matches         []string
	PIDs            []string
	Pidfiles        []string
	User            string
	Containers      []string
	ContainerLabels []string
	Pods            []string
	PodSelectors    []string
	Kubeconfig      string
	KubeContext     string
	Exclude         []int
	One             bool
	Interval        time.Duration
	Count           int
	Duration        time.Duration
	Disks           []string
	ProcRoot        string
	SysRoot         string
	Kmsg            string
	ChildLog        string
	Label           string
	NoPidfd         bool
	ExitPoll        time.Duration
	Version         bool
	LaunchCmd       []string
}

// MinInterval is the shortest tick allowed.
const MinInterval = 10 * time.Millisecond

func parse(std cli.IO, args []string) (*Options, error) {
	o := &Options{}
	fs := cli.NewFlagSet(tool, usage, std.Out)
	fs.StringArrayVar(&o.Matches, "match", nil, "sample processes whose full command line matches `REGEX` (repeatable)")
	fs.StringArrayVar(&o.PIDs, "pid", nil, "sample the process with PID `N`, and only that process: a reused PID is not it (repeatable)")
	fs.StringArrayVar(&o.Pidfiles, "pidfile", nil, "sample the process whose PID is in `FILE`, re-read at every tick (repeatable)")
	fs.StringArrayVar(&o.Containers, "container", nil, "sample the Docker container `NAME|ID`, its main process and its deaths as Docker tells them (repeatable)")
	fs.StringArrayVar(&o.ContainerLabels, "container-label", nil, "sample every running Docker container with label `KEY=VALUE` (or KEY), and each that starts later (repeatable)")
	fs.StringArrayVar(&o.Pods, "pod", nil, "sample the Kubernetes pod `NAMESPACE/NAME` as the API tells it (repeatable)")
	fs.StringArrayVar(&o.PodSelectors, "pod-selector", nil, "sample the pods of `NAMESPACE:SELECTOR` (kubectl -l syntax) as they come and go (repeatable)")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "pod targets: kubeconfig `FILE` (default: KUBECONFIG, else ~/.kube/config, else in-cluster)")
	fs.StringVar(&o.KubeContext, "context", "", "pod targets: kubeconfig `CONTEXT` (default: its current context)")
	fs.StringVar(&o.User, "user", "", "sample the processes of `USER` (name or uid); with NAME or --match, only theirs")
	fs.IntSliceVar(&o.Exclude, "exclude-tree", nil, "never select process `PID`, its descendants or the commands that launched it (sudo, timeout) by NAME, --match or --user (repeatable)")
	fs.BoolVar(&o.One, "one", false, "refuse a target that matches several processes and list them")
	fs.DurationVar(&o.Interval, "interval", time.Second, "time between samples (at least 10ms)")
	fs.IntVar(&o.Count, "count", 0, "stop after `N` ticks (0: run until interrupted)")
	fs.DurationVar(&o.Duration, "duration", 0, "stop after this long (0: run until interrupted)")
	fs.StringArrayVar(&o.Disks, "disk", []string{"/"}, "report disk usage of the filesystem holding `PATH` (repeatable)")
	fs.StringVar(&o.ProcRoot, "proc-root", "/proc", "read processes from this procfs mount (`DIR`)")
	fs.StringVar(&o.SysRoot, "sys-root", "/sys", "read cgroups from this sysfs mount (`DIR`)")
	fs.StringVar(&o.Kmsg, "kmsg", "", "the kernel log, read at a death after the host's OOM kill count rose, to tell whether the OOM killer named the process (`FILE`; default /dev/kmsg, none with --proc-root)")
	fs.StringVar(&o.ChildLog, "child-log", "", "launch mode: append the child's stdout and stderr to `FILE` (default: this stderr)")
	fs.StringVar(&o.Label, "target", "", "launch mode: the target name in records (default: CMD's basename)")
	fs.BoolVar(&o.NoPidfd, "no-pidfd", false, "notice exits by polling every --exit-poll instead of pidfd notifications")
	fs.DurationVar(&o.ExitPoll, "exit-poll", 100*time.Millisecond, "polling period for exits when pidfd is unavailable or off")
	fs.BoolVar(&o.Version, "version", false, "print the version and exit")
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	if o.Version {
		return o, nil
	}
	rest := fs.Args()
	if dash := fs.ArgsLenAtDash(); dash >= 0 {
		o.Names, o.LaunchCmd = rest[:dash], rest[dash:]
		if len(o.LaunchCmd) == 0 {
			return nil, cli.Usagef("launch mode: no command after --")
		}
	} else {
		o.Names = rest
	}
	return o, o.check()
}

func (o *Options) check() error {
	switch {
	case o.Interval < MinInterval:
		return cli.Usagef("--interval %v: must be at least %v", o.Interval, MinInterval)
	case o.Count < 0:
		return cli.Usagef("--count %d: must not be negative", o.Count)
	case o.Duration < 0:
		return cli.Usagef("--duration %v: must not be negative", o.Duration)
	case o.ExitPoll < time.Millisecond:
		return cli.Usagef("--exit-poll %v: must be at least 1ms", o.ExitPoll)
	}
	for _, pid := range o.Exclude {
		if pid <= 1 {
			return cli.Usagef("--exclude-tree %d: not a process ID above 1", pid)
		}
	}
	for i, c := range o.Containers {
		if !docker.ValidName(c) {
			return cli.Usagef("--container %q: not a container name or id ([a-zA-Z0-9][a-zA-Z0-9_.-]*)", c)
		}
		if slices.Contains(o.Containers[:i], c) {
			return cli.Usagef("--container %s: given twice", c)
		}
	}
	for i, l := range o.ContainerLabels {
		if err := docker.CheckLabel(l); err != nil {
			return cli.Usagef("--container-label: %v", err)
		}
		if slices.Contains(o.ContainerLabels[:i], l) {
			return cli.Usagef("--container-label %s: given twice", l)
		}
	}
	if err := o.checkPods(); err != nil {
		return err
	}
	selectors := len(o.Names) + len(o.Matches) + len(o.PIDs) + len(o.Pidfiles) + len(o.Containers) + len(o.ContainerLabels) +
		len(o.Pods) + len(o.PodSelectors)
	if o.LaunchCmd != nil {
		if selectors > 0 || o.User != "" {
			return cli.Usagef("launch mode (-- CMD) takes no other target")
		}
	} else {
		if o.Label != "" {
			return cli.Usagef("--target: only in launch mode (-- CMD)")
		}
		if o.ChildLog != "" {
			return cli.Usagef("--child-log: only in launch mode (-- CMD)")
		}
		if selectors == 0 && o.User == "" {
			return cli.Usagef("no target: give a process NAME, --match REGEX, --pid N, --pidfile FILE, --user USER, --container NAME, --container-label KEY=VALUE, --pod NAMESPACE/NAME, --pod-selector NAMESPACE:SELECTOR or -- CMD")
		}
	}
	for _, n := range o.Names {
		if n == "" {
			return cli.Usagef("NAME: empty")
		}
	}
	for _, dir := range []struct{ flag, path string }{{"--proc-root", o.ProcRoot}, {"--sys-root", o.SysRoot}} {
		if fi, err := os.Stat(dir.path); err != nil || !fi.IsDir() {
			return cli.Usagef("%s %s: not a readable directory", dir.flag, dir.path)
		}
	}
	if o.Kmsg != "" {
		if _, err := os.Stat(o.Kmsg); err != nil {
			return cli.Usagef("--kmsg %s: %v", o.Kmsg, unwrap(err))
		}
	}
	for _, d := range o.Disks {
		if _, err := os.Stat(d); err != nil {
			return cli.Usagef("--disk %s: %v", d, unwrap(err))
		}
	}
	return nil
}

func unwrap(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// targets turns the selectors into sampler targets, in the order given.
func (o *Options) targets() ([]sampler.Target, error) {
	var user *sampler.UserFilter
	if o.User != "" {
		u, err := sampler.ParseUser(o.User)
		if err != nil {
			return nil, cli.Usagef("%v", err)
		}
		user = u
	}
	var ts []sampler.Target
	for _, n := range o.Names {
		ts = append(ts, sampler.Target{Label: n, Kind: sampler.ByName, Name: n, User: user})
	}
	for _, m := range o.Matches {
		re, err := regexp.Compile(m)
		if err != nil {
			return nil, cli.Usagef("--match %q: invalid regular expression: %v", m, err)
		}
		ts = append(ts, sampler.Target{Label: m, Kind: sampler.ByMatch, Match: re, User: user})
	}
	for _, p := range o.PIDs {
		pid, err := strconv.Atoi(p)
		if err != nil || pid <= 0 {
			return nil, cli.Usagef("--pid %q: not a process ID (a positive number)", p)
		}
		ts = append(ts, sampler.Target{Label: "pid:" + p, Kind: sampler.ByPID, PID: pid})
	}
	for _, f := range o.Pidfiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, cli.Usagef("--pidfile %s: cannot read: %v", f, unwrap(err))
		}
		if _, err := sampler.ParsePidfile(b); err != nil {
			return nil, cli.Usagef("--pidfile %s: %v", f, err)
		}
		ts = append(ts, sampler.Target{Label: f, Kind: sampler.ByPidfile, Pidfile: f})
	}
	for _, c := range o.Containers {
		ts = append(ts, sampler.Target{Label: c, Kind: sampler.ByContainer, Container: c})
	}
	if user != nil && len(o.Names)+len(o.Matches) == 0 {
		ts = append(ts, sampler.Target{Label: "user:" + o.User, Kind: sampler.ByUser, User: user})
	}
	return ts, nil
}

// Run is sre-sample.
func Run(ctx context.Context, std cli.IO, args []string) (rerr error) {
	o, err := parse(std, args)
	if err != nil {
		return err
	}
	if o.Version {
		fmt.Fprintf(std.Out, "%s %s\n", tool, cli.Version())
		return nil
	}
	targets, err := o.targets()
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	warnf := func(format string, a ...any) {
		fmt.Fprintf(std.Err, tool+": "+format+"\n", a...)
	}
	cfg := sampler.Config{
		ProcRoot: o.ProcRoot, SysRoot: o.SysRoot, Host: host,
		Interval: o.Interval, Count: o.Count, Disks: o.Disks,
		One: o.One, NoPidfd: o.NoPidfd, ExitPoll: o.ExitPoll,
		Self: os.Getpid(), Now: std.Now, Warnf: warnf, Kmsg: o.Kmsg,
		// Its own launchers (sudo sre-sample --match api) are left out too.
		Exclude: append(o.Exclude, os.Getpid()),
	}
	if cfg.Kmsg == "" && o.ProcRoot == "/proc" {
		cfg.Kmsg = "/dev/kmsg" // a fixture tree is not this kernel's
	}
	out := ndjson.NewWriter(ndjson.DirectWriter(std.Out))
	emit := func(s *event.Sample) error { return out.Encode(s) }

	if o.LaunchCmd != nil {
		return launch(ctx, std, o, cfg, emit)
	}
	cfg.Targets = targets
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	var waitPods func() error
	if o.hasPods() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		if waitPods, err = startPods(ctx, std, o, host, out); err != nil {
			return err
		}
		if len(targets) == 0 && len(o.ContainerLabels) == 0 {
			return waitPods() // pods alone: sre-kube's samples are the output
		}
		// Processes and pods: whichever side stops first stops the other,
		// and sre-kube's failure is sre-sample's.
		podErr := make(chan error, 1)
		go func() { podErr <- waitPods(); cancel() }()
		defer func() {
			cancel()
			if perr := <-podErr; perr != nil && rerr == nil {
				rerr = perr
			}
		}()
	}
	if len(o.Containers)+len(o.ContainerLabels) > 0 {
		// Only a user who watches a container pays for a client.
		dc, err := docker.New(docker.EnvFrom(std.Getenv))
		if err != nil {
			return cli.Usagef("%v", err)
		}
		defer dc.Close()
		cfg.Docker, cfg.ContainerLabels = dc, o.ContainerLabels
	}
	s, err := sampler.New(cfg)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	err = s.Run(ctx, emit)
	switch {
	case err == nil, errors.Is(err, ndjson.ErrClosed):
		return nil
	case errors.Is(err, sampler.ErrAmbiguous):
		return cli.Usagef("%v", err)
	}
	return cli.Failf("%v", err)
}

// launch starts the command, samples it until it ends, and returns its exit
// status: its code, or 128+signal when a signal ended it, as a shell does.
func launch(ctx context.Context, std cli.IO, o *Options, cfg sampler.Config, emit sampler.Emit) error {
	cmd := exec.Command(o.LaunchCmd[0], o.LaunchCmd[1:]...)
	cmd.Stdin = std.In
	cmd.Stdout, cmd.Stderr = std.Err, std.Err
	if o.ChildLog != "" {
		f, err := os.OpenFile(o.ChildLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return cli.Usagef("--child-log %s: %v", o.ChildLog, unwrap(err))
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	label := o.Label
	if label == "" {
		label = filepath.Base(o.LaunchCmd[0])
	}
	if err := cmd.Start(); err != nil {
		return cli.Usagef("cannot start %s: %v", o.LaunchCmd[0], unwrap(err))
	}
	cfg.Targets = []sampler.Target{{Label: label, Kind: sampler.ByChild, PID: cmd.Process.Pid}}
	s, err := sampler.New(cfg)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return cli.Usagef("%v", err)
	}
	var ws syscall.WaitStatus
	waited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		ws, _ = cmd.ProcessState.Sys().(syscall.WaitStatus)
		s.ChildExited(cmd.Process.Pid, ws, cfg.Now())
		close(waited)
	}()
	// A stop request goes to the child; sampling goes on until it has ended
	// so its end is recorded like any other.
	go func() {
		select {
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
		case <-waited:
		}
	}()
	runCtx := context.Background()
	if o.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(runCtx, o.Duration)
		defer cancel()
	}
	if err := s.Run(runCtx, emit); err != nil && !errors.Is(err, ndjson.ErrClosed) {
		fmt.Fprintf(std.Err, "%s: %v\n", tool, err)
	}
	<-waited
	switch {
	case ws.Exited():
		return cli.ExitStatus(ws.ExitStatus())
	case ws.Signaled():
		return cli.ExitStatus(128 + int(ws.Signal()))
	}
	return cli.ExitStatus(cli.ExitFailure)
}
