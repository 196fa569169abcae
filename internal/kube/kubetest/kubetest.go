// Package kubetest is the tests' way to a real Kubernetes control plane:
// the etcd, kube-apiserver and kube-controller-manager that
// scripts/kube-test.sh starts on loopback, named by SRE_KUBE_DIR and
// SRE_KUBECONFIG. A test that needs one and finds none skips, saying how to
// start one; under CI (CI=true), which starts one, it fails.
//
// The plane has no kubelet and no scheduler: pods stay Pending on no node
// until a test writes their status as a kubelet would (SetStatus and the
// builders Running, Restarted, CrashLoop). That is the one fake here.
// Pods bound to no node are deleted at once, with no grace period, so a
// controller replaces a deleted pod within a second or two; a pod bound to
// a node would stay Terminating, waiting for a kubelet that never comes.
package kubetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/retry"
)

// Image is the image the harness's pods name: the local busybox image
// scripts/dockerd-test.sh imports. Nothing pulls or runs it here (there is
// no kubelet); it is what a pod of the tests would run on a real node.
const Image = "sre-busybox:local"

// Users the plane's token file knows besides admin (system:masters). RBAC
// grants them nothing until a test binds a Role (Grant).
const (
	Agent  = "sre-agent"
	Viewer = "sre-viewer"
)

// Plane is a running control plane as the tests see it.
type Plane struct {
	// Dir is the plane's directory (SRE_KUBE_DIR): logs, tokens, pid files.
	Dir string
	// Kubeconfig is the admin kubeconfig (SRE_KUBECONFIG).
	Kubeconfig string
	// Server is the API server's URL, https://127.0.0.1:PORT.
	Server string
	// Client is an admin client for the API server.
	Client kubernetes.Interface

	tokens string // the token file, which an own API server shares
	own    bool   // an API server of one test's own (APIServer)
}

// Need skips the test, saying why and how to start a plane; under CI it
// fails instead.
func Need(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + `; start one with: eval "$(scripts/kube-test.sh)"`
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Start returns the plane SRE_KUBE_DIR and SRE_KUBECONFIG name once its API
// server answers /readyz; else Need.
func Start(t testing.TB) *Plane {
	t.Helper()
	dir, kc := os.Getenv("SRE_KUBE_DIR"), os.Getenv("SRE_KUBECONFIG")
	if dir == "" || kc == "" {
		Need(t, "SRE_KUBE_DIR and SRE_KUBECONFIG are not set")
	}
	p, err := open(dir, kc, filepath.Join(dir, "tokens.csv"))
	if err != nil {
		Need(t, "%v", err)
	}
	if err := p.ready(10 * time.Second); err != nil {
		Need(t, "the API server %s does not answer: %v", p.Server, err)
	}
	return p
}

func open(dir, kubeconfig, tokens string) (*Plane, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	// The tests write quickly; the client's default 5 QPS would pace them.
	cfg.QPS, cfg.Burst = 200, 400
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	return &Plane{Dir: dir, Kubeconfig: kubeconfig, Server: cfg.Host, Client: c, tokens: tokens}, nil
}

// ready waits up to d for /readyz to say ok.
func (p *Plane) ready(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		body, err := p.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		cancel()
		if err == nil && string(body) == "ok" {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("/readyz says %q", body)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

var seq atomic.Int64

var notDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace of the test's own, its name made from the
// test's (DNS-1123, unique), and waits for its default ServiceAccount,
// without which no pod can be created in it. It is deleted when the test
// ends, without waiting for the namespace controller to finish.
func (p *Plane) Namespace(t testing.TB) string {
	t.Helper()
	base := strings.Trim(notDNS.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	suffix := fmt.Sprintf("-%d-%d", os.Getpid()%100000, seq.Add(1))
	if len(base) > 63-len(suffix)-2 {
		base = strings.TrimRight(base[:63-len(suffix)-2], "-")
	}
	name := "t-" + base + suffix
	c := ctx(t)
	if _, err := p.Client.CoreV1().Namespaces().Create(c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Client.CoreV1().Namespaces().Delete(c, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Logf("delete namespace %s: %v", name, err)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := p.Client.CoreV1().ServiceAccounts(name).Get(c, "default", metav1.GetOptions{})
		if err == nil {
			return name
		}
		if !apierrors.IsNotFound(err) || time.Now().After(deadline) {
			t.Fatalf("namespace %s has no default ServiceAccount (kube-controller-manager; see %s): %v",
				name, filepath.Join(p.Dir, "kube-controller-manager.log"), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func podSpec() corev1.PodSpec {
	return corev1.PodSpec{
		Containers: []corev1.Container{{
			Name:    "app",
			Image:   Image,
			Command: []string{"sleep", "3600"},
		}},
		TerminationGracePeriodSeconds: new(int64(1)),
	}
}

// Deployment creates a Deployment of replicas pods with one container,
// "app", running Image; labels (app=NAME when empty) are its selector and
// its pods' labels. Its ReplicaSet's pods appear within a few seconds
// (WaitPods).
func (p *Plane) Deployment(t testing.TB, ns, name string, replicas int32, labels map[string]string) *appsv1.Deployment {
	t.Helper()
	if len(labels) == 0 {
		labels = map[string]string{"app": name}
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       podSpec(),
			},
		},
	}
	got, err := p.Client.AppsV1().Deployments(ns).Create(ctx(t), d, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create deployment %s/%s: %v", ns, name, err)
	}
	return got
}

// Pod creates a bare pod, owned by no controller, with one container,
// "app", running Image.
func (p *Plane) Pod(t testing.TB, ns, name string, labels map[string]string) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec:       podSpec(),
	}
	got, err := p.Client.CoreV1().Pods(ns).Create(ctx(t), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s/%s: %v", ns, name, err)
	}
	return got
}

// WaitPods waits, up to timeout, until exactly n pods in ns match the label
// selector and are not being deleted, and returns them.
func (p *Plane) WaitPods(t testing.TB, ns, selector string, n int, timeout time.Duration) []corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		list, err := p.Client.CoreV1().Pods(ns).List(c, metav1.ListOptions{LabelSelector: selector})
		cancel()
		var live []corev1.Pod
		if err == nil {
			for _, pod := range list.Items {
				if pod.DeletionTimestamp == nil {
					live = append(live, pod)
				}
			}
			if len(live) == n {
				return live
			}
		}
		if time.Now().After(deadline) {
			names := make([]string, len(live))
			for i, pod := range live {
				names[i] = pod.Name
			}
			t.Fatalf("pods %s in %s: want %d, have %d %v after %v (last error: %v); see %s",
				selector, ns, n, len(live), names, timeout, err, filepath.Join(p.Dir, "kube-controller-manager.log"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SetStatus stands in for the kubelet, which this plane does not have: it
// reads the pod, applies fn to its status and writes it back through the
// status subresource, again on a conflict. It returns the pod as written.
func (p *Plane) SetStatus(t testing.TB, ns, pod string, fn func(*corev1.PodStatus)) *corev1.Pod {
	t.Helper()
	var out *corev1.Pod
	c := ctx(t)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := p.Client.CoreV1().Pods(ns).Get(c, pod, metav1.GetOptions{})
		if err != nil {
			return err
		}
		fn(&cur.Status)
		out, err = p.Client.CoreV1().Pods(ns).UpdateStatus(c, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("write the status of pod %s/%s: %v", ns, pod, err)
	}
	return out
}

func now() metav1.Time { return metav1.NewTime(time.Now().Truncate(time.Second)) }

// statusOf returns st's status of the named container, added when missing.
func statusOf(st *corev1.PodStatus, name string) *corev1.ContainerStatus {
	for i := range st.ContainerStatuses {
		if st.ContainerStatuses[i].Name == name {
			return &st.ContainerStatuses[i]
		}
	}
	st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{Name: name, Image: Image, ImageID: "sha256:" + strings.Repeat("0", 64)})
	return &st.ContainerStatuses[len(st.ContainerStatuses)-1]
}

func setCondition(st *corev1.PodStatus, typ corev1.PodConditionType, s corev1.ConditionStatus) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == typ {
			if st.Conditions[i].Status != s {
				st.Conditions[i].Status = s
				st.Conditions[i].LastTransitionTime = now()
			}
			return
		}
	}
	st.Conditions = append(st.Conditions, corev1.PodCondition{Type: typ, Status: s, LastTransitionTime: now()})
}

// readiness sets the pod's Ready and ContainersReady conditions from its
// containers' ready flags.
func readiness(st *corev1.PodStatus) {
	s := corev1.ConditionTrue
	for _, c := range st.ContainerStatuses {
		if !c.Ready {
			s = corev1.ConditionFalse
		}
	}
	setCondition(st, corev1.ContainersReady, s)
	setCondition(st, corev1.PodReady, s)
}

// Running is a status change (for SetStatus) that marks the pod Running
// and each named container ready, in state running since now (to the
// second, as the API keeps times).
func Running(containers ...string) func(*corev1.PodStatus) {
	return func(st *corev1.PodStatus) {
		t := now()
		st.Phase = corev1.PodRunning
		if st.StartTime == nil {
			st.StartTime = &t
		}
		for _, name := range containers {
			c := statusOf(st, name)
			c.Ready = true
			c.Started = new(true)
			c.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: t}}
		}
		readiness(st)
	}
}

// Restarted records, as a kubelet does, that container ended (reason such
// as "OOMKilled" or "Error", exitCode) at finishedAt and was started again:
// restartCount goes up by one, lastState is terminated with the run that
// ended (its startedAt the running state's, when there was one), and the
// state is running since now, the container ready.
func Restarted(st *corev1.PodStatus, container string, reason string, exitCode int32, finishedAt time.Time) {
	c := statusOf(st, container)
	ended := terminated(c, reason, exitCode, finishedAt)
	c.RestartCount++
	c.LastTerminationState = corev1.ContainerState{Terminated: ended}
	started := now()
	if started.Before(&ended.FinishedAt) {
		started = ended.FinishedAt
	}
	c.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}
	c.Ready = true
	c.Started = new(true)
	st.Phase = corev1.PodRunning
	readiness(st)
}

// CrashLoop records, as a kubelet does, that container ended (reason,
// exitCode, at finishedAt) and waits in back-off before its next start:
// the state is waiting with reason CrashLoopBackOff, lastState is
// terminated with the run that ended, the container not ready.
// restartCount stays: a kubelet counts a restart when it starts the
// container again (Restarted).
func CrashLoop(st *corev1.PodStatus, container string, reason string, exitCode int32, finishedAt time.Time) {
	c := statusOf(st, container)
	ended := terminated(c, reason, exitCode, finishedAt)
	c.LastTerminationState = corev1.ContainerState{Terminated: ended}
	c.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
		Reason:  "CrashLoopBackOff",
		Message: fmt.Sprintf("back-off 10s restarting failed container=%s", container),
	}}
	c.Ready = false
	c.Started = new(false)
	st.Phase = corev1.PodRunning
	readiness(st)
}

// terminated is the run of c that ended at finishedAt.
func terminated(c *corev1.ContainerStatus, reason string, exitCode int32, finishedAt time.Time) *corev1.ContainerStateTerminated {
	fin := metav1.NewTime(finishedAt.Truncate(time.Second))
	started := metav1.NewTime(fin.Add(-time.Second))
	if c.State.Running != nil && !fin.Before(&c.State.Running.StartedAt) {
		started = c.State.Running.StartedAt
	}
	return &corev1.ContainerStateTerminated{
		Reason:     reason,
		ExitCode:   exitCode,
		StartedAt:  started,
		FinishedAt: fin,
		// As a kubelet's container runtime names a container: an ID.
		ContainerID: fmt.Sprintf("containerd://%064x", time.Now().UnixNano()),
	}
}

// script finds scripts/kube-test.sh above the working directory (the test's
// package directory, in the module or a copy of it).
func script(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		s := filepath.Join(dir, "scripts", "kube-test.sh")
		if _, err := os.Stat(s); err == nil {
			return s
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no scripts/kube-test.sh above the working directory")
		}
		dir = up
	}
}

func run(t testing.TB, timeout time.Duration, args ...string) string {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(c, "bash", append([]string{script(t)}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/kube-test.sh %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	t.Logf("scripts/kube-test.sh %s: %s", strings.Join(args, " "), strings.TrimSpace(stderr.String()))
	return string(out)
}

// APIServer starts a kube-apiserver of the test's own on the plane's etcd
// (scripts/kube-test.sh apiserver), with the same users, and returns it as
// a Plane; it is stopped when the test ends. A test that takes an API
// server away (RestartAPIServer) takes its own, not the one other tests,
// in other packages running at the same time, are talking to. The
// controllers stay on the shared API server; they see the same objects.
func (p *Plane) APIServer(t testing.TB) *Plane {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() { run(t, 2*time.Minute, "stop", dir) })
	run(t, 3*time.Minute, "apiserver", dir, p.Dir)
	own, err := open(dir, filepath.Join(dir, "admin.kubeconfig"), p.tokens)
	if err != nil {
		t.Fatal(err)
	}
	own.own = true
	if err := own.ready(30 * time.Second); err != nil {
		t.Fatalf("the test's own API server %s: %v", own.Server, err)
	}
	return own
}

// RestartAPIServer stops the plane's kube-apiserver (SIGTERM, waiting for
// it to exit) and starts it again on the same port with the same flags
// (scripts/kube-test.sh restart-apiserver), returning once /readyz answers.
// Only an API server of the test's own (APIServer) may be restarted: the
// shared one serves every other test at the same time.
func (p *Plane) RestartAPIServer(t testing.TB) {
	t.Helper()
	if !p.own {
		t.Fatal("RestartAPIServer: restart an API server of the test's own (p.APIServer(t)), not the shared one")
	}
	run(t, 3*time.Minute, "restart-apiserver", p.Dir)
	if err := p.ready(30 * time.Second); err != nil {
		t.Fatalf("the API server %s after its restart: %v", p.Server, err)
	}
}

// StopAPIServer stops an API server of the test's own (APIServer), and
// StartAPIServer starts it again on the same port: between the two the
// test may change the cluster through the shared API server, which this
// one's clients do not reach.
func (p *Plane) StopAPIServer(t testing.TB) {
	t.Helper()
	if !p.own {
		t.Fatal("StopAPIServer: stop an API server of the test's own (p.APIServer(t)), not the shared one")
	}
	run(t, 2*time.Minute, "stop-apiserver", p.Dir)
}

// StartAPIServer starts again an API server StopAPIServer stopped,
// returning once /readyz answers.
func (p *Plane) StartAPIServer(t testing.TB) {
	t.Helper()
	if !p.own {
		t.Fatal("StartAPIServer: an API server of the test's own (p.APIServer(t))")
	}
	run(t, 3*time.Minute, "start-apiserver", p.Dir)
	if err := p.ready(30 * time.Second); err != nil {
		t.Fatalf("the API server %s after its start: %v", p.Server, err)
	}
}

// token returns the user's token from the plane's token file.
func (p *Plane) token(user string) (string, error) {
	f, err := os.Open(p.tokens)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Split(s.Text(), ",")
		if len(fields) >= 3 && fields[1] == user {
			return fields[0], nil
		}
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no user %q in %s", user, p.tokens)
}

// KubeconfigFor writes a kubeconfig for user (Agent or Viewer: token
// auth) under t.TempDir() and returns its path. Its context is named
// "sre-kube".
func (p *Plane) KubeconfigFor(t testing.TB, user string) string {
	t.Helper()
	tok, err := p.token(user)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(p.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	auth := clientcmdapi.NewAuthInfo()
	auth.Token = tok
	cfg.AuthInfos = map[string]*clientcmdapi.AuthInfo{user: auth}
	for _, c := range cfg.Contexts {
		c.AuthInfo = user
	}
	path := filepath.Join(t.TempDir(), user+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// Grant makes a Role with rules in ns and binds it to user, then waits
// until the API server's authorizer allows the first rule's first verb
// (RBAC takes effect through a watch, not at once).
func (p *Plane) Grant(t testing.TB, ns, user string, rules []rbacv1.PolicyRule) {
	t.Helper()
	if len(rules) == 0 || len(rules[0].Verbs) == 0 || len(rules[0].Resources) == 0 {
		t.Fatal("Grant: the first rule needs a verb and a resource")
	}
	c := ctx(t)
	name := fmt.Sprintf("sre-test-%s-%d", user, seq.Add(1))
	if _, err := p.Client.RbacV1().Roles(ns).Create(c, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Rules:      rules,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create role %s/%s: %v", ns, name, err)
	}
	if _, err := p.Client.RbacV1().RoleBindings(ns).Create(c, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create rolebinding %s/%s: %v", ns, name, err)
	}
	r := rules[0]
	group := ""
	if len(r.APIGroups) > 0 {
		group = r.APIGroups[0]
	}
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Verb: r.Verbs[0], Group: group, Resource: r.Resources[0],
		},
	}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := p.Client.AuthorizationV1().SubjectAccessReviews().Create(c, review, metav1.CreateOptions{})
		if err == nil && got.Status.Allowed {
			return
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New(got.Status.Reason)
			}
			t.Fatalf("grant %s in %s: %s %s not allowed after 30 s: %v", user, ns, r.Verbs[0], r.Resources[0], err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
