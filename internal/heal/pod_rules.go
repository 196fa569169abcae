package heal

import (
	"fmt"
	"slices"
	"strings"

	"github.com/localsre/sre-agent/internal/kube/kubeprog"
)

// podActions are the actions that act on a pod or its workload, each the
// sre-kube subcommand it runs.
var podActions = map[string]string{
	"restart_pod":     "restart-pod",
	"rollout_restart": "rollout-restart",
	"scale":           "scale",
}

// PodActions lists the actions that act on Kubernetes, sorted.
func PodActions() []string {
	s := make([]string, 0, len(podActions))
	for k := range podActions {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

// Workload is a workload a rule may act on: KIND/NAME.
type Workload struct{ Kind, Name string }

func (w Workload) String() string { return w.Kind + "/" + w.Name }

// Kinds each pod action may name in workloads:.
var workloadKinds = map[string][]string{
	"rollout_restart": {"Deployment", "StatefulSet", "DaemonSet"},
	"scale":           {"Deployment", "StatefulSet", "ReplicaSet"},
}

// Defaults of the scale action.
const (
	DefaultScaleStep = 1
	DefaultScaleBy   = 1
)

// podKeys reads the Kubernetes keys of raw into r, and refuses them on an
// action that does not act on Kubernetes.
func podKeys(r *Rule, raw *rawRule) error {
	_, isPod := podActions[r.Action]
	set := map[string]bool{
		"namespaces": raw.Namespaces != nil, "workloads": raw.Workloads != nil, "allow_orphan": raw.AllowOrphan != nil,
		"min_replicas": raw.MinReplicas != nil, "max_replicas": raw.MaxReplicas != nil, "step": raw.Step != nil,
		"allow_zero": raw.AllowZero != nil, "by": raw.By != nil,
	}
	only := map[string]string{
		"namespaces": "restart_pod, rollout_restart and scale", "workloads": "rollout_restart and scale",
		"allow_orphan": "restart_pod", "min_replicas": "scale", "max_replicas": "scale", "step": "scale",
		"allow_zero": "scale", "by": "scale",
	}
	for _, k := range []string{"namespaces", "workloads", "allow_orphan", "min_replicas", "max_replicas", "step", "allow_zero", "by"} {
		if set[k] && (!isPod || !strings.Contains(only[k], r.Action)) {
			return keyErrf(k, "%s: only for %s", k, only[k])
		}
	}
	if !isPod {
		return nil
	}
	r.Namespaces = raw.Namespaces
	for _, w := range raw.Workloads {
		kind, name, ok := strings.Cut(w, "/")
		if !ok || !slices.Contains(workloadKinds[r.Action], kind) {
			return keyErrf("workloads", "workloads: %q: want KIND/NAME, KIND one of %s", w, strings.Join(workloadKinds[r.Action], ", "))
		}
		if !kubeprog.ValidSubdomain(name) {
			return keyErrf("workloads", "workloads: %q: name %q: not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', at most 253)", w, name)
		}
		r.Workloads = append(r.Workloads, Workload{kind, name})
	}
	if raw.AllowOrphan != nil {
		r.AllowOrphan = *raw.AllowOrphan
	}
	if r.Action != "scale" {
		return nil
	}
	if raw.MinReplicas == nil {
		return keyErrf("min_replicas", "min_replicas: missing; scale needs its bounds: min_replicas and max_replicas")
	}
	if raw.MaxReplicas == nil {
		return keyErrf("max_replicas", "max_replicas: missing; scale needs its bounds: min_replicas and max_replicas")
	}
	r.MinReplicas, r.MaxReplicas = *raw.MinReplicas, *raw.MaxReplicas
	r.Step, r.By = DefaultScaleStep, DefaultScaleBy
	if raw.Step != nil {
		r.Step = *raw.Step
	}
	if raw.By != nil {
		r.By = *raw.By
	}
	if raw.AllowZero != nil {
		r.AllowZero = *raw.AllowZero
	}
	switch {
	case r.MinReplicas < 0 || r.MinReplicas > 10000:
		return keyErrf("min_replicas", "min_replicas %d: must be between 0 and 10000", r.MinReplicas)
	case r.MinReplicas == 0 && !r.AllowZero:
		return keyErrf("min_replicas", "min_replicas 0: scaling to zero needs allow_zero: true")
	case r.MaxReplicas < 1 || r.MaxReplicas > 10000:
		return keyErrf("max_replicas", "max_replicas %d: must be between 1 and 10000", r.MaxReplicas)
	case r.MaxReplicas < r.MinReplicas:
		return keyErrf("max_replicas", "max_replicas %d is less than min_replicas %d", r.MaxReplicas, r.MinReplicas)
	case r.Step < 1 || r.Step > 10000:
		return keyErrf("step", "step %d: must be between 1 and 10000", r.Step)
	case r.By == 0:
		return keyErrf("by", "by 0: want +N to scale up or -N to scale down")
	case r.By > r.Step || -r.By > r.Step:
		return keyErrf("by", "by %+d: moves more than step %d", r.By, r.Step)
	}
	return nil
}

// checkPod validates a pod action's scope: the namespaces it may act in
// (required), and for rollout_restart and scale the workloads.
func checkPod(r *Rule) error {
	if err := noCommand(r); err != nil {
		return err
	}
	if len(r.Namespaces) == 0 {
		return keyErrf("namespaces", "action %s: namespaces: missing; name the namespaces the rule may act in (namespaces: [shop])", r.Action)
	}
	for _, ns := range r.Namespaces {
		if !kubeprog.ValidLabel(ns) {
			return keyErrf("namespaces", "namespaces: %q: not a DNS-1123 label (lower-case letters, digits and '-', at most 63)", ns)
		}
	}
	if r.Action != "restart_pod" && len(r.Workloads) == 0 {
		return keyErrf("workloads", "action %s: workloads: missing; name the workloads the rule may act on (workloads: [Deployment/web])", r.Action)
	}
	return nil
}

// PodPlan says what a pod rule runs, for sre-heal --check.
func PodPlan(r *Rule) string {
	scope := "in " + strings.Join(r.Namespaces, "|")
	var ws []string
	for _, w := range r.Workloads {
		ws = append(ws, w.String())
	}
	switch r.Action {
	case "restart_pod":
		s := "delete the event's pod " + scope
		if r.AllowOrphan {
			s += " (bare pods too)"
		}
		return s
	case "rollout_restart":
		return "rollout restart of " + strings.Join(ws, "|") + " " + scope
	}
	return fmt.Sprintf("scale %s %s by %+d, step %d, within [%d, %d]", strings.Join(ws, "|"), scope, r.By, r.Step, r.MinReplicas, r.MaxReplicas)
}
