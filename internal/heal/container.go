package heal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/localsre/sre-agent/internal/docker"
	"github.com/localsre/sre-agent/internal/durable"
	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/report"
)

// ContainerAPI is what container actions ask of the Docker daemon; the
// project's one client, internal/docker, answers it.
type ContainerAPI interface {
	Inspect(ctx context.Context, nameOrID string) (docker.Container, error)
	Logs(ctx context.Context, id string, o docker.LogOptions) (docker.Logs, error)
	Restart(ctx context.Context, nameOrID string, timeout *int) error
	Stop(ctx context.Context, nameOrID string, timeout *int) error
	Start(ctx context.Context, nameOrID string) error
	Why(err error) string
}

var _ ContainerAPI = (*docker.Client)(nil)

// containerAction restarts, stops or starts a container the rule names,
// after keeping its logs and inspect in the report directory. It never
// acts on a container with a Docker restart policy (but stop): Docker
// restarts those itself, and two restarters fight.
type containerAction struct{ op string }

var _ Action = containerAction{}

var hexID = regexp.MustCompile(`^[0-9a-f]{12,64}$`)

// ref is the container the job is about: the rule's one container, or
// the one the event names (its process's container id, else its target),
// which must then be within the rule's scope (checked after inspect).
func (j *Job) containerRef() (string, error) {
	r := j.Rule
	if len(r.Containers) == 1 && r.ContainerLabel == "" {
		return r.Containers[0], nil
	}
	if id := j.eventContainer(); id != "" {
		return id, nil
	}
	if j.Event != nil && docker.ValidName(j.Event.Target) {
		return j.Event.Target, nil
	}
	t := ""
	if j.Event != nil {
		t = j.Event.Target
	}
	return "", fmt.Errorf("the event names no container (target %q is not a container name)", truncateStr(t, 80))
}

// eventContainer is the container id the event's process ran in, if any.
func (j *Job) eventContainer() string {
	if j.Event != nil && j.Event.Process != nil && hexID.MatchString(j.Event.Process.ContainerID) {
		return j.Event.Process.ContainerID
	}
	return ""
}

// inScope reports whether ct is one the rule may touch.
func inScope(r *Rule, ct *docker.Container) bool {
	for _, c := range r.Containers {
		if c == ct.Name() || strings.HasPrefix(ct.ID, c) {
			return true
		}
	}
	if r.ContainerLabel != "" && ct.Config != nil {
		k, v, hasV := strings.Cut(r.ContainerLabel, "=")
		got, ok := ct.Config.Labels[k]
		if ok && (!hasV || got == v) {
			return true
		}
	}
	return false
}

func (a containerAction) Do(ctx context.Context, j *Job) Outcome {
	ref, err := j.containerRef()
	if err != nil {
		return Outcome{Result: event.ResultSkipped, Err: err.Error()}
	}
	var timeout *int
	if a.op != "start" {
		timeout = docker.StopTimeout(j.Rule.StopTimeout)
	}
	call := docker.Call(a.op, ref, timeout)
	method, path, _ := strings.Cut(call, " ")
	o := Outcome{Argv: []string{method, path}}
	if !j.Apply {
		o.Result = event.ResultPlanned
		o.Desc = fmt.Sprintf("would call %s, after keeping its last %d log lines and inspect in %s", call, j.Rule.CaptureLines, j.Dir)
		return o
	}
	o.Desc = "did not call " + call
	if j.Docker == nil {
		o.Result, o.Err = event.ResultFailed, "no Docker client"
		if j.DockerErr != nil {
			o.Err += ": " + j.DockerErr.Error()
		}
		return o
	}
	ct, err := j.Docker.Inspect(ctx, ref)
	if err != nil {
		o.Result, o.Err = event.ResultFailed, "inspect: "+j.Docker.Why(err)
		if docker.IsNotFound(err) {
			o.Err = "no such container " + ref
		}
		return o
	}
	if !inScope(j.Rule, &ct) {
		o.Result = event.ResultSkipped
		o.Err = fmt.Sprintf("container %s (%s) is not one rule %s may touch", ct.Name(), shortHex(ct.ID), j.Rule.Name)
		return o
	}
	if id := j.eventContainer(); id != "" && !strings.HasPrefix(ct.ID, id) {
		// The rule names one container, the event is about another.
		o.Result = event.ResultSkipped
		o.Err = fmt.Sprintf("the event is about container %s, not %s, the one rule %s may touch", shortHex(id), ct.Name(), j.Rule.Name)
		return o
	}
	if p := ct.RestartPolicy(); p != "no" && a.op != "stop" {
		o.Result = event.ResultSkipped
		o.Err = fmt.Sprintf("container %s has Docker restart policy %q: Docker restarts it itself, and sre-heal does not fight it "+
			"(run it with --restart=no to let this rule act, or use stop_container to end a crash loop)", ct.Name(), p)
		return o
	}
	files, cerr := captureContainer(ctx, j, a.op, &ct)
	o.Evidence = files
	if cerr != nil && !j.Rule.CaptureBestEff {
		o.Result = event.ResultFailed
		o.Err = fmt.Sprintf("evidence not kept, so the container was not touched: %v (capture: best_effort acts all the same)", cerr)
		return o
	}
	o.Desc = "called " + call
	switch a.op {
	case "restart":
		err = j.Docker.Restart(ctx, ref, timeout)
	case "stop":
		err = j.Docker.Stop(ctx, ref, timeout)
	case "start":
		err = j.Docker.Start(ctx, ref)
	}
	if err != nil {
		o.Result, o.Err = event.ResultFailed, a.op+": "+j.Docker.Why(err)
		return o
	}
	o.Result = event.ResultOK
	if cerr != nil {
		o.Err = fmt.Sprintf("evidence not fully kept (capture: best_effort): %v", cerr)
	}
	return o
}

// captureContainer writes the container's last log lines and its inspect
// into the report directory, each durably (temp file, fsync, rename, fsync
// of the directory), and returns the files written.
func captureContainer(ctx context.Context, j *Job, op string, ct *docker.Container) ([]string, error) {
	if j.Dir == "" {
		return nil, errors.New("no report directory")
	}
	evID := ""
	if j.Event != nil {
		evID = j.Event.ID
	}
	stem := report.SafeName(ct.Name(), 48) + "_" + op + "_container_" + strconv.Itoa(j.Attempt) + "_" + report.SafeName(shortHex(evID), 16)
	stem = time.Now().UTC().Format("20060102T150405Z") + "_" + stem
	var files []string
	var errs []error

	var ij bytes.Buffer
	if err := json.Indent(&ij, ct.Raw, "", "  "); err != nil {
		ij.Reset()
		ij.Write(ct.Raw)
	}
	ij.WriteByte('\n')
	if p, err := durable.WriteNew(j.Dir, stem+"_inspect.json", ij.Bytes()); err != nil {
		errs = append(errs, fmt.Errorf("inspect: %w", err))
	} else {
		files = append(files, p)
	}

	tty := ct.Config != nil && ct.Config.Tty
	logs, err := j.Docker.Logs(ctx, ct.ID, docker.LogOptions{Tail: j.Rule.CaptureLines, TTY: tty})
	if err != nil {
		errs = append(errs, fmt.Errorf("logs: %s", j.Docker.Why(err)))
	}
	if err == nil || len(logs.Lines) > 0 {
		var b bytes.Buffer
		for _, l := range logs.Lines {
			ts, text, _ := strings.Cut(l.Text, " ")
			fmt.Fprintf(&b, "%s %s %s\n", ts, l.Stream, text)
		}
		if p, werr := durable.WriteNew(j.Dir, stem+"_logs.log", b.Bytes()); werr != nil {
			errs = append(errs, fmt.Errorf("logs: %w", werr))
		} else {
			files = append(files, p)
		}
	}
	return files, errors.Join(errs...)
}

func shortHex(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func truncateStr(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ContainerActions lists the actions that act on a container.
func ContainerActions() []string {
	var s []string
	for k := range containerActions {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}
