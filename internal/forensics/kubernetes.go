package forensics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// kubernetesCollector tells the pod's story through kubectl: namespace,
// pod, container, restarts and the last termination's reason and exit
// code. kubectl brings the user's kubeconfig, contexts and auth plugins,
// which a client of our own would have to relearn.
type kubernetesCollector struct {
	kubectl  string // program; found on PATH when empty or not a path
	lookPath func(string) (string, error)
	getenv   func(string) string
	hostname func() (string, error)
	maxBytes int // bytes of kubectl's JSON read
}

var _ Collector = (*kubernetesCollector)(nil)

// NewKubernetesCollector returns the "Kubernetes pod" collector; kubectlPath
// is the program to run, or "" for kubectl on PATH.
func NewKubernetesCollector(kubectlPath string) Collector {
	return &kubernetesCollector{
		kubectl: kubectlPath, lookPath: exec.LookPath, getenv: os.Getenv,
		hostname: os.Hostname, maxBytes: 32 << 20,
	}
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
	prog, err := c.program()
	if err != nil {
		s.Note("kubectl: %v", err)
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
		argv := []string{prog, "get", "pods", "--all-namespaces", "-o", "json", "--request-timeout=" + c.requestTimeout(ctx)}
		if sel != "" {
			argv = append(argv, "--field-selector", sel)
		}
		out, err := command{argv: argv}.output(ctx, c.maxBytes)
		if err != nil {
			s.Note("kubectl get pods: %v%s", err, c.configHint())
			return s, ctx.Err()
		}
		if len(out) >= c.maxBytes {
			s.Note("kubectl get pods: answer over %s: not read", humanBytes(uint64(c.maxBytes)))
			return s, nil
		}
		pods, err := parsePodList(out)
		if err != nil {
			s.Note("kubectl get pods: %v", err)
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
	s.Note("kubectl: no pod with this uid or container among the pods of %s (deleted since?)", strings.Join(tried, ", then "))
	return s, nil
}

// program finds kubectl, saying why when it cannot.
func (c *kubernetesCollector) program() (string, error) {
	name := c.kubectl
	if name == "" {
		name = "kubectl"
	}
	if strings.ContainsRune(name, '/') {
		if _, err := os.Stat(name); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("%s absent", name)
			}
			return "", err
		}
		return name, nil
	}
	p, err := c.lookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not installed (not on PATH)", name)
	}
	return p, nil
}

// requestTimeout leaves kubectl a little less than our own deadline, so
// it says what it was waiting for instead of being killed mid-sentence.
func (c *kubernetesCollector) requestTimeout(ctx context.Context) string {
	d := 2 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl)*9/10)
	}
	return fmt.Sprintf("%dms", max(d.Milliseconds(), 100))
}

// configHint adds why kubectl may not know a cluster: no kubeconfig.
func (c *kubernetesCollector) configHint() string {
	if c.getenv("KUBERNETES_SERVICE_HOST") != "" {
		return "" // in a pod: kubectl uses the service account
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

// parsePodList parses kubectl get pods -o json (a v1 List of Pods).
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
		s.Note("kubectl: which container ran the process is unknown (no container id matched)")
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
