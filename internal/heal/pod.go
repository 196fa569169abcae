package heal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/kube/kubeprog"
)

// podAction acts on a pod or its workload through sre-kube, the agent's
// one process that links the Kubernetes client: sre-heal stays small, and
// pays for a cluster only when it acts on one. The argv it runs is made of
// the rule's names and of the event's names only once checked (DNS-1123)
// and found within the rule's namespaces and workloads.
type podAction struct{ action string }

var _ Action = podAction{}

// uidRe is the shape of a Kubernetes uid (a UUID); anything else in an
// event's detail.uid is not passed on.
var uidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// refused is an outcome of an action the rule's scope does not allow.
func refused(format string, args ...any) Outcome {
	return Outcome{Result: event.ResultSkipped, Err: "refused: " + fmt.Sprintf(format, args...)}
}

func detailStr(ev *event.Event, key string) string {
	if ev == nil {
		return ""
	}
	s, _ := ev.Detail[key].(string)
	return s
}

// podOf is the pod the event is about: detail namespace and pod, else its
// target NAMESPACE/POD.
func podOf(ev *event.Event) (ns, pod string) {
	ns, pod = detailStr(ev, "namespace"), detailStr(ev, "pod")
	if ns == "" && pod == "" && ev != nil {
		if n, p, ok := strings.Cut(ev.Target, "/"); ok {
			ns, pod = n, p
		}
	}
	return ns, pod
}

// argv is the sre-kube argv for j (without the program), or the refusal.
func (a podAction) argv(j *Job) ([]string, *Outcome) {
	r, ev := j.Rule, j.Event
	ns, pod := podOf(ev)
	switch {
	case ns == "" && pod == "" && a.action != "restart_pod" && len(r.Namespaces) == 1 && len(r.Workloads) == 1:
		// Not a pod's event: the one workload the rule names.
		ns = r.Namespaces[0]
	case ns == "" || pod == "":
		t := ""
		if ev != nil {
			t = ev.Target
		}
		o := refused("the event names no pod (target %q, no detail.namespace and detail.pod)", truncateStr(t, 80))
		return nil, &o
	case !kubeprog.ValidLabel(ns) || !kubeprog.ValidSubdomain(pod):
		o := refused("the event's pod %q is not a valid NAMESPACE/NAME", truncateStr(ns+"/"+pod, 120))
		return nil, &o
	}
	if !slices.Contains(r.Namespaces, ns) {
		o := refused("namespace %s is not one rule %s may act in (namespaces: %s)", ns, r.Name, strings.Join(r.Namespaces, ", "))
		return nil, &o
	}
	if a.action == "restart_pod" {
		args := []string{"restart-pod", "--pod", ns + "/" + pod}
		// The pod the event saw, and no other of its name (a StatefulSet's
		// pod recreated since): its uid is the delete's precondition.
		if uid := detailStr(ev, "uid"); uidRe.MatchString(uid) {
			args = append(args, "--uid", uid)
		}
		if r.AllowOrphan {
			args = append(args, "--allow-orphan")
		}
		if j.Dir != "" {
			args = append(args, "--evidence-dir", j.Dir, "--tail", strconv.Itoa(r.CaptureLines))
			if r.CaptureBestEff {
				args = append(args, "--best-effort")
			}
		}
		return args, nil
	}
	w := r.Workloads[0]
	if pod != "" {
		kind, name := detailStr(ev, "owner_kind"), detailStr(ev, "owner_name")
		if kind == "" || name == "" {
			o := refused("pod %s/%s has no workload the event names (detail.owner_kind, detail.owner_name)", ns, pod)
			return nil, &o
		}
		w = Workload{kind, name}
		if !slices.Contains(r.Workloads, w) {
			var ws []string
			for _, x := range r.Workloads {
				ws = append(ws, x.String())
			}
			o := refused("%s is not one rule %s may act on (workloads: %s)", truncateStr(w.String(), 120), r.Name, strings.Join(ws, ", "))
			return nil, &o
		}
	}
	args := []string{podActions[a.action], "--namespace", ns, "--kind", w.Kind, "--name", w.Name}
	if a.action == "scale" {
		args = append(args, "--by", fmt.Sprintf("%+d", r.By), "--min", strconv.Itoa(r.MinReplicas),
			"--max", strconv.Itoa(r.MaxReplicas), "--step", strconv.Itoa(r.Step))
		if r.AllowZero {
			args = append(args, "--allow-zero")
		}
	}
	return args, nil
}

func (a podAction) Do(ctx context.Context, j *Job) Outcome {
	args, ref := a.argv(j)
	if ref != nil {
		return *ref
	}
	if !j.Apply {
		args = append(args, "--dry-run")
	}
	prog, err := j.sreKube()
	if err != nil {
		o := Outcome{Argv: append([]string{"sre-kube"}, args...), Err: err.Error(), Result: event.ResultFailed}
		if !j.Apply {
			o.Result = event.ResultPlanned
			o.Desc = "would run sre-kube " + strings.Join(args, " ")
		}
		return o
	}
	argv := append([]string{prog}, args...)
	ctx, cancel := context.WithTimeout(ctx, j.Rule.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = j.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &limited{&stdout, 1 << 20}, &limited{&stderr, 64 << 10}
	runErr := cmd.Run()
	var res kubeprog.Result
	line := bytes.TrimSpace(stdout.Bytes())
	if i := bytes.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	parseErr := json.Unmarshal(line, &res)
	o := Outcome{Argv: callArgv(res.Call, argv)}
	for _, f := range res.Files {
		o.Evidence = append(o.Evidence, f.Path)
	}
	code := -1
	var xe *exec.ExitError
	if errors.As(runErr, &xe) {
		code = xe.ExitCode()
	} else if runErr == nil {
		code = 0
	}
	why := res.Error
	if why == "" {
		why = strings.TrimSpace(firstLine(stderr.String()))
	}
	switch {
	case ctx.Err() != nil:
		o.Result, o.Err = event.ResultFailed, fmt.Sprintf("sre-kube timed out after %v", j.Rule.Timeout)
	case code == kubeprog.ExitRefused:
		o.Result, o.Err = event.ResultSkipped, "refused: "+why
	case runErr != nil && code < 0:
		o.Result, o.Err = event.ResultFailed, fmt.Sprintf("run %s: %v", prog, runErr)
	case code != 0 || parseErr != nil:
		o.Result, o.Err = event.ResultFailed, why
		if res.Error != "" && res.Verb != "" {
			// As RBAC names it: "update deployments/scale shop/web: forbidden: …".
			o.Err = fmt.Sprintf("%s %s %s/%s: %s", res.Verb, res.Resource, res.Namespace, res.Name, res.Error)
		}
		if o.Err == "" {
			o.Err = fmt.Sprintf("sre-kube exited %d with no result line", code)
		}
	case res.Result == kubeprog.ResultNoChange:
		o.Result, o.Err = event.ResultSkipped, strings.Join(res.Messages, "; ")
	case res.Result == kubeprog.ResultPlanned:
		o.Result = event.ResultPlanned
	default:
		o.Result = event.ResultOK
	}
	if !j.Apply && o.Result == event.ResultFailed {
		// A dry run that could not ask the cluster still says what it
		// would run.
		o.Result = event.ResultPlanned
	}
	var notes []string
	for _, u := range res.Unread {
		notes = append(notes, u.What+": "+u.Why)
	}
	if len(notes) > 0 && o.Result != event.ResultFailed {
		msg := "evidence not fully kept: " + strings.Join(notes, "; ")
		if o.Err != "" {
			msg = o.Err + "; " + msg
		}
		o.Err = msg
	}
	verb := "called"
	if !j.Apply {
		verb = "would call"
	}
	switch {
	case res.Call != "":
		o.Desc = verb + " " + res.Call
		if res.From != nil && res.To != nil {
			o.Desc += fmt.Sprintf(" (replicas %d → %d)", *res.From, *res.To)
		}
	case res.Result == kubeprog.ResultNoChange:
		o.Desc = "no change: " + strings.Join(res.Messages, "; ")
	default:
		o.Desc = "ran " + quoteArgv(argv)
	}
	return o
}

// callArgv is the API call as the action record's argv: method, path and
// body (the request an audit reader wants), else the sre-kube argv.
func callArgv(call string, argv []string) []string {
	if call == "" {
		return argv
	}
	method, rest, _ := strings.Cut(call, " ")
	path, body, hasBody := strings.Cut(rest, " ")
	if hasBody {
		return []string{method, path, body}
	}
	return []string{method, path}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// limited keeps the first n bytes written and discards the rest.
type limited struct {
	b *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// sreKube finds the sre-kube program: SRE_KUBE in the job's environment,
// else beside sre-heal's own executable, else on PATH.
func (j *Job) sreKube() (string, error) {
	getenv := func(k string) string {
		for _, kv := range slices.Backward(j.Environ) {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
	return kubeprog.Find(getenv, "sre-heal")
}
