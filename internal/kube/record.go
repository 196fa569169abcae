package kube

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/localsre/sre-agent/internal/event"
)

// maxMessage bounds a status message carried in a record.
const maxMessage = 1024

// Record is what a sample says of pod p; owner is its workload as
// resolved (nil: none, or not known).
func Record(p *corev1.Pod, owner *event.PodOwner) event.Pod {
	r := event.Pod{
		Namespace: p.Namespace, Name: p.Name, UID: string(p.UID), Owner: owner,
		Node: p.Spec.NodeName, Phase: string(p.Status.Phase),
		Reason: p.Status.Reason, Message: clip(p.Status.Message, maxMessage),
		Deleting: p.DeletionTimestamp != nil, ResourceVersion: p.ResourceVersion,
	}
	if r.Phase == "" {
		r.Phase = string(corev1.PodPending)
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			r.Ready = c.Status == corev1.ConditionTrue
		}
	}
	// Each container of the spec, in its order, with its status when the
	// kubelet wrote one: a container not yet started is waiting.
	byName := make(map[string]*corev1.ContainerStatus, len(p.Status.ContainerStatuses))
	for i := range p.Status.ContainerStatuses {
		byName[p.Status.ContainerStatuses[i].Name] = &p.Status.ContainerStatuses[i]
	}
	for _, sc := range p.Spec.Containers {
		c := event.PodContainer{Name: sc.Name, State: event.PodContainerState{Status: event.PodWaiting}}
		if st := byName[sc.Name]; st != nil {
			c.Ready, c.RestartCount = st.Ready, int(st.RestartCount)
			c.State = state(st.State)
			if last := state(st.LastTerminationState); last.Status != event.PodUnknown {
				c.LastState = &last
			}
			delete(byName, sc.Name)
		}
		r.Containers = append(r.Containers, c)
	}
	// A status for a container the spec does not name (the API allows
	// none; an old server might): kept, after the others.
	for i := range p.Status.ContainerStatuses {
		st := &p.Status.ContainerStatuses[i]
		if byName[st.Name] == nil {
			continue
		}
		c := event.PodContainer{Name: st.Name, Ready: st.Ready, RestartCount: int(st.RestartCount), State: state(st.State)}
		if last := state(st.LastTerminationState); last.Status != event.PodUnknown {
			c.LastState = &last
		}
		r.Containers = append(r.Containers, c)
	}
	return r
}

// Up is the watcher's verdict on a pod: running, not on its way out, and
// every container running.
func Up(r *event.Pod) bool {
	if r.Phase != string(corev1.PodRunning) || r.Deleting || len(r.Containers) == 0 {
		return false
	}
	for i := range r.Containers {
		if r.Containers[i].State.Status != event.PodRunning {
			return false
		}
	}
	return true
}

func state(s corev1.ContainerState) event.PodContainerState {
	switch {
	case s.Terminated != nil:
		t := s.Terminated
		code := int(t.ExitCode)
		return event.PodContainerState{Status: event.PodTerminated, Reason: t.Reason, Message: clip(t.Message, maxMessage),
			ExitCode: &code, Signal: int(t.Signal), StartedAt: at(t.StartedAt), FinishedAt: at(t.FinishedAt)}
	case s.Running != nil:
		return event.PodContainerState{Status: event.PodRunning, StartedAt: at(s.Running.StartedAt)}
	case s.Waiting != nil:
		return event.PodContainerState{Status: event.PodWaiting, Reason: s.Waiting.Reason, Message: clip(s.Waiting.Message, maxMessage)}
	}
	return event.PodContainerState{Status: event.PodUnknown}
}

func at(t metav1.Time) *event.Time {
	if t.IsZero() {
		return nil
	}
	v := event.At(t.Time)
	return &v
}

// clip bounds s to n bytes, cutting at a rune's start.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
