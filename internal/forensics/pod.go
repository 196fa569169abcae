package forensics

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/localsre/sre-agent/internal/kube/kubeprog"
	"strconv"
)

// podEvidenceCollector keeps a pod incident's own evidence before anything
// can take it: the previous run of its container's log and the pod's
// recent events, written as files in the report directory by `sre-kube
// evidence` (the agent's one Kubernetes client, a process of its own so
// that sre-report links none of it). The section names the files, and
// what could not be read and why.
type podEvidenceCollector struct {
	find func() (string, error) // the sre-kube program
	dir  string
	tail int
}

var _ Collector = (*podEvidenceCollector)(nil)

// NewPodEvidenceCollector returns the "Kubernetes pod evidence" collector:
// it runs sreKube (found by find) to keep evidence files in dir, the last
// tail lines of log per container.
func NewPodEvidenceCollector(find func() (string, error), dir string, tail int) Collector {
	if tail < 1 {
		tail = DefaultContainerLogLines
	}
	return &podEvidenceCollector{find: find, dir: dir, tail: tail}
}

// FindSreKube finds sre-kube as kubeprog.Find does, each time the
// collector needs it.
func FindSreKube(getenv func(string) string) func() (string, error) {
	return func() (string, error) { return kubeprog.Find(getenv, "sre-report") }
}

// PodOf is the pod an incident is about: the namespace, pod and container
// a pod event's detail names (sre-detect's pod events), "" when none.
func PodOf(inc *Incident) (ns, pod, container string) {
	if inc.Event == nil {
		return "", "", ""
	}
	str := func(k string) string { s, _ := inc.Event.Detail[k].(string); return s }
	return str("namespace"), str("pod"), str("container")
}

func (c *podEvidenceCollector) Collect(ctx context.Context, inc *Incident) (Section, error) {
	ns, pod, container := PodOf(inc)
	if ns == "" || pod == "" {
		return Section{}, ErrNotApplicable
	}
	s := Section{Title: "Kubernetes pod evidence"}
	s.Add("Pod", truncate(ns+"/"+pod, 320))
	// Names from the stream go to sre-kube only once checked, and after
	// the flag that takes them.
	if !kubeprog.ValidLabel(ns) || !kubeprog.ValidSubdomain(pod) {
		s.Note("sre-kube: %q is not a valid NAMESPACE/POD: not asked", truncate(ns+"/"+pod, 120))
		return s, nil
	}
	args := []string{"evidence", "--pod", ns + "/" + pod, "--dir", c.dir, "--tail", strconv.Itoa(c.tail)}
	if container != "" {
		if !kubeprog.ValidLabel(container) { // a container's name is a DNS-1123 label
			s.Note("sre-kube: container %q is not a valid name: each container's log asked for", truncate(container, 80))
		} else {
			s.Add("Container", container)
			args = append(args, "--container", container)
		}
	}
	prog, err := c.find()
	if err != nil {
		s.Note("the pod's logs and events were not kept: %v", err)
		return s, nil
	}
	out, err := command{argv: append([]string{prog}, args...)}.output(ctx, 1<<20)
	var r kubeprog.Result
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		if err == nil {
			err = fmt.Errorf("no result line (%v)", jerr)
		}
		s.Note("the pod's logs and events were not kept: sre-kube evidence: %v", err)
		return s, ctx.Err()
	}
	if r.UID != "" {
		s.Add("Pod UID", r.UID)
	}
	if r.Owner != "" {
		s.Add("Controller", r.Owner)
	}
	for _, f := range r.Files {
		s.Addf("Kept", "%s (%s, %d bytes)", f.Path, f.What, f.Bytes)
	}
	if len(r.Files) == 0 {
		s.Add("Kept", "nothing")
	}
	for _, u := range r.Unread {
		s.Note("%s: %s", u.What, u.Why)
	}
	for _, m := range r.Messages {
		s.Note("%s", m)
	}
	return s, nil
}
