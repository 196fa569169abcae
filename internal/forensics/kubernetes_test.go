package forensics

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/event"
)

const (
	podUID      = "6b1f0f4e-2c7a-4d4b-9a55-0e8f3f1c2d3e"
	podCtrID    = "4f7a5e8d9c0b1a2f3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f"
	sidecarCtrI = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

// podListJSON is kubectl get pods -A -o json (v1.29) with one pod whose
// app container was OOM-killed and restarted, trimmed of managedFields and
// spec details.
const podListJSON = `{
    "apiVersion": "v1",
    "items": [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "creationTimestamp": "2025-11-27T02:00:00Z",
                "labels": {"app": "shop-api"},
                "name": "shop-api-7d9c8b6f5-x2x9q",
                "namespace": "shop",
                "uid": "6b1f0f4e-2c7a-4d4b-9a55-0e8f3f1c2d3e"
            },
            "spec": {
                "containers": [{"name": "api", "image": "shop/api:1.2"}, {"name": "envoy", "image": "envoy:1.30"}],
                "nodeName": "node-a"
            },
            "status": {
                "phase": "Running",
                "containerStatuses": [
                    {
                        "containerID": "containerd://4f7a5e8d9c0b1a2f3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f",
                        "image": "docker.io/shop/api:1.2",
                        "lastState": {
                            "terminated": {
                                "containerID": "containerd://1111",
                                "exitCode": 137,
                                "finishedAt": "2025-11-27T03:58:59Z",
                                "reason": "OOMKilled",
                                "startedAt": "2025-11-27T03:30:00Z"
                            }
                        },
                        "name": "api",
                        "ready": true,
                        "restartCount": 3,
                        "started": true,
                        "state": {"running": {"startedAt": "2025-11-27T03:59:00Z"}}
                    },
                    {
                        "containerID": "containerd://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                        "lastState": {},
                        "name": "envoy",
                        "restartCount": 0,
                        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}}
                    }
                ]
            }
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "other", "namespace": "default", "uid": "00000000-0000-0000-0000-000000000000"},
            "spec": {"nodeName": "node-a"},
            "status": {"phase": "Failed", "reason": "Evicted"}
        }
    ],
    "kind": "List",
    "metadata": {"resourceVersion": ""}
}`

func TestParsePodListAndFields(t *testing.T) {
	pods, err := parsePodList([]byte(podListJSON))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, uid, ctr string
		want           []Field
		notes          []string
	}{
		{
			name: "by uid and container id", uid: podUID, ctr: podCtrID,
			want: []Field{
				{"Namespace", "shop"}, {"Pod", "shop-api-7d9c8b6f5-x2x9q"}, {"Pod UID", podUID}, {"Node", "node-a"},
				{"Phase", "Running"}, {"Container", "api"}, {"Restart count", "3"},
				{"State now", "running since 2025-11-27T03:59:00Z"},
				{"Last termination", "OOMKilled, exit code 137 (killed by SIGKILL), at 2025-11-27T03:58:59Z"},
				{"Describe", "kubectl -n shop describe pod shop-api-7d9c8b6f5-x2x9q"},
				{"Previous logs", "kubectl -n shop logs shop-api-7d9c8b6f5-x2x9q -c api --previous --tail=200"},
			},
		},
		{
			name: "by container id alone", ctr: sidecarCtrI,
			want: []Field{
				{"Namespace", "shop"}, {"Pod", "shop-api-7d9c8b6f5-x2x9q"}, {"Pod UID", podUID}, {"Node", "node-a"},
				{"Phase", "Running"}, {"Container", "envoy"}, {"Restart count", "0"},
				{"State now", "waiting: CrashLoopBackOff: back-off 5m0s restarting failed container"},
				{"Last termination", "none recorded"},
				{"Describe", "kubectl -n shop describe pod shop-api-7d9c8b6f5-x2x9q"},
				{"Previous logs", "kubectl -n shop logs shop-api-7d9c8b6f5-x2x9q -c envoy --previous --tail=200"},
			},
		},
		{
			name: "by uid, container unknown", uid: podUID,
			want: []Field{
				{"Namespace", "shop"}, {"Pod", "shop-api-7d9c8b6f5-x2x9q"}, {"Pod UID", podUID}, {"Node", "node-a"},
				{"Phase", "Running"}, {"Containers", "api (3 restarts), envoy (0 restarts)"},
				{"Describe", "kubectl -n shop describe pod shop-api-7d9c8b6f5-x2x9q"},
			},
			notes: []string{"which container ran the process is unknown (no container id matched)"},
		},
		{
			name: "evicted pod", uid: "00000000-0000-0000-0000-000000000000",
			want: []Field{
				{"Namespace", "default"}, {"Pod", "other"}, {"Pod UID", "00000000-0000-0000-0000-000000000000"}, {"Node", "node-a"},
				{"Phase", "Failed (Evicted)"}, {"Containers", ""},
				{"Describe", "kubectl -n default describe pod other"},
			},
			notes: []string{"which container ran the process is unknown (no container id matched)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, cs, ok := findPod(pods, tt.uid, tt.ctr)
			if !ok {
				t.Fatal("not found")
			}
			var s Section
			podFields(&s, p, cs)
			if diff := cmp.Diff(tt.want, s.Fields); diff != "" {
				t.Errorf("fields -want +got:\n%s", diff)
			}
			if diff := cmp.Diff(tt.notes, s.Notes); diff != "" {
				t.Errorf("notes -want +got:\n%s", diff)
			}
		})
	}
	if _, _, ok := findPod(pods, "no-such-uid", ""); ok {
		t.Error("found a pod for an unknown uid")
	}
	if _, _, ok := findPod(pods, "", "bbbb"); ok {
		t.Error("found a pod for an unknown container")
	}
}

func TestParsePodListErrors(t *testing.T) {
	for _, in := range []string{"", "{", `{"kind":"Pod"}`, `[]`, `{"kind":"List","items":{}}`} {
		if _, err := parsePodList([]byte(in)); err == nil {
			t.Errorf("parsePodList(%q): no error", in)
		}
	}
	if pods, err := parsePodList([]byte(`{"kind":"List","items":[]}`)); err != nil || len(pods) != 0 {
		t.Errorf("empty list: %v %v", pods, err)
	}
}

func TestKubernetesNotApplicable(t *testing.T) {
	c := NewKubernetesCollector(noSreKube)
	for _, p := range []*event.Process{nil, {PID: 1}, {PID: 1, ContainerID: podCtrID, Runtime: "docker", Cgroup: "/docker/x"}} {
		if _, err := c.Collect(context.Background(), &Incident{Process: p}); !errors.Is(err, ErrNotApplicable) {
			t.Errorf("Collect(%+v) = %v, want ErrNotApplicable", p, err)
		}
	}
}

func kubeIncident() *Incident {
	return &Incident{Process: &event.Process{PID: 4242, Name: "api", PodUID: podUID, ContainerID: podCtrID, Runtime: "containerd",
		Cgroup: "/kubepods/burstable/pod" + podUID + "/" + podCtrID}}
}

func noSreKube() (string, error) {
	return "", errors.New("sre-kube not found: not beside sre-report, not on PATH")
}

// TestKubernetesSreKubeAbsent: without sre-kube, the section says so.
func TestKubernetesSreKubeAbsent(t *testing.T) {
	s, err := NewKubernetesCollector(noSreKube).Collect(context.Background(), kubeIncident())
	if err != nil {
		t.Fatal(err)
	}
	want := Section{
		Title:  "Kubernetes pod",
		Fields: []Field{{"Pod UID", podUID}, {"Container ID", podCtrID}},
		Notes:  []string{"the pod is not named: sre-kube not found: not beside sre-report, not on PATH"},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
}

// TestKubernetesNotConfigured: sre-kube refuses (no kubeconfig); the note
// has its line and why it may not know a cluster.
func TestKubernetesNotConfigured(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "sre-kube")
	script := "#!/bin/sh\necho 'sre-kube: kubeconfig: invalid configuration: no configuration has been provided' >&2\nexit 2\n"
	if err := os.WriteFile(prog, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("KUBECONFIG", "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	s, err := NewKubernetesCollector(func() (string, error) { return prog, nil }).Collect(context.Background(), kubeIncident())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Notes) != 1 || !strings.HasPrefix(s.Notes[0], "sre-kube pods: ") || !strings.Contains(s.Notes[0], "no configuration has been provided") ||
		!strings.HasSuffix(s.Notes[0], "(no kubeconfig: KUBECONFIG unset and "+home+"/.kube/config absent)") {
		t.Errorf("notes = %q, want sre-kube's refusal and the missing kubeconfig", s.Notes)
	}
}

// fakeSreKube writes an sre-kube stand-in for the collector's own logic
// (the real sre-kube pods runs on a real control plane in
// internal/kubecmd's tests). The script records its arguments and answers
// as sre-kube pods does: an empty list for this node's pods (the pod runs
// on a node named otherwise), the fixture for all.
func fakeSreKube(t *testing.T) (prog, argsLog string) {
	t.Helper()
	dir := t.TempDir()
	argsLog = filepath.Join(dir, "args")
	if err := os.WriteFile(filepath.Join(dir, "pods.json"), []byte(podListJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	prog = filepath.Join(dir, "sre-kube")
	script := `#!/bin/sh
echo "$*" >> '` + argsLog + `'
case "$*" in
*--field-selector*) echo '{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}' ;;
*) cat '` + filepath.Join(dir, "pods.json") + `' ;;
esac
`
	if err := os.WriteFile(prog, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return prog, argsLog
}

func TestKubernetesWithFakeSreKube(t *testing.T) {
	prog, argsLog := fakeSreKube(t)
	c := NewKubernetesCollector(func() (string, error) { return prog, nil }).(*kubernetesCollector)
	c.hostname = func() (string, error) { return "my-host", nil }
	s, err := c.Collect(context.Background(), kubeIncident())
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"Namespace": "shop", "Pod": "shop-api-7d9c8b6f5-x2x9q", "Container": "api",
		"Last termination": "OOMKilled, exit code 137 (killed by SIGKILL), at 2025-11-27T03:58:59Z",
	} {
		if got := fieldValue(s, key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	b, err := os.ReadFile(argsLog)
	if err != nil {
		t.Fatal(err)
	}
	wantArgs := "pods --request-timeout=2000ms --field-selector spec.nodeName=my-host\n" +
		"pods --request-timeout=2000ms\n"
	if diff := cmp.Diff(wantArgs, string(b)); diff != "" {
		t.Errorf("sre-kube args -want +got:\n%s", diff)
	}
}
