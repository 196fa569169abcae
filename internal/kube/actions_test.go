package kube

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCalls(t *testing.T) {
	at := time.Date(2026, 12, 7, 3, 4, 5, 0, time.UTC)
	restart, err := RestartCall("shop", "StatefulSet", "db", at)
	if err != nil {
		t.Fatal(err)
	}
	scale, err := ScaleCall("shop", "ReplicaSet", "api-7d9", 3)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{
		DeleteCall("shop", "api-1", ""),
		DeleteCall("shop", "api-1", "6b1f0f4e-2c7a-4d4b-9a55-0e8f3f1c2d3e"),
		restart,
		scale,
		LogCall("shop", "api-1", "app", true, 200, 4096),
		EventsCall("shop", "api-1"),
	}
	want := []string{
		"DELETE /api/v1/namespaces/shop/pods/api-1",
		`DELETE /api/v1/namespaces/shop/pods/api-1 {"preconditions":{"uid":"6b1f0f4e-2c7a-4d4b-9a55-0e8f3f1c2d3e"}}`,
		`PATCH /apis/apps/v1/namespaces/shop/statefulsets/db {"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-12-07T03:04:05Z"}}}}}`,
		`PUT /apis/apps/v1/namespaces/shop/replicasets/api-7d9/scale {"spec":{"replicas":3}}`,
		"GET /api/v1/namespaces/shop/pods/api-1/log?container=app&limitBytes=4096&previous=true&tailLines=200&timestamps=true",
		"GET /api/v1/namespaces/shop/events?fieldSelector=involvedObject.kind=Pod,involvedObject.namespace=shop,involvedObject.name=api-1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestResource(t *testing.T) {
	for _, c := range []struct {
		kind  string
		scale bool
		res   string
		err   string
	}{
		{"Deployment", false, "deployments", ""},
		{"DaemonSet", false, "daemonsets", ""},
		{"ReplicaSet", false, "", `kind "ReplicaSet": rollout restart acts on a Deployment, StatefulSet or DaemonSet`},
		{"StatefulSet", true, "statefulsets", ""},
		{"DaemonSet", true, "", `kind "DaemonSet": scale acts on a Deployment, StatefulSet or ReplicaSet`},
		{"deployment", true, "", `kind "deployment": scale acts on a Deployment, StatefulSet or ReplicaSet`},
	} {
		res, err := Resource(c.kind, c.scale)
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if res != c.res || msg != c.err {
			t.Errorf("%s scale=%v: %q %q, want %q %q", c.kind, c.scale, res, msg, c.res, c.err)
		}
	}
	if _, err := RestartCall("shop", "Job", "x", time.Now()); err == nil {
		t.Error("RestartCall of a Job: no error")
	}
}

func TestPodEventLine(t *testing.T) {
	last := metav1.NewTime(time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC))
	e := podEvent(&corev1.Event{Type: "Warning", Reason: "BackOff", Count: 7, LastTimestamp: last,
		Source: corev1.EventSource{Component: "kubelet", Host: "node-a"}, Message: "Back-off restarting\nfailed container"})
	if got, want := e.String(), "2026-12-07T03:00:00Z Warning BackOff (x7) kubelet@node-a: Back-off restarting failed container"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// An events.k8s.io event: eventTime, its series, the reporting controller.
	e = podEvent(&corev1.Event{Type: "Normal", Reason: "Killing", EventTime: metav1.NewMicroTime(last.Time),
		ReportingController: "kubelet", Series: &corev1.EventSeries{Count: 3, LastObservedTime: metav1.NewMicroTime(last.Add(time.Minute))}})
	if got, want := e.String(), "2026-12-07T03:01:00Z Normal Killing (x3) kubelet: "; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
