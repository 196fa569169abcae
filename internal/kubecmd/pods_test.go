package kubecmd

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/kube/kubetest"
)

// TestPods: sre-kube pods prints the pods a field selector picks as one
// v1 PodList, uid and container statuses included (what sre-report's
// Kubernetes pod section reads), and RBAC's refusal in one line.
func TestPods(t *testing.T) {
	p := kubetest.Start(t)
	ns := p.Namespace(t)
	pod := p.Pod(t, ns, "api", nil)
	p.SetStatus(t, ns, "api", kubetest.Running("app"))
	p.SetStatus(t, ns, "api", func(st *corev1.PodStatus) { kubetest.Restarted(st, "app", "OOMKilled", 137, time.Now()) })

	var out, errb bytes.Buffer
	std := cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }, Now: time.Now}
	if err := Run(context.Background(), std, []string{"pods", "--kubeconfig", p.Kubeconfig, "--field-selector", "metadata.namespace=" + ns}); err != nil {
		t.Fatalf("sre-kube pods: %v: %s", err, errb.String())
	}
	var l corev1.PodList
	if err := json.Unmarshal(out.Bytes(), &l); err != nil || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("not one PodList line: %v: %.200s", err, out.String())
	}
	if l.Kind != "PodList" || l.APIVersion != "v1" || len(l.Items) != 1 || l.Items[0].UID != pod.UID {
		t.Fatalf("list: kind %q %q, %d items; want the one pod %s", l.Kind, l.APIVersion, len(l.Items), pod.UID)
	}
	st := l.Items[0].Status.ContainerStatuses
	if len(st) != 1 || st[0].RestartCount != 1 || st[0].LastTerminationState.Terminated == nil || st[0].LastTerminationState.Terminated.Reason != "OOMKilled" {
		t.Errorf("container statuses %+v; want the OOM kill", st)
	}

	_, stderr, code := run(t, "pods", "--kubeconfig", p.KubeconfigFor(t, kubetest.Viewer))
	if code != cli.ExitFailure || !strings.Contains(stderr, `cannot list resource "pods"`) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("as sre-viewer: exit %d, %q; want 1 and RBAC's one line", code, stderr)
	}
	if _, stderr, code := run(t, "pods", "--request-timeout", "0s"); code != cli.ExitUsage || !strings.Contains(stderr, "--request-timeout") {
		t.Errorf("--request-timeout 0s: exit %d, %q", code, stderr)
	}
}
