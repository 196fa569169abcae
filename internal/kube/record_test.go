package kube

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/localsre/sre-agent/internal/event"
)

func TestRecord(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	del := metav1.NewTime(t0)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1", UID: "u1", ResourceVersion: "42", DeletionTimestamp: &del},
		Spec:       corev1.PodSpec{NodeName: "edge-1", Containers: []corev1.Container{{Name: "app"}, {Name: "sidecar"}, {Name: "late"}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, Reason: "Evicted", Message: strings.Repeat("é", 600),
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, {Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: "sidecar", Ready: false, RestartCount: 0, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}},
				{Name: "app", Ready: true, RestartCount: 3,
					State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(t0.Add(2 * time.Second))}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
						ExitCode: 137, Signal: 9, Reason: "OOMKilled", StartedAt: metav1.NewTime(t0.Add(-time.Minute)), FinishedAt: metav1.NewTime(t0)}}},
				{Name: "ghost", RestartCount: 1, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}},
			},
		},
	}
	owner := &event.PodOwner{Kind: "Deployment", Name: "web", ReplicaSet: "web-5d4"}
	got := Record(p, owner)
	code137, code0 := 137, 0
	at := func(t time.Time) *event.Time { v := event.At(t); return &v }
	want := event.Pod{
		Namespace: "shop", Name: "web-1", UID: "u1", Owner: owner, Node: "edge-1", Phase: "Running",
		Reason: "Evicted", Message: strings.Repeat("é", 512) + "…", Ready: true, Deleting: true, ResourceVersion: "42",
		Containers: []event.PodContainer{
			{Name: "app", Ready: true, RestartCount: 3, State: event.PodContainerState{Status: "running", StartedAt: at(t0.Add(2 * time.Second))},
				LastState: &event.PodContainerState{Status: "terminated", Reason: "OOMKilled", ExitCode: &code137, Signal: 9,
					StartedAt: at(t0.Add(-time.Minute)), FinishedAt: at(t0)}},
			{Name: "sidecar", State: event.PodContainerState{Status: "waiting", Reason: "ContainerCreating"}},
			{Name: "late", State: event.PodContainerState{Status: "waiting"}}, // no status yet
			{Name: "ghost", RestartCount: 1, State: event.PodContainerState{Status: "terminated", Reason: "Completed", ExitCode: &code0}},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("Record (-want +got):\n%s", d)
	}
	if Up(&got) {
		t.Error("Up: a deleting pod with a waiting container is up")
	}
	// The record is a valid part of a sample: the encoder and the view agree.
	s := event.Sample{Header: event.NewHeader(event.KindSample, "sre-kube", "h", t0), Target: "shop/web-1", Pod: &got}
	line, err := s.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	var v event.SampleView
	if _, err := event.ReadSample(line, &v, nil); err != nil || v.Pod == nil || cmp.Diff(&got, v.Pod) != "" {
		t.Fatalf("ReadSample: %v, %s", err, cmp.Diff(&got, v.Pod))
	}
}

func TestUp(t *testing.T) {
	run := event.PodContainerState{Status: "running"}
	for _, tt := range []struct {
		name string
		pod  event.Pod
		want bool
	}{
		{"running", event.Pod{Phase: "Running", Containers: []event.PodContainer{{State: run}, {State: run}}}, true},
		{"unready but running", event.Pod{Phase: "Running", Ready: false, Containers: []event.PodContainer{{State: run}}}, true},
		{"one in back-off", event.Pod{Phase: "Running", Containers: []event.PodContainer{{State: run}, {State: event.PodContainerState{Status: "waiting", Reason: "CrashLoopBackOff"}}}}, false},
		{"pending", event.Pod{Phase: "Pending", Containers: []event.PodContainer{{State: run}}}, false},
		{"deleting", event.Pod{Phase: "Running", Deleting: true, Containers: []event.PodContainer{{State: run}}}, false},
		{"no containers", event.Pod{Phase: "Running"}, false},
		{"evicted", event.Pod{Phase: "Failed", Reason: "Evicted"}, false},
	} {
		if got := Up(&tt.pod); got != tt.want {
			t.Errorf("%s: Up = %v, want %v", tt.name, got, tt.want)
		}
	}
}
