package kubecmd

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/kube"
)

const actAbout = `
Prints one JSON line: {"verb", "resource", "namespace", "name", "dry_run",
"result": ok|planned|no_change|refused|failed, "call": the exact API
request, …}. --dry-run reads what it must and writes nothing: "call" is
what would be sent. Exit 0 done (or planned, or no change), 1 failed (the
API server's reason on stderr, one line naming the verb and resource), 2
usage, 3 refused by policy (nothing changed).
`

const restartPodAbout = `Deletes a pod so that its controller (ReplicaSet, StatefulSet, DaemonSet,
Job) makes a new one: what sre-heal's restart_pod runs. A pod with no
controller would be gone for good: refused (exit 3) unless --allow-orphan.
The delete carries the pod's uid as a precondition (--uid, else the uid just
read), so a new pod of the same name is never the one deleted. With
--evidence-dir, the pod's previous logs and events are kept there first
(as sre-kube evidence does); when any of it could not be kept (a log RBAC
denies, a kubelet out of reach, a full disk) the pod is not deleted, unless
--best-effort. A pod no node runs has no log: that is said, and is no
reason to keep it.
` + actAbout

func runRestartPod(ctx context.Context, std cli.IO, args []string) error {
	var pod, uid, dir string
	var allowOrphan, dryRun, bestEffort bool
	var tail int
	fs := subFlagSet("restart-pod --pod NAMESPACE/NAME [--uid UID] [--allow-orphan] [--evidence-dir DIR [--tail N]] [--dry-run]", restartPodAbout, std.Out)
	fs.StringVar(&pod, "pod", "", "the pod `NAMESPACE/NAME`")
	fs.StringVar(&uid, "uid", "", "act only if the pod is still the one with this `UID`")
	fs.BoolVar(&allowOrphan, "allow-orphan", false, "delete a pod that no controller will recreate")
	fs.StringVar(&dir, "evidence-dir", "", "keep the pod's previous logs and events in `DIR` before deleting it")
	fs.IntVar(&tail, "tail", defaultTail, "log lines kept per container (with --evidence-dir)")
	fs.BoolVar(&bestEffort, "best-effort", false, "delete even when no evidence could be kept")
	fs.BoolVar(&dryRun, "dry-run", false, "read the pod, print the call, change nothing")
	cfg := clusterFlags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("restart-pod: unexpected argument %q", fs.Arg(0))
	}
	ref, err := podFlag(pod)
	if err != nil {
		return err
	}
	if dir != "" {
		if err := checkEvidenceFlags(dir, tail, "--evidence-dir", "--tail"); err != nil {
			return err
		}
	}
	if strings.ContainsAny(uid, " /\n\x00") || len(uid) > 64 {
		return cli.Usagef("--uid %q: not a Kubernetes uid", uid)
	}
	c, err := client(cfg)
	if err != nil {
		return err
	}
	r := &result{Verb: "delete", Resource: "pods", Namespace: ref.Namespace, Name: ref.Name, DryRun: dryRun}
	fail := func(how, why string) error {
		r.Result, r.Error = how, why
		return finish(std.Out, r)
	}
	p, err := c.Pod(ctx, ref.Namespace, ref.Name)
	switch {
	case kube.IsNotFound(err):
		return fail(resultFailed, "no such pod (deleted since?)")
	case err != nil:
		return fail(resultFailed, kube.Why(err))
	}
	r.UID = string(p.UID)
	if uid != "" && uid != r.UID {
		return fail(resultRefused, fmt.Sprintf("the pod is now uid %s, not %s: another pod of the same name", r.UID, uid))
	}
	owner := kube.Controller(p)
	if owner != nil {
		r.Owner = owner.Kind + "/" + owner.Name
	} else if !allowOrphan {
		return fail(resultRefused, "the pod has no controller: deleted, it would not come back (--allow-orphan deletes it all the same)")
	}
	if p.DeletionTimestamp != nil {
		r.Result = resultNoChange
		r.Messages = append(r.Messages, "the pod is already being deleted")
		return finish(std.Out, r)
	}
	r.Call = kube.DeleteCall(ref.Namespace, ref.Name, r.UID)
	if dryRun {
		r.Result = resultPlanned
		if dir != "" {
			r.Messages = append(r.Messages, "would keep its previous logs and events in "+dir+" first")
		}
		return finish(std.Out, r)
	}
	if dir != "" {
		keepEvidence(ctx, c, ref, "", dir, tail, std.Now(), r)
		var missed *unread
		for i := range r.Unread {
			if !r.Unread[i].None {
				missed = &r.Unread[i]
				break
			}
		}
		if (missed != nil || len(r.Files) == 0) && !bestEffort {
			why := "evidence not kept, so the pod was not deleted (--best-effort deletes it all the same)"
			if missed != nil {
				why += ": " + missed.What + ": " + missed.Why
			}
			return fail(resultFailed, why)
		}
	}
	if _, err := c.DeletePod(ctx, ref.Namespace, ref.Name, r.UID); err != nil {
		if kube.IsNotFound(err) {
			return fail(resultFailed, "no such pod (deleted since it was read)")
		}
		return fail(resultFailed, kube.Why(err))
	}
	r.Result = resultOK
	return finish(std.Out, r)
}

const rolloutAbout = `Restarts every pod of a Deployment, StatefulSet or DaemonSet as
'kubectl rollout restart' does: a strategic-merge patch that sets the pod
template's kubectl.kubernetes.io/restartedAt annotation to now; the
controller then replaces the pods as its rollout strategy says. What
sre-heal's rollout_restart runs.
` + actAbout

func runRolloutRestart(ctx context.Context, std cli.IO, args []string) error {
	var w workloadFlags
	var dryRun bool
	fs := subFlagSet("rollout-restart --namespace NS --kind Deployment|StatefulSet|DaemonSet --name NAME [--dry-run]", rolloutAbout, std.Out)
	w.add(fs.StringVar, "Deployment, StatefulSet or DaemonSet")
	fs.BoolVar(&dryRun, "dry-run", false, "print the call, change nothing")
	cfg := clusterFlags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("rollout-restart: unexpected argument %q", fs.Arg(0))
	}
	res, err := w.check(false)
	if err != nil {
		return err
	}
	c, err := client(cfg)
	if err != nil {
		return err
	}
	r := &result{Verb: "patch", Resource: res, Namespace: w.ns, Name: w.name, Kind: w.kind, DryRun: dryRun}
	r.Call, _ = kube.RestartCall(w.ns, w.kind, w.name, std.Now())
	if dryRun {
		r.Result = resultPlanned
		return finish(std.Out, r)
	}
	if _, err := c.RolloutRestart(ctx, w.ns, w.kind, w.name, std.Now()); err != nil {
		r.Result, r.Error = resultFailed, kube.Why(err)
		if kube.IsNotFound(err) {
			r.Error = "no such " + w.kind
		}
		return finish(std.Out, r)
	}
	r.Result = resultOK
	return finish(std.Out, r)
}

type workloadFlags struct{ ns, kind, name string }

func (w *workloadFlags) add(str func(*string, string, string, string), kinds string) {
	str(&w.ns, "namespace", "", "the workload's `NAMESPACE`")
	str(&w.kind, "kind", "", "the workload's `KIND`: "+kinds)
	str(&w.name, "name", "", "the workload's `NAME`")
}

func (w *workloadFlags) check(scale bool) (string, error) {
	if w.ns == "" || w.kind == "" || w.name == "" {
		return "", cli.Usagef("--namespace, --kind and --name are all needed")
	}
	if err := kube.CheckNamespace(w.ns); err != nil {
		return "", cli.Usagef("--namespace: %v", err)
	}
	res, err := kube.Resource(w.kind, scale)
	if err != nil {
		return "", cli.Usagef("--kind: %v", err)
	}
	if err := kube.CheckName(strings.ToLower(w.kind), w.name); err != nil {
		return "", cli.Usagef("--name: %v", err)
	}
	return res, nil
}

const scaleAbout = `Changes a Deployment, StatefulSet or ReplicaSet's replicas through its
scale subresource, within bounds: it reads the replicas wanted now, takes
--by N (+N or -N) or --to N, keeps the result within [--min, --max], moves
at most --step, and never to 0 unless --allow-zero. At a bound it changes
nothing ("no_change", exit 0). The update carries the resourceVersion read,
so a scale made meanwhile by another is never overwritten: it is read
again and the target computed afresh (up to 5 times). What
sre-heal's scale runs.
` + actAbout

// scaleBounds is what a scale may do.
type scaleBounds struct {
	by, to         int
	hasBy, hasTo   bool
	min, max, step int
	allowZero      bool
}

func runScale(ctx context.Context, std cli.IO, args []string) error {
	var w workloadFlags
	var b scaleBounds
	var by string
	var dryRun bool
	fs := subFlagSet("scale --namespace NS --kind Deployment|StatefulSet --name NAME (--by +N|-N | --to N) --min N --max N [--step N] [--allow-zero] [--dry-run]", scaleAbout, std.Out)
	w.add(fs.StringVar, "Deployment, StatefulSet or ReplicaSet")
	fs.StringVar(&by, "by", "", "change the replicas by `±N` (+1, -2)")
	fs.IntVar(&b.to, "to", -1, "set the replicas to `N` (within the bounds)")
	fs.IntVar(&b.min, "min", -1, "never fewer replicas than `N` (required)")
	fs.IntVar(&b.max, "max", -1, "never more replicas than `N` (required)")
	fs.IntVar(&b.step, "step", 1, "never move more than `N` replicas at once")
	fs.BoolVar(&b.allowZero, "allow-zero", false, "allow scaling to 0 replicas")
	fs.BoolVar(&dryRun, "dry-run", false, "read the replicas, print the call, change nothing")
	cfg := clusterFlags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("scale: unexpected argument %q", fs.Arg(0))
	}
	res, err := w.check(true)
	if err != nil {
		return err
	}
	b.hasBy, b.hasTo = by != "", fs.Changed("to")
	if b.hasBy {
		n, err := strconv.Atoi(by)
		if err != nil || n == 0 || n < -1e6 || n > 1e6 {
			return cli.Usagef("--by %q: want a non-zero count such as +1 or -2", by)
		}
		b.by = n
	}
	if err := b.check(); err != nil {
		return err
	}
	c, err := client(cfg)
	if err != nil {
		return err
	}
	r := &result{Verb: "update", Resource: res + "/scale", Namespace: w.ns, Name: w.name, Kind: w.kind, DryRun: dryRun}
	// The scale's resourceVersion is the workload's, which its controller
	// moves on with each status it writes: a conflict is read again and
	// the target computed afresh from what is there now.
	for try := 1; ; try++ {
		r.Verb, r.Messages = "update", nil
		s, err := c.GetScale(ctx, w.ns, w.kind, w.name)
		if err != nil {
			r.Verb, r.Result, r.Error = "get", resultFailed, kube.Why(err)
			if kube.IsNotFound(err) {
				r.Error = "no such " + w.kind
			}
			return finish(std.Out, r)
		}
		from := s.Replicas
		to, why := b.target(int(from))
		r.From, r.To = &from, ptr(int32(to))
		if to == int(from) {
			r.Result = resultNoChange
			r.Messages = append(r.Messages, "no change: "+why)
			return finish(std.Out, r)
		}
		if why != "" {
			r.Messages = append(r.Messages, why)
		}
		r.Call, _ = kube.ScaleCall(w.ns, w.kind, w.name, int32(to))
		if dryRun {
			r.Result = resultPlanned
			return finish(std.Out, r)
		}
		_, err = c.UpdateScale(ctx, w.ns, w.kind, w.name, s, int32(to))
		if kube.IsConflict(err) && try < 5 {
			continue
		}
		if err != nil {
			r.Result, r.Error = resultFailed, kube.Why(err)
			return finish(std.Out, r)
		}
		r.Result = resultOK
		return finish(std.Out, r)
	}
}

func ptr[T any](v T) *T { return &v }

func (b *scaleBounds) check() error {
	switch {
	case b.hasBy == b.hasTo:
		return cli.Usagef("give one of --by ±N or --to N")
	case b.hasTo && b.to < 0:
		return cli.Usagef("--to %d: must be 0 or more", b.to)
	case b.min < 0 || b.max < 0:
		return cli.Usagef("--min and --max are required (0 or more)")
	case b.max < b.min:
		return cli.Usagef("--max %d is less than --min %d", b.max, b.min)
	case b.max < 1:
		return cli.Usagef("--max %d: must be at least 1", b.max)
	case b.min == 0 && !b.allowZero:
		return cli.Usagef("--min 0: scaling to zero needs --allow-zero")
	case b.step < 1:
		return cli.Usagef("--step %d: must be at least 1", b.step)
	case b.hasTo && b.to == 0 && !b.allowZero:
		return cli.Usagef("--to 0: scaling to zero needs --allow-zero")
	}
	return nil
}

// target is the replicas to set from cur, and why it is not what was
// asked for (a bound, the step), or why nothing changes.
func (b *scaleBounds) target(cur int) (int, string) {
	want := cur + b.by
	if b.hasTo {
		want = b.to
	}
	var why string
	lo := b.min
	if !b.allowZero && lo < 1 {
		lo = 1
	}
	switch {
	case want > b.max:
		want, why = b.max, fmt.Sprintf("at max %d", b.max)
	case want < lo:
		want, why = lo, fmt.Sprintf("at min %d", lo)
	}
	switch {
	case want > cur+b.step:
		want, why = cur+b.step, fmt.Sprintf("step %d", b.step)
	case want < cur-b.step:
		want, why = cur-b.step, fmt.Sprintf("step %d", b.step)
	}
	if want == cur && why == "" {
		why = fmt.Sprintf("already %d", cur)
	}
	return want, why
}
