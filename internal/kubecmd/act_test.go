package kubecmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/kube/kubetest"
)

// run runs sre-kube args and returns its result line, stderr and exit
// status.
func run(t *testing.T, args ...string) (result, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	std := cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }, Now: time.Now}
	err := Run(context.Background(), std, args)
	if err != nil {
		errb.WriteString("sre-kube: " + err.Error() + "\n")
	}
	var r result
	if out.Len() > 0 {
		if n := strings.Count(out.String(), "\n"); n != 1 {
			t.Fatalf("sre-kube %v: want one result line, got %d: %s", args, n, out.String())
		}
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("sre-kube %v: result line: %v: %s", args, err, out.String())
		}
	}
	return r, errb.String(), cli.ExitCode(err)
}

func replicas(t *testing.T, p *kubetest.Plane, ns, name string) int32 {
	t.Helper()
	d, err := p.Client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return *d.Spec.Replicas
}

func TestRestartPod(t *testing.T) {
	p := kubetest.Start(t)
	ns := p.Namespace(t)
	p.Deployment(t, ns, "web", 1, nil)
	old := p.WaitPods(t, ns, "app=web", 1, time.Minute)[0]
	kc := "--kubeconfig=" + p.Kubeconfig

	// Dry run: the exact call, and the pod still there.
	r, _, code := run(t, "restart-pod", kc, "--pod", ns+"/"+old.Name, "--dry-run")
	want := "DELETE /api/v1/namespaces/" + ns + "/pods/" + old.Name + ` {"preconditions":{"uid":"` + string(old.UID) + `"}}`
	if code != 0 || r.Result != "planned" || r.Call != want || !r.DryRun {
		t.Fatalf("dry run: exit %d, %+v; want planned %s", code, r, want)
	}
	if got := p.WaitPods(t, ns, "app=web", 1, time.Minute); got[0].UID != old.UID {
		t.Fatalf("dry run replaced the pod")
	}

	// A uid that is not the pod's: refused, nothing deleted.
	r, stderr, code := run(t, "restart-pod", kc, "--pod", ns+"/"+old.Name, "--uid", "00000000-0000-0000-0000-000000000000")
	if code != ExitRefused || r.Result != "refused" || !strings.Contains(stderr, "delete pods "+ns+"/"+old.Name+": refused") {
		t.Fatalf("other uid: exit %d, %+v, stderr %q", code, r, stderr)
	}

	// For real, with evidence kept first.
	dir := t.TempDir()
	r, stderr, code = run(t, "restart-pod", kc, "--pod", ns+"/"+old.Name, "--uid", string(old.UID), "--evidence-dir", dir, "--tail", "50")
	if code != 0 || r.Result != "ok" || r.Call != want {
		t.Fatalf("restart-pod: exit %d, %+v, stderr %q", code, r, stderr)
	}
	if r.Owner == "" || !strings.HasPrefix(r.Owner, "ReplicaSet/web-") {
		t.Errorf("owner %q: want the pod's ReplicaSet", r.Owner)
	}
	// No kubelet here: the API server has no log to give, and the result
	// says so rather than keep an empty file.
	if len(r.Unread) == 0 || !strings.Contains(r.Unread[0].Why, "could not read logs: ") || !strings.Contains(r.Unread[0].Why, "no node") {
		t.Errorf("unread: %+v: want the logs' reason", r.Unread)
	}
	var kept []string
	for _, f := range r.Files {
		if filepath.Dir(f.Path) != dir {
			t.Errorf("evidence %s outside %s", f.Path, dir)
		}
		fi, err := os.Stat(f.Path)
		if err != nil || fi.Mode().Perm() != 0o444 {
			t.Errorf("evidence %s: %v %v", f.Path, fi.Mode(), err)
		}
		kept = append(kept, strings.TrimPrefix(filepath.Base(f.Path), filepath.Base(f.Path)[:17]))
	}
	if diff := cmp.Diff([]string{ns + "_" + old.Name + "_events.log", ns + "_" + old.Name + "_pod.json"}, kept); diff != "" {
		t.Errorf("evidence files (-want +got):\n%s", diff)
	}
	now := p.WaitPods(t, ns, "app=web", 1, time.Minute)
	if now[0].UID == old.UID {
		t.Fatalf("the pod was not replaced")
	}
}

func TestRestartPodOrphan(t *testing.T) {
	p := kubetest.Start(t)
	ns := p.Namespace(t)
	p.Pod(t, ns, "bare", map[string]string{"app": "bare"})
	kc := "--kubeconfig=" + p.Kubeconfig
	r, stderr, code := run(t, "restart-pod", kc, "--pod", ns+"/bare")
	if code != ExitRefused || r.Result != "refused" || !strings.Contains(r.Error, "no controller") {
		t.Fatalf("bare pod: exit %d, %+v, stderr %q", code, r, stderr)
	}
	p.WaitPods(t, ns, "app=bare", 1, 10*time.Second)
	r, stderr, code = run(t, "restart-pod", kc, "--pod", ns+"/bare", "--allow-orphan")
	if code != 0 || r.Result != "ok" {
		t.Fatalf("bare pod, --allow-orphan: exit %d, %+v, stderr %q", code, r, stderr)
	}
	p.WaitPods(t, ns, "app=bare", 0, time.Minute)
}

func TestRolloutRestart(t *testing.T) {
	p := kubetest.Start(t)
	ns := p.Namespace(t)
	p.Deployment(t, ns, "web", 1, nil)
	p.WaitPods(t, ns, "app=web", 1, time.Minute)
	kc := "--kubeconfig=" + p.Kubeconfig
	rsets := func() int {
		l, err := p.Client.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}
	r, _, code := run(t, "rollout-restart", kc, "--namespace", ns, "--kind", "Deployment", "--name", "web", "--dry-run")
	if code != 0 || r.Result != "planned" || !strings.HasPrefix(r.Call, "PATCH /apis/apps/v1/namespaces/"+ns+"/deployments/web {\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/restartedAt\":") {
		t.Fatalf("dry run: exit %d, %+v", code, r)
	}
	if n := rsets(); n != 1 {
		t.Fatalf("after a dry run: %d ReplicaSets", n)
	}
	r, stderr, code := run(t, "rollout-restart", kc, "--namespace", ns, "--kind", "Deployment", "--name", "web")
	if code != 0 || r.Result != "ok" {
		t.Fatalf("rollout-restart: exit %d, %+v, %s", code, r, stderr)
	}
	deadline := time.Now().Add(time.Minute)
	for rsets() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no new ReplicaSet after a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, stderr, code = run(t, "rollout-restart", kc, "--namespace", ns, "--kind", "Deployment", "--name", "nosuch")
	if code != 1 || !strings.Contains(stderr, "patch deployments "+ns+"/nosuch: no such Deployment") {
		t.Errorf("no such deployment: exit %d, %q", code, stderr)
	}
}

func TestScale(t *testing.T) {
	p := kubetest.Start(t)
	ns := p.Namespace(t)
	p.Deployment(t, ns, "web", 2, nil)
	kc := "--kubeconfig=" + p.Kubeconfig
	scale := func(args ...string) (result, string, int) {
		return run(t, append([]string{"scale", kc, "--namespace", ns, "--kind", "Deployment", "--name", "web"}, args...)...)
	}
	// Dry run: the call, and no change.
	r, _, code := scale("--by", "+1", "--min", "1", "--max", "3", "--dry-run")
	if code != 0 || r.Result != "planned" || r.Call != `PUT /apis/apps/v1/namespaces/`+ns+`/deployments/web/scale {"spec":{"replicas":3}}` {
		t.Fatalf("dry run: exit %d, %+v", code, r)
	}
	if n := replicas(t, p, ns, "web"); n != 2 {
		t.Fatalf("dry run scaled to %d", n)
	}
	// --by +5 moves one step; then stops at max.
	for i, want := range []struct {
		res      string
		from, to int32
	}{{"ok", 2, 3}, {"no_change", 3, 3}} {
		r, stderr, code := scale("--by", "+5", "--min", "1", "--max", "3")
		if code != 0 || r.Result != want.res || *r.From != want.from || *r.To != want.to {
			t.Fatalf("scale up %d: exit %d, %+v %s", i, code, r, stderr)
		}
		if n := replicas(t, p, ns, "web"); n != want.to {
			t.Fatalf("scale up %d: %d replicas, want %d", i, n, want.to)
		}
	}
	if r, _, _ := scale("--by", "+1", "--min", "1", "--max", "3"); !strings.Contains(strings.Join(r.Messages, ";"), "no change: at max 3") {
		t.Errorf("at max: %+v", r)
	}
	// --to 0 with --step 2: 3 → 1, then at min 1 (never 0 without
	// --allow-zero).
	for _, want := range []int32{1, 1} {
		r, stderr, code := scale("--by", "-2", "--min", "1", "--max", "3", "--step", "2")
		if code != 0 || *r.To != want || replicas(t, p, ns, "web") != want {
			t.Fatalf("scale down: exit %d, %+v %s", code, r, stderr)
		}
	}
	// Bad bounds: usage errors naming the flag.
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--by", "+1", "--min", "3", "--max", "2"}, "--max 2 is less than --min 3"},
		{[]string{"--by", "+1", "--max", "2"}, "--min and --max are required"},
		{[]string{"--by", "-1", "--min", "0", "--max", "2"}, "--min 0: scaling to zero needs --allow-zero"},
		{[]string{"--by", "x", "--min", "1", "--max", "2"}, `--by "x"`},
		{[]string{"--to", "2", "--by", "+1", "--min", "1", "--max", "2"}, "one of --by"},
		{[]string{"--by", "+1", "--min", "1", "--max", "2", "--step", "0"}, "--step 0"},
	} {
		_, stderr, code := scale(c.args...)
		if code != 2 || !strings.Contains(stderr, c.msg) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, stderr, c.msg)
		}
	}
	_, stderr, code := run(t, "scale", kc, "--namespace", ns, "--kind", "DaemonSet", "--name", "web", "--by", "+1", "--min", "1", "--max", "2")
	if code != 2 || !strings.Contains(stderr, `--kind: kind "DaemonSet": scale acts on a Deployment, StatefulSet or ReplicaSet`) {
		t.Errorf("DaemonSet: exit %d, %q", code, stderr)
	}
}

func TestActionsForbidden(t *testing.T) {
	p := kubetest.Start(t)
	ns := p.Namespace(t)
	p.Deployment(t, ns, "web", 1, nil)
	pod := p.WaitPods(t, ns, "app=web", 1, time.Minute)[0]
	// A pod a node runs, so that its log is the kubelet's to give and
	// RBAC is asked for it.
	onNode := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "on-node", Namespace: ns},
		Spec: corev1.PodSpec{NodeName: "node-a", TerminationGracePeriodSeconds: new(int64(0)), Containers: []corev1.Container{{Name: "app", Image: kubetest.Image}}}}
	if _, err := p.Client.CoreV1().Pods(ns).Create(context.Background(), onNode, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kc := "--kubeconfig=" + p.KubeconfigFor(t, kubetest.Viewer)
	dir := t.TempDir()
	for _, c := range []struct {
		args      []string
		msg, also string
	}{
		{[]string{"restart-pod", "--pod", ns + "/" + pod.Name}, `sre-kube: delete pods ` + ns + `/` + pod.Name + `: forbidden: `, `User "sre-viewer" cannot get resource "pods" in API group "" in the namespace "` + ns + `"`},
		{[]string{"rollout-restart", "--namespace", ns, "--kind", "Deployment", "--name", "web"}, `sre-kube: patch deployments ` + ns + `/web: forbidden: `, `User "sre-viewer" cannot patch resource "deployments" in API group "apps" in the namespace "` + ns + `"`},
		{[]string{"scale", "--namespace", ns, "--kind", "Deployment", "--name", "web", "--by", "+1", "--min", "1", "--max", "2"}, `sre-kube: get deployments/scale ` + ns + `/web: forbidden: `, `User "sre-viewer" cannot get resource "deployments/scale" in API group "apps" in the namespace "` + ns + `"`},
		{[]string{"evidence", "--pod", ns + "/" + pod.Name, "--dir", dir}, `sre-kube: evidence pods ` + ns + `/` + pod.Name + `: nothing could be kept: pod ` + ns + `/` + pod.Name + `: could not read the pod: forbidden: `, `User "sre-viewer" cannot get resource "pods"`},
	} {
		r, stderr, code := run(t, append(c.args, kc)...)
		if code != 1 || r.Result != "failed" || !strings.HasPrefix(stderr, c.msg) || !strings.Contains(stderr, c.also) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, %+v\nstderr %q\nwant  %q", c.args[0], code, r, stderr, c.msg)
		}
	}
	// Allowed to read the pod but not its log: the log's refusal is said.
	p.Grant(t, ns, kubetest.Viewer, []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}})
	r, _, code := run(t, "evidence", "--pod", ns+"/on-node", "--dir", dir, kc)
	if code != 0 || len(r.Unread) == 0 {
		t.Fatalf("evidence with get pods: exit %d, %+v", code, r)
	}
	if want := `User "sre-viewer" cannot get resource "pods/log" in API group "" in the namespace "` + ns + `"`; !strings.HasPrefix(r.Unread[0].Why, "could not read logs: forbidden: ") || !strings.HasSuffix(r.Unread[0].Why, want) {
		t.Errorf("unread logs: %q\nwant %q", r.Unread[0].Why, want)
	}
}

// TestShippedRBAC binds deploy/kubernetes/rbac.yaml's roles to a user in a
// namespace, as the file says to, and runs every subcommand as that user:
// the roles grant what each needs, and the namespace beside is refused.
func TestShippedRBAC(t *testing.T) {
	p := kubetest.Start(t)
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		kubetest.Need(t, "no kubectl on PATH to apply deploy/kubernetes/rbac.yaml")
	}
	if out, err := exec.Command(kubectl, "--kubeconfig", p.Kubeconfig, "apply", "-f", "../../deploy/kubernetes/rbac.yaml").CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v: %s", err, out)
	}
	ns, other := p.Namespace(t), p.Namespace(t)
	for _, role := range []string{"sre-agent-watch", "sre-agent-restart-pod", "sre-agent-rollout-restart", "sre-agent-scale"} {
		if out, err := exec.Command(kubectl, "--kubeconfig", p.Kubeconfig, "-n", ns, "create", "rolebinding", role,
			"--clusterrole="+role, "--user="+kubetest.Agent).CombinedOutput(); err != nil {
			t.Fatalf("kubectl create rolebinding: %v: %s", err, out)
		}
	}
	for _, n := range []string{ns, other} {
		p.Deployment(t, n, "web", 1, nil)
	}
	pod := p.WaitPods(t, ns, "app=web", 1, time.Minute)[0]
	otherPod := p.WaitPods(t, other, "app=web", 1, time.Minute)[0]
	kc := "--kubeconfig=" + p.KubeconfigFor(t, kubetest.Agent)
	dir := t.TempDir()
	// RBAC takes effect through a watch: the first may be refused.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, _, code := run(t, "scale", kc, "--namespace", ns, "--kind", "Deployment", "--name", "web", "--by", "+1", "--min", "1", "--max", "2", "--dry-run")
		if code == 0 && r.Result == "planned" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scale --dry-run as %s: exit %d, %+v", kubetest.Agent, code, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, args := range [][]string{
		{"evidence", "--pod", ns + "/" + pod.Name, "--dir", dir},
		{"scale", "--namespace", ns, "--kind", "Deployment", "--name", "web", "--by", "+1", "--min", "1", "--max", "2"},
		{"rollout-restart", "--namespace", ns, "--kind", "Deployment", "--name", "web"},
		{"restart-pod", "--pod", ns + "/" + pod.Name, "--evidence-dir", dir},
	} {
		r, stderr, code := run(t, append(args, kc)...)
		if code != 0 || r.Result != "ok" || (args[0] == "evidence" || args[0] == "restart-pod") && len(r.Files) != 2 {
			t.Errorf("%s as %s: exit %d, %+v, %s", args[0], kubetest.Agent, code, r, stderr)
		}
	}
	_, stderr, code := run(t, "restart-pod", "--pod", other+"/"+otherPod.Name, kc)
	if code != 1 || !strings.Contains(stderr, `User "sre-agent" cannot get resource "pods" in API group "" in the namespace "`+other+`"`) {
		t.Errorf("restart-pod in a namespace not bound: exit %d, %q", code, stderr)
	}
}

// TestRestartPodEvidenceRequired: a log the API server refuses (RBAC) is
// evidence not kept, and the pod is not deleted; --best-effort deletes it
// and says what was not kept.
func TestRestartPodEvidenceRequired(t *testing.T) {
	p := kubetest.Start(t)
	ns := p.Namespace(t)
	for _, name := range []string{"on-node", "on-node-2"} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
			Spec: corev1.PodSpec{NodeName: "node-a", TerminationGracePeriodSeconds: new(int64(0)), Containers: []corev1.Container{{Name: "app", Image: kubetest.Image}}}}
		if _, err := p.Client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	p.Grant(t, ns, kubetest.Viewer, []rbacv1.PolicyRule{
		{Verbs: []string{"get", "delete"}, APIGroups: []string{""}, Resources: []string{"pods"}},
		{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"events"}},
	})
	kc := "--kubeconfig=" + p.KubeconfigFor(t, kubetest.Viewer)
	dir := t.TempDir()
	r, stderr, code := run(t, "restart-pod", "--pod", ns+"/on-node", "--allow-orphan", "--evidence-dir", dir, kc)
	if code != 1 || r.Result != "failed" || len(r.Files) != 2 ||
		!strings.Contains(r.Error, `evidence not kept, so the pod was not deleted (--best-effort deletes it all the same): logs of container app: could not read logs: forbidden: `) ||
		!strings.Contains(r.Error, `cannot get resource "pods/log"`) {
		t.Fatalf("exit %d, %+v, %s", code, r, stderr)
	}
	p.WaitPods(t, ns, "app=on-node", 1, 10*time.Second)
	r, stderr, code = run(t, "restart-pod", "--pod", ns+"/on-node-2", "--allow-orphan", "--evidence-dir", dir, "--best-effort", kc)
	if code != 0 || r.Result != "ok" || len(r.Unread) != 1 {
		t.Fatalf("--best-effort: exit %d, %+v, %s", code, r, stderr)
	}
	p.WaitPods(t, ns, "app=on-node-2", 0, time.Minute)
}
