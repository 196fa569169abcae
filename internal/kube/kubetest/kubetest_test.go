package kubetest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func TestDeletedDeploymentPodIsRecreated(t *testing.T) {
	p := Start(t)
	ns := p.Namespace(t)
	d := p.Deployment(t, ns, "web", 2, map[string]string{"app": "web"})
	pods := p.WaitPods(t, ns, "app=web", 2, 60*time.Second)
	for _, pod := range pods {
		if len(pod.OwnerReferences) != 1 || pod.OwnerReferences[0].Kind != "ReplicaSet" {
			t.Fatalf("pod %s is owned by %v, want one ReplicaSet", pod.Name, pod.OwnerReferences)
		}
		if got := pod.Spec.Containers[0]; got.Name != "app" || got.Image != Image {
			t.Fatalf("pod %s runs %s %s, want app %s", pod.Name, got.Name, got.Image, Image)
		}
	}
	gone := pods[0].Name
	c := context.Background()
	if err := p.Client.CoreV1().Pods(ns).Delete(c, gone, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		now := p.WaitPods(t, ns, "app=web", 2, 60*time.Second)
		if now[0].Name != gone && now[1].Name != gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s not replaced after 60 s", gone)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d.Name != "web" || *d.Spec.Replicas != 2 {
		t.Fatalf("deployment %s replicas %d", d.Name, *d.Spec.Replicas)
	}
}

func TestRolloutRestartMakesANewReplicaSet(t *testing.T) {
	p := Start(t)
	ns := p.Namespace(t)
	p.Deployment(t, ns, "api", 1, nil)
	p.WaitPods(t, ns, "app=api", 1, 60*time.Second)
	c := context.Background()
	rsCount := func() int {
		l, err := p.Client.AppsV1().ReplicaSets(ns).List(c, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}
	waitFor(t, 60*time.Second, "one ReplicaSet", func() bool { return rsCount() == 1 })
	// What kubectl rollout restart does: a new annotation on the template.
	patch := `{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"` +
		time.Now().Format(time.RFC3339) + `"}}}}}`
	if _, err := p.Client.AppsV1().Deployments(ns).Patch(c, "api", "application/strategic-merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "a second ReplicaSet", func() bool { return rsCount() == 2 })
}

func TestStatusWriteIsReadBack(t *testing.T) {
	p := Start(t)
	ns := p.Namespace(t)
	p.Pod(t, ns, "solo", map[string]string{"app": "solo"})
	p.SetStatus(t, ns, "solo", Running("app"))
	fin := time.Now().Add(-2 * time.Second)
	p.SetStatus(t, ns, "solo", func(st *corev1.PodStatus) { Restarted(st, "app", "OOMKilled", 137, fin) })

	pod, err := p.Client.CoreV1().Pods(ns).Get(context.Background(), "solo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Status.Phase != corev1.PodRunning || len(pod.Status.ContainerStatuses) != 1 {
		t.Fatalf("status %+v", pod.Status)
	}
	cs := pod.Status.ContainerStatuses[0]
	last := cs.LastTerminationState.Terminated
	if cs.Name != "app" || cs.RestartCount != 1 || !cs.Ready || cs.State.Running == nil || last == nil {
		t.Fatalf("container status %+v", cs)
	}
	if last.Reason != "OOMKilled" || last.ExitCode != 137 || !last.FinishedAt.Time.Equal(fin.Truncate(time.Second)) {
		t.Fatalf("lastState.terminated %+v, want OOMKilled 137 at %v", last, fin.Truncate(time.Second))
	}

	p.SetStatus(t, ns, "solo", func(st *corev1.PodStatus) { CrashLoop(st, "app", "Error", 1, time.Now()) })
	pod, err = p.Client.CoreV1().Pods(ns).Get(context.Background(), "solo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cs = pod.Status.ContainerStatuses[0]
	if w := cs.State.Waiting; w == nil || w.Reason != "CrashLoopBackOff" || cs.Ready || cs.RestartCount != 1 ||
		cs.LastTerminationState.Terminated.ExitCode != 1 {
		t.Fatalf("after CrashLoop: %+v", cs)
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionFalse {
			t.Fatalf("Ready is %s in a crash loop", c.Status)
		}
	}
}

func TestRestartAPIServer(t *testing.T) {
	p := Start(t)
	// RestartAPIServer fails a test that asks it of the shared server; a
	// stand-in T shows that without failing this one.
	ft := &fatalT{TB: t}
	func() {
		defer func() { _ = recover() }()
		p.RestartAPIServer(ft)
	}()
	if !strings.Contains(ft.msg, "own") {
		t.Fatalf("RestartAPIServer on the shared server: %q", ft.msg)
	}
	own := p.APIServer(t)
	ns := p.Namespace(t)
	p.Pod(t, ns, "seen", nil)
	c := context.Background()
	w, err := own.Client.CoreV1().Pods(ns).Watch(c, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	start := time.Now()
	own.RestartAPIServer(t)
	t.Logf("restart took %v", time.Since(start))
	// The watch on the server that went away ended.
	select {
	case _, open := <-drain(w.ResultChan()):
		if open {
			t.Fatal("the watch is still open after its API server restarted")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the watch did not end when its API server went away")
	}
	got, err := own.Client.CoreV1().Pods(ns).Get(c, "seen", metav1.GetOptions{})
	if err != nil || got.Name != "seen" {
		t.Fatalf("after the restart: %v %v", got, err)
	}
	// The shared server never went away.
	if err := p.ready(time.Second); err != nil {
		t.Fatal(err)
	}
}

// drain passes on a watch channel's end: it reads events until the channel
// closes, then closes its own.
func drain[T any](ch <-chan T) <-chan T {
	out := make(chan T)
	go func() {
		for range ch {
		}
		close(out)
	}()
	return out
}

func TestViewerDeniedUntilGrant(t *testing.T) {
	p := Start(t)
	ns := p.Namespace(t)
	kc := p.KubeconfigFor(t, Viewer)
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := context.Background()
	_, err = viewer.CoreV1().Pods(ns).List(c, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("list pods as %s before a grant: %v, want 403 Forbidden", Viewer, err)
	}
	if !strings.Contains(err.Error(), `"sre-viewer"`) || !strings.Contains(err.Error(), "list") {
		t.Fatalf("the 403 does not name the user and verb: %v", err)
	}
	p.Grant(t, ns, Viewer, []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "get"}}})
	if _, err := viewer.CoreV1().Pods(ns).List(c, metav1.ListOptions{}); err != nil {
		t.Fatalf("list pods as %s after the grant: %v", Viewer, err)
	}
	// Only what was granted, and only there.
	if _, err := viewer.CoreV1().Pods("default").List(c, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("list pods in default as %s: %v, want 403", Viewer, err)
	}
	if err := viewer.CoreV1().Pods(ns).Delete(c, "x", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("delete a pod as %s: %v, want 403", Viewer, err)
	}
	// The agent's user has nothing either.
	agent := p.KubeconfigFor(t, Agent)
	if b, err := os.ReadFile(agent); err != nil || !strings.Contains(string(b), Agent) {
		t.Fatalf("%s: %v %s", agent, err, b)
	}
}

func TestNamespaceNames(t *testing.T) {
	p := Start(t)
	t.Run(strings.Repeat("Very_Long Name/", 8), func(t *testing.T) {
		a, b := p.Namespace(t), p.Namespace(t)
		if a == b || len(a) > 63 || len(b) > 63 {
			t.Fatalf("namespaces %q and %q", a, b)
		}
	})
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fatalT records a Fatal instead of failing the test.
type fatalT struct {
	testing.TB
	msg string
}

func (f *fatalT) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	panic("fatal")
}

func (f *fatalT) Helper() {}
