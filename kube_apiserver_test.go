package sreagent_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/detectcmd"
	"github.com/localsre/sre-agent/internal/kube/kubetest"
	"github.com/localsre/sre-agent/internal/kubecmd"
)

// TestPodRestartsThroughAPIServerRestart: sre-kube watch | sre-detect, the
// watch on an API server of the test's own. A restart written while that
// server is down (through the shared one, on the same etcd) is one crash
// when it is back; the restart before it is not told again; none is lost
// and none repeated across the outage, and the outage is said on stderr
// once, and its end once. The kubelet's status writes are the test's
// (there is no kubelet here).
func TestPodRestartsThroughAPIServerRestart(t *testing.T) {
	p := kubetest.Start(t)
	ns := p.Namespace(t)
	own := p.APIServer(t)
	p.Deployment(t, ns, "web", 1, map[string]string{"app": "web"})
	pod := p.WaitPods(t, ns, "app=web", 1, 90*time.Second)[0].Name
	p.SetStatus(t, ns, pod, kubetest.Running("app"))

	ctx, cancel := context.WithCancel(context.Background())
	samples, sampleW := io.Pipe()
	events, eventW := io.Pipe()
	var kubeErr, detectErr syncBuffer
	var wg sync.WaitGroup
	wg.Go(func() {
		std := cli.IO{In: strings.NewReader(""), Out: sampleW, Err: &kubeErr, Getenv: func(string) string { return "" }, Now: time.Now}
		err := kubecmd.Run(ctx, std, []string{"watch", "--pod-selector", ns + ":app=web", "--interval", "100ms", "--kubeconfig", own.Kubeconfig})
		if err != nil {
			t.Errorf("sre-kube watch: %v", err)
		}
		sampleW.Close()
	})
	wg.Go(func() {
		std := cli.IO{In: samples, Out: eventW, Err: &detectErr, Getenv: func(string) string { return "" }, Now: time.Now}
		if err := detectcmd.Run(context.Background(), std, nil); err != nil {
			t.Errorf("sre-detect: %v", err)
		}
		eventW.Close()
	})
	t.Cleanup(func() { cancel(); wg.Wait() })

	type ev struct {
		Type   string
		Detail map[string]any
	}
	got := make(chan ev, 100)
	go func() {
		sc := bufio.NewScanner(events)
		for sc.Scan() {
			var e ev
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				got <- e
			}
		}
		close(got)
	}()
	waitFor := func(typ string, count float64) {
		t.Helper()
		deadline := time.After(90 * time.Second)
		for {
			select {
			case e := <-got:
				if e.Type == "crash" && e.Detail["restart_count"] != count {
					t.Fatalf("crash of restart %v while waiting for %s of restart %v: %v", e.Detail["restart_count"], typ, count, e.Detail)
				}
				if e.Type == typ && (typ == "started" || e.Detail["restart_count"] == count) {
					return
				}
			case <-deadline:
				t.Fatalf("no %s (restart %v) within 90 s; sre-kube said %q", typ, count, kubeErr.String())
			}
		}
	}
	waitFor("started", 0)
	p.SetStatus(t, ns, pod, func(st *corev1.PodStatus) { kubetest.Restarted(st, "app", "OOMKilled", 137, time.Now()) })
	waitFor("crash", 1)

	own.StopAPIServer(t)
	p.SetStatus(t, ns, pod, func(st *corev1.PodStatus) { kubetest.Restarted(st, "app", "Error", 2, time.Now()) })
	own.StartAPIServer(t)
	waitFor("crash", 2)

	// Let the watch run on: ticks and any relist retell restart 2, which
	// must stay one crash; then restart 3 is the next crash, not 1 or 2.
	time.Sleep(time.Second) // a floor for more ticks to pass, not a wait for an event
	p.SetStatus(t, ns, pod, func(st *corev1.PodStatus) { kubetest.Restarted(st, "app", "Error", 3, time.Now()) })
	waitFor("crash", 3)
	if s := detectErr.String(); s != "" {
		t.Errorf("sre-detect said %q; want nothing (no line skipped)", s)
	}

	say := kubeErr.String()
	// The watch tells an outage it noticed (a request refused) once, and
	// its end once; an outage shorter than the informer's backoff between
	// two watches goes unnoticed, which is no loss: it resumes from the
	// version it had.
	gone, back := strings.Count(say, " gone: "), strings.Count(say, "answers again")
	if gone > 1 || gone != back || strings.Count(say, "\n") != gone+back {
		t.Errorf("sre-kube's stderr; want an outage told at most once, and its end as often:\n%s", say)
	}
}

// syncBuffer is a strings.Builder safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
