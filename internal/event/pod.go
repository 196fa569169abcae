package event

import (
	"encoding/json"
	"strconv"
)

// Pod is what the Kubernetes API says of a pod target: its identity, the
// workload that owns it, where it runs, and each container's state and
// last end as the kubelet wrote them. Times and counts are the cluster's
// own.
type Pod struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid,omitempty"`
	// Owner is the workload that owns it: a Deployment (through its
	// ReplicaSet), StatefulSet, DaemonSet, Job, ReplicaSet or another
	// controller; absent for a bare pod.
	Owner *PodOwner `json:"owner,omitempty"`
	Node  string    `json:"node,omitempty"`
	// Phase is the pod's: Pending, Running, Succeeded, Failed or Unknown.
	Phase string `json:"phase"`
	// Reason and Message are the pod's own (Evicted, and why), when set.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Ready is its Ready condition.
	Ready bool `json:"ready"`
	// Deleting: the pod has a deletion timestamp; it is on its way out.
	Deleting bool `json:"deleting,omitempty"`
	// ResourceVersion is the API server's version of the pod read.
	ResourceVersion string         `json:"resource_version,omitempty"`
	Containers      []PodContainer `json:"containers,omitempty"`
}

// PodOwner names the controller of a pod and, when that is a ReplicaSet
// owned by a Deployment, the Deployment.
type PodOwner struct {
	// Kind and Name are the workload: Deployment, StatefulSet, DaemonSet,
	// Job, ReplicaSet, or the kind of another controller.
	Kind string `json:"kind"`
	Name string `json:"name"`
	// ReplicaSet is the pod's own controller when Kind is Deployment.
	ReplicaSet string `json:"replicaset,omitempty"`
}

// PodContainer is one container of a pod, as its status says.
type PodContainer struct {
	Name         string `json:"name"`
	Ready        bool   `json:"ready"`
	RestartCount int    `json:"restart_count"`
	// State is now; LastState is how its previous run ended, once it has
	// restarted.
	State     PodContainerState  `json:"state"`
	LastState *PodContainerState `json:"last_state,omitempty"`
}

// PodContainerState is one of the kubelet's container states.
type PodContainerState struct {
	// Status is running, waiting or terminated; unknown when the status
	// names none.
	Status string `json:"status"`
	// Reason is the kubelet's: CrashLoopBackOff, ContainerCreating (waiting);
	// OOMKilled, Error, Completed (terminated).
	Reason   string `json:"reason,omitempty"`
	Message  string `json:"message,omitempty"`
	ExitCode *int   `json:"exit_code,omitempty"`
	// Signal is the signal that ended it, when the runtime says.
	Signal     int   `json:"signal,omitempty"`
	StartedAt  *Time `json:"started_at,omitempty"`
	FinishedAt *Time `json:"finished_at,omitempty"`
}

// Container states of a pod's container.
const (
	PodRunning    = "running"
	PodWaiting    = "waiting"
	PodTerminated = "terminated"
	PodUnknown    = "unknown"
)

// Container returns the pod's container of that name, or nil.
func (p *Pod) Container(name string) *PodContainer {
	for i := range p.Containers {
		if p.Containers[i].Name == name {
			return &p.Containers[i]
		}
	}
	return nil
}

// Ref is "namespace/name".
func (p *Pod) Ref() string { return p.Namespace + "/" + p.Name }

func appendPod(b []byte, p *Pod) []byte {
	b = append(b, `{"namespace":`...)
	b = appendString(b, p.Namespace)
	b = append(b, `,"name":`...)
	b = appendString(b, p.Name)
	b = appendOptString(b, `,"uid":`, p.UID)
	if o := p.Owner; o != nil {
		b = append(b, `,"owner":{"kind":`...)
		b = appendString(b, o.Kind)
		b = append(b, `,"name":`...)
		b = appendString(b, o.Name)
		b = appendOptString(b, `,"replicaset":`, o.ReplicaSet)
		b = append(b, '}')
	}
	b = appendOptString(b, `,"node":`, p.Node)
	b = append(b, `,"phase":`...)
	b = appendString(b, p.Phase)
	b = appendOptString(b, `,"reason":`, p.Reason)
	b = appendOptString(b, `,"message":`, p.Message)
	b = append(b, `,"ready":`...)
	b = strconv.AppendBool(b, p.Ready)
	if p.Deleting {
		b = append(b, `,"deleting":true`...)
	}
	b = appendOptString(b, `,"resource_version":`, p.ResourceVersion)
	if len(p.Containers) > 0 {
		b = append(b, `,"containers":[`...)
		for i := range p.Containers {
			c := &p.Containers[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendString(b, c.Name)
			b = append(b, `,"ready":`...)
			b = strconv.AppendBool(b, c.Ready)
			b = append(b, `,"restart_count":`...)
			b = strconv.AppendInt(b, int64(c.RestartCount), 10)
			b = append(b, `,"state":`...)
			b = appendPodState(b, &c.State)
			if c.LastState != nil {
				b = append(b, `,"last_state":`...)
				b = appendPodState(b, c.LastState)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendPodState(b []byte, s *PodContainerState) []byte {
	b = append(b, `{"status":`...)
	b = appendString(b, s.Status)
	b = appendOptString(b, `,"reason":`, s.Reason)
	b = appendOptString(b, `,"message":`, s.Message)
	b = appendOptInt(b, `,"exit_code":`, s.ExitCode)
	if s.Signal != 0 {
		b = append(b, `,"signal":`...)
		b = strconv.AppendInt(b, int64(s.Signal), 10)
	}
	if s.StartedAt != nil {
		b = append(b, `,"started_at":`...)
		b = appendTime(b, *s.StartedAt)
	}
	if s.FinishedAt != nil {
		b = append(b, `,"finished_at":`...)
		b = appendTime(b, *s.FinishedAt)
	}
	return append(b, '}')
}

// parsePod reads a sample's pod. Pod samples come from the cluster's API at
// its pace (a status change, a tick), not at the process path's rate, so
// the object is decoded by encoding/json rather than walked by hand.
func parsePod(l *lex, s *SampleView) error {
	raw := l.value()
	if l.bad {
		return badSample("pod: malformed")
	}
	var p Pod
	if err := json.Unmarshal(raw, &p); err != nil {
		return badSample("pod: %v", err)
	}
	switch {
	case p.Namespace == "":
		return badSample("pod.namespace: missing")
	case p.Name == "":
		return badSample("pod.name: missing")
	}
	s.Pod = &p
	return nil
}
