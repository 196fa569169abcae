package forensics

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// kubernetesCollector tells the story of the pod a process of this node
// ran in: namespace, pod, container, restarts and the last termination's
// reason and exit code. It asks the cluster through sre-kube pods, the
// agent's one Kubernetes client, which reads the kubeconfig as kubectl
// does; sre-report itself links nothing of Kubernetes.
type kubernetesCollector struct {
	find     func() (string, error) // sre-kube
	getenv   func(string) string
	hostname func() (string, error)
	maxBytes int // bytes of the pod list read
}

var _ Collector = (*kubernetesCollector)(nil)

// NewKubernetesCollector returns the "Kubernetes pod" collector; find
// finds sre-kube (FindSreKube).
func NewKubernetesCollector(find func() (string, error)) Collector {
	return &kubernetesCollector{find: find, getenv: os.Getenv, hostname: os.Hostname, maxBytes: 32 << 20}
}

func (c *kubernetesCollector) Collect(ctx context.Context, inc *Incident) (Section, error) {
	p := inc.Process
	if p == nil || (p.PodUID == "" && p.Runtime != "kubepods" && !strings.Contains(p.Cgroup, "kubepods")) {
		return Section{}, ErrNotApplicable
	}
	s := Section{Title: "Kubernetes pod"}
	if p.PodUID != "" {
		s.Add("Pod UID", p.PodUID)
	}
	if p.ContainerID != "" {
		s.Add("Container ID", p.ContainerID)
	}
	prog, err := c.find()
	if err != nil {
		s.Note("the pod is not named: %v", err)
		return s, nil
	}
	// The pod runs on this node: ask for this node's pods first (a small
	// answer on a big cluster), then for all when the node has another name.
	var selectors []string
	if h, err := c.hostname(); err == nil && h != "" {
		selectors = append(selectors, "spec.nodeName="+h)
	}
	selectors = append(selectors, "")
	var tried []string
	for _, sel := range selectors {
		argv := []string{prog, "pods", "--request-timeout=" + c.requestTimeout(ctx)}
		if sel != "" {
			argv = append(argv, "--field-selector", sel)
		}
		out, err := command{argv: argv}.output(ctx, c.maxBytes)
		if err != nil {
			s.Note("sre-kube pods: %v%s", err, c.configHint())
			return s, ctx.Err()
		}
		if len(out) >= c.maxBytes {
			s.Note("sre-kube pods: answer over %s: not read", humanBytes(uint64(c.maxBytes)))
			return s, nil
		}
		pods, err := parsePodList(out)
		if err != nil {
			s.Note("sre-kube pods: %v", err)
			return s, nil
		}
		if pod, cs, ok := findPod(pods, p.PodUID, p.ContainerID); ok {
			podFields(&s, pod, cs)
			return s, nil
		}
		if sel == "" {
			tried = append(tried, "all namespaces")
		} else {
			tried = append(tried, sel)
		}
	}
	s.Note("no pod with this uid or container among the pods of %s (deleted since?)", strings.Join(tried, ", then "))
	return s, nil
}

// requestTimeout leaves sre-kube a little less than our own deadline, so
// it says what it was waiting for instead of being killed mid-sentence.
func (c *kubernetesCollector) requestTimeout(ctx context.Context) string {
	d := 2 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl)*9/10)
	}
	return fmt.Sprintf("%dms", max(d.Milliseconds(), 100))
}

// configHint adds why sre-kube may not know a cluster: no kubeconfig.
func (c *kubernetesCollector) configHint() string {
	if c.getenv("KUBERNETES_SERVICE_HOST") != "" {
		return "" // in a pod: sre-kube uses the service account
	}
	if kc := c.getenv("KUBECONFIG"); kc != "" {
		for _, f := range filepath.SplitList(kc) {
			if _, err := os.Stat(f); err == nil {
				return ""
			}
		}
		return " (KUBECONFIG=" + kc + " names no file that exists)"
	}
	home := c.getenv("HOME")
	if home != "" {
		if _, err := os.Stat(filepath.Join(home, ".kube", "config")); err == nil {
			return ""
		}
	}
	return " (no kubeconfig: KUBECONFIG unset and " + filepath.Join(home, ".kube", "config") + " absent)"
}

// pod is the part of a Pod object a report shows.
type pod struct {
	Metadata struct {
		Name      string
		Namespace string
		UID       string
	}
	Spec struct {
		NodeName string
	}
	Status struct {
		Phase                 string
		Reason                string
		ContainerStatuses     []containerStatus
		InitContainerStatuses []containerStatus
	}
}

type containerStatus struct {
	Name         string
	ContainerID  string
	RestartCount int
	State        containerState
	LastState    containerState
}

type containerState struct {
	Running *struct {
		StartedAt string
	}
	Waiting *struct {
		Reason  string
		Message string
	}
	Terminated *struct {
		ExitCode   int
		Signal     int
		Reason     string
		Message    string
		StartedAt  string
		FinishedAt string
	}
}

// parsePodList parses sre-kube pods (a v1 PodList, as kubectl get pods -o
// json prints a List of Pods).
func parsePodList(b []byte) ([]pod, error) {
	var l struct {
		Kind  string
		Items []pod
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("parse pod list: %w", err)
	}
	if l.Kind != "List" && l.Kind != "PodList" {
		return nil, fmt.Errorf("parse pod list: kind %q", l.Kind)
	}
	return l.Items, nil
}

// findPod finds the pod by uid or, without one, by a container id; cs is
// the container whose id matches, or the only one.
func findPod(pods []pod, uid, containerID string) (pod, *containerStatus, bool) {
	for _, p := range pods {
		all := append(append([]containerStatus(nil), p.Status.ContainerStatuses...), p.Status.InitContainerStatuses...)
		var match *containerStatus
		for i := range all {
			// containerd://ID, cri-o://ID, docker://ID
			if _, id, ok := strings.Cut(all[i].ContainerID, "://"); ok && id != "" && id == containerID {
				match = &all[i]
			}
		}
		if (uid != "" && p.Metadata.UID == uid) || (uid == "" && match != nil) {
			if match == nil && len(p.Status.ContainerStatuses) == 1 {
				match = &p.Status.ContainerStatuses[0]
			}
			return p, match, true
		}
	}
	return pod{}, nil, false
}

func podFields(s *Section, p pod, cs *containerStatus) {
	s.Add("Namespace", p.Metadata.Namespace)
	s.Add("Pod", p.Metadata.Name)
	if !hasField(*s, "Pod UID") {
		s.Add("Pod UID", p.Metadata.UID)
	}
	if p.Spec.NodeName != "" {
		s.Add("Node", p.Spec.NodeName)
	}
	phase := p.Status.Phase
	if p.Status.Reason != "" {
		phase += " (" + p.Status.Reason + ")" // Evicted
	}
	s.Add("Phase", phase)
	ns, name := shellQuote(p.Metadata.Namespace), shellQuote(p.Metadata.Name)
	if cs == nil {
		var names []string
		for _, c := range p.Status.ContainerStatuses {
			names = append(names, fmt.Sprintf("%s (%d restarts)", c.Name, c.RestartCount))
		}
		s.Add("Containers", strings.Join(names, ", "))
		s.Note("which container ran the process is unknown (no container id matched)")
	} else {
		s.Add("Container", cs.Name)
		s.Addf("Restart count", "%d", cs.RestartCount)
		if v := stateText(cs.State); v != "" {
			s.Add("State now", v)
		}
		if t := cs.LastState.Terminated; t != nil {
			s.Add("Last termination", terminatedText(t.Reason, t.ExitCode, t.Signal, t.FinishedAt, t.Message))
		} else if t := cs.State.Terminated; t == nil {
			s.Add("Last termination", "none recorded")
		}
	}
	s.Add("Describe", "kubectl -n "+ns+" describe pod "+name)
	if cs != nil {
		s.Add("Previous logs", "kubectl -n "+ns+" logs "+name+" -c "+shellQuote(cs.Name)+" --previous --tail=200")
	}
}

func hasField(s Section, key string) bool {
	for _, f := range s.Fields {
		if f.Key == key {
			return true
		}
	}
	return false
}

func stateText(st containerState) string {
	switch {
	case st.Running != nil:
		return "running since " + st.Running.StartedAt
	case st.Waiting != nil:
		v := "waiting: " + st.Waiting.Reason // CrashLoopBackOff
		if st.Waiting.Message != "" {
			v += ": " + truncate(st.Waiting.Message, 200)
		}
		return v
	case st.Terminated != nil:
		t := st.Terminated
		return "terminated: " + terminatedText(t.Reason, t.ExitCode, t.Signal, t.FinishedAt, t.Message)
	}
	return ""
}

func terminatedText(reason string, code, signal int, finished, msg string) string {
	v := fmt.Sprintf("%s, exit code %s", reason, exitMeaning(code))
	if signal != 0 {
		v += fmt.Sprintf(", signal %d", signal)
	}
	if finished != "" {
		v += ", at " + finished
	}
	if msg != "" {
		v += ": " + truncate(strings.TrimSpace(msg), 200)
	}
	return v
}
