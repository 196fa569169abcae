package kube_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/localsre/sre-agent/internal/kube"
	"github.com/localsre/sre-agent/internal/kube/kubetest"
)

// recorder keeps what a watch tells, for a test to wait on.
type recorder struct {
	mu      sync.Mutex
	changes []kube.Change
	gone    []error
	back    int
	synced  bool
	wake    chan struct{}
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{}, 1)} }

func (r *recorder) hooks() kube.WatchHooks {
	poke := func() {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	return kube.WatchHooks{
		Change: func(c kube.Change) { r.mu.Lock(); r.changes = append(r.changes, c); r.mu.Unlock(); poke() },
		Gone:   func(err error) { r.mu.Lock(); r.gone = append(r.gone, err); r.mu.Unlock(); poke() },
		Back:   func(time.Duration) { r.mu.Lock(); r.back++; r.mu.Unlock(); poke() },
		Synced: func() { r.mu.Lock(); r.synced = true; r.mu.Unlock(); poke() },
	}
}

// wait waits until cond holds of what was told, up to a generous ceiling.
func (r *recorder) wait(t *testing.T, what string, cond func(r *recorder) bool) {
	t.Helper()
	deadline := time.After(90 * time.Second)
	for {
		r.mu.Lock()
		ok := cond(r)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.wake:
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("%s: not told within 90 s (%d changes, gone %v, back %d)", what, len(r.changes), r.gone, r.back)
		}
	}
}

// restarts counts the changes that show pod's container app at count n.
func (r *recorder) restarts(pod string, n int32) int {
	k := 0
	for _, c := range r.changes {
		if c.Pod.Name != pod || c.Deleted {
			continue
		}
		for _, s := range c.Pod.Status.ContainerStatuses {
			if s.Name == "app" && s.RestartCount == n {
				k++
			}
		}
	}
	return k
}

func watch(t *testing.T, kc string, spec kube.WatchSpec) *recorder {
	t.Helper()
	c, err := kube.New(kube.Config{Kubeconfig: kc})
	if err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Watch(ctx, spec, r.hooks()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	return r
}

// TestWatchSurvivesAPIServer: a selector's pods are told as they come,
// with their workload; a restart written while the watched API server is
// down (through the other API server on the same etcd) is told once it is
// back, and a deletion is told as such. There is no kubelet here: the test
// writes the pod status a kubelet would (kubetest.SetStatus).
func TestWatchSurvivesAPIServer(t *testing.T) {
	p := kubetest.Start(t)
	ns := p.Namespace(t)
	own := p.APIServer(t)
	p.Deployment(t, ns, "web", 2, map[string]string{"app": "web"})
	pods := p.WaitPods(t, ns, "app=web", 2, 90*time.Second)
	sel, err := kube.ParseSelector(ns + ":app=web")
	if err != nil {
		t.Fatal(err)
	}
	r := watch(t, own.Kubeconfig, kube.WatchSpec{Selectors: []kube.Selector{sel}})
	r.wait(t, "both pods and the end of the first list", func(r *recorder) bool {
		names := map[string]bool{}
		for _, c := range r.changes {
			names[c.Pod.Name] = true
		}
		return r.synced && names[pods[0].Name] && names[pods[1].Name]
	})

	// The workload, through the pod's ReplicaSet.
	c, err := kube.New(kube.Config{Kubeconfig: own.Kubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	pod, err := c.Pod(context.Background(), ns, pods[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	o := c.NewOwners().Of(context.Background(), pod)
	if o == nil || o.Kind != "Deployment" || o.Name != "web" || !strings.HasPrefix(o.ReplicaSet, "web-") {
		t.Fatalf("owner of %s: %+v; want Deployment web through its ReplicaSet", pod.Name, o)
	}

	name := pods[0].Name
	p.SetStatus(t, ns, name, kubetest.Running("app"))
	p.SetStatus(t, ns, name, func(st *corev1.PodStatus) { kubetest.Restarted(st, "app", "OOMKilled", 137, time.Now()) })
	r.wait(t, "restart 1", func(r *recorder) bool { return r.restarts(name, 1) > 0 })

	// The watched API server goes away; a restart is written meanwhile
	// through the shared one; the watch is told it when its server is back.
	own.StopAPIServer(t)
	r.wait(t, "the API server gone", func(r *recorder) bool { return len(r.gone) > 0 })
	p.SetStatus(t, ns, name, func(st *corev1.PodStatus) { kubetest.Restarted(st, "app", "Error", 1, time.Now()) })
	own.StartAPIServer(t)
	r.wait(t, "restart 2, made while the API server was away", func(r *recorder) bool { return r.restarts(name, 2) > 0 && r.back > 0 })
	r.mu.Lock()
	if len(r.gone) != 1 || r.back != 1 {
		t.Errorf("one outage told %d times gone and %d times back; want once each", len(r.gone), r.back)
	}
	r.mu.Unlock()

	// A deletion is told as one; the Deployment's new pod comes.
	if err := p.Client.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r.wait(t, "the deletion and a new pod", func(r *recorder) bool {
		deleted, fresh := false, false
		for _, c := range r.changes {
			deleted = deleted || c.Deleted && c.Pod.Name == name
			fresh = fresh || c.Pod.Name != name && c.Pod.Name != pods[1].Name
		}
		return deleted && fresh
	})
}

// TestWatchForbidden: without RBAC's leave to list pods, the watch says
// so once, in one line naming the verb and resource.
func TestWatchForbidden(t *testing.T) {
	p := kubetest.Start(t)
	ns := p.Namespace(t)
	sel, err := kube.ParseSelector(ns + ":app=web")
	if err != nil {
		t.Fatal(err)
	}
	r := watch(t, p.KubeconfigFor(t, kubetest.Viewer), kube.WatchSpec{Selectors: []kube.Selector{sel}})
	r.wait(t, "the refusal", func(r *recorder) bool { return len(r.gone) > 0 })
	r.mu.Lock()
	err = r.gone[0]
	r.mu.Unlock()
	why := kube.Why(err)
	if !kube.IsForbidden(err) || !strings.Contains(why, `cannot list resource "pods"`) || !strings.Contains(why, ns) || strings.Contains(why, "\n") {
		t.Fatalf("refusal told as %q (forbidden %v); want RBAC's one line naming list, pods and %s", why, kube.IsForbidden(err), ns)
	}
}
