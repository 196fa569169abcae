//go:build ignore

// pod_bench measures the pod path on a real control plane
// (scripts/kube-test.sh; SRE_KUBECONFIG names its admin kubeconfig):
//
//	go run bench/pod_bench.go latency BIN N    # status write → crash event, N restarts
//	go run bench/pod_bench.go memory BIN PODS  # sre-kube's RSS watching PODS pods
//
// latency runs `BIN/sre-sample --pod-selector NS:app=lat | BIN/sre-detect`
// and, N times, writes a container restart (OOMKilled, exit 137) into the
// pod's status as a kubelet would, timing from just before the write to
// the crash event read at the end of the pipe. Beside it, in the same run,
// a bare client-go watch of the same pod times the same writes: the API
// server's own floor.
//
// memory makes a Deployment of PODS pods, marks each Running, and reads
// sre-kube's VmHWM once every pod has been sampled five times, beside
// sre-sample's own, which relays its lines and links no Kubernetes client.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: pod_bench latency|memory BIN N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[3])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "pod_bench: N: a number of at least 1")
		os.Exit(2)
	}
	kc := os.Getenv("SRE_KUBECONFIG")
	if kc == "" {
		fmt.Fprintln(os.Stderr, `pod_bench: SRE_KUBECONFIG is not set: eval "$(scripts/kube-test.sh)"`)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "latency":
		err = latency(kc, os.Args[2], n)
	case "memory":
		err = memory(kc, os.Args[2], n)
	default:
		err = fmt.Errorf("%q: want latency or memory", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pod_bench:", err)
		os.Exit(1)
	}
}

func clientset(kc string) (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 200, 400
	return kubernetes.NewForConfig(cfg)
}

// namespace makes a namespace of the run's own; the returned func deletes it.
func namespace(ctx context.Context, cs *kubernetes.Clientset, what string) (string, func(), error) {
	name := fmt.Sprintf("bench-%s-%d", what, time.Now().UnixNano()%1e9)
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	return name, func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	}, err
}

func deployment(ctx context.Context, cs *kubernetes.Clientset, ns, app string, replicas int32) error {
	labels := map[string]string{"app": app}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "sre-busybox:local"}}},
			},
		},
	}
	_, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
	return err
}

// waitPods waits until n pods of app exist and returns their names.
func waitPods(ctx context.Context, cs *kubernetes.Clientset, ns, app string, n int) ([]string, error) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err == nil && len(l.Items) == n {
			var names []string
			for _, p := range l.Items {
				names = append(names, p.Name)
			}
			slices.Sort(names)
			return names, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d pods of %s not there after 5 minutes (%v)", n, app, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// setStatus writes a pod's status as a kubelet would; restarts > 0 adds
// that many OOM-killed restarts of container app, the last just now.
func setStatus(ctx context.Context, cs *kubernetes.Clientset, ns, pod string, restart bool) (time.Time, error) {
	var wrote time.Time
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.NewTime(time.Now())
		st := &p.Status
		st.Phase = corev1.PodRunning
		st.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}
		var cst corev1.ContainerStatus
		if len(st.ContainerStatuses) > 0 {
			cst = st.ContainerStatuses[0]
		}
		cst.Name, cst.Image, cst.Ready = "app", "sre-busybox:local", true
		if restart {
			started := metav1.NewTime(now.Add(-time.Second))
			if cst.State.Running != nil {
				started = cst.State.Running.StartedAt
			}
			cst.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 137, Reason: "OOMKilled", StartedAt: started, FinishedAt: now}}
			cst.RestartCount++
		}
		cst.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
		st.ContainerStatuses = []corev1.ContainerStatus{cst}
		wrote = time.Now()
		_, err = cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	})
	return wrote, err
}

func latency(kc, bin string, n int) error {
	ctx := context.Background()
	cs, err := clientset(kc)
	if err != nil {
		return err
	}
	ns, drop, err := namespace(ctx, cs, "lat")
	if err != nil {
		return err
	}
	defer drop()
	if err := deployment(ctx, cs, ns, "lat", 1); err != nil {
		return err
	}
	pods, err := waitPods(ctx, cs, ns, "lat", 1)
	if err != nil {
		return err
	}
	pod := pods[0]
	if _, err := setStatus(ctx, cs, ns, pod, false); err != nil {
		return err
	}

	// The floor: a bare watch of the pod, told each status write.
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", pod).String()})
	if err != nil {
		return err
	}
	defer w.Stop()
	bare := make(chan time.Time, 64)
	go func() {
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].RestartCount > 0 {
				bare <- time.Now()
			}
		}
	}()

	sh := fmt.Sprintf("%s --pod-selector %s:app=lat --interval 1s --kubeconfig %s | %s",
		filepath.Join(bin, "sre-sample"), ns, kc, filepath.Join(bin, "sre-detect"))
	cmd := exec.Command("bash", "-c", sh)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the pipeline ends with the run
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM); _ = cmd.Wait() }()
	crashes := make(chan time.Time, 64)
	started := make(chan struct{}, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e struct {
				Kind, Type string
			}
			if json.Unmarshal(sc.Bytes(), &e) != nil || e.Kind != "event" {
				continue
			}
			switch e.Type {
			case "started":
				select {
				case started <- struct{}{}:
				default:
				}
			case "crash":
				crashes <- time.Now()
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(60 * time.Second):
		return fmt.Errorf("no started event from the pipe in 60 s")
	}
	var pipe, floor []time.Duration
	for i := range n {
		t0, err := setStatus(ctx, cs, ns, pod, true)
		if err != nil {
			return err
		}
		var tb, tc time.Time
		for tb.IsZero() || tc.IsZero() {
			select {
			case tb = <-bare:
			case tc = <-crashes:
			case <-time.After(30 * time.Second):
				return fmt.Errorf("restart %d: no crash event within 30 s", i+1)
			}
		}
		floor = append(floor, tb.Sub(t0))
		pipe = append(pipe, tc.Sub(t0))
		time.Sleep(300 * time.Millisecond) // apart from the next write
	}
	fmt.Printf("pod restart (status written) → crash event, %d restarts, load %s\n", n, load())
	fmt.Printf("  sre-sample --pod-selector | sre-detect: p50 %s p99 %s max %s\n", pct(pipe, 50), pct(pipe, 99), pct(pipe, 100))
	fmt.Printf("  bare client-go watch (the floor):       p50 %s p99 %s max %s\n", pct(floor, 50), pct(floor, 99), pct(floor, 100))
	return nil
}

func memory(kc, bin string, n int) error {
	ctx := context.Background()
	cs, err := clientset(kc)
	if err != nil {
		return err
	}
	ns, drop, err := namespace(ctx, cs, "mem")
	if err != nil {
		return err
	}
	defer drop()
	if err := deployment(ctx, cs, ns, "mem", int32(n)); err != nil {
		return err
	}
	pods, err := waitPods(ctx, cs, ns, "mem", n)
	if err != nil {
		return err
	}
	for _, p := range pods {
		if _, err := setStatus(ctx, cs, ns, p, true); err != nil {
			return err
		}
	}
	cmd := exec.Command(filepath.Join(bin, "sre-sample"), "--pod-selector", ns+":app=mem", "--interval", "1s", "--kubeconfig", kc)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	seen := map[string]int{}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	deadline := time.Now().Add(2 * time.Minute)
	// Every pod sampled at five ticks: the watch's cache full and the
	// loop at its working size.
	for sc.Scan() && time.Now().Before(deadline) {
		var s struct{ Target string }
		if json.Unmarshal(sc.Bytes(), &s) == nil && s.Target != "" {
			seen[s.Target]++
		}
		done := len(seen) == n
		for _, c := range seen {
			done = done && c >= 5
		}
		if done {
			break
		}
	}
	if len(seen) != n {
		return fmt.Errorf("%d of %d pods sampled in 2 minutes", len(seen), n)
	}
	kube, err := childNamed(cmd.Process.Pid, "sre-kube")
	if err != nil {
		return err
	}
	fmt.Printf("watching %d pods (each sampled 5 times), load %s\n", n, load())
	fmt.Printf("  sre-kube     VmHWM %s VmRSS %s\n", status(kube, "VmHWM"), status(kube, "VmRSS"))
	fmt.Printf("  sre-sample   VmHWM %s VmRSS %s (relays; links no Kubernetes client)\n", status(cmd.Process.Pid, "VmHWM"), status(cmd.Process.Pid, "VmRSS"))
	return nil
}

// childNamed finds ppid's child called name. A child is listed under the
// thread that forked it, which for a Go program is any of its threads.
func childNamed(ppid int, name string) (int, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", ppid))
	if err != nil {
		return 0, err
	}
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(f)
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == name {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no %s child of %d", name, ppid)
}

func status(pid int, key string) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
		}
	}
	return "?"
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p+99)/100 - 1
	i = max(0, min(i, len(s)-1))
	return s[i].Round(100 * time.Microsecond)
}

func load() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
