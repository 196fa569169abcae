package sreagent_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/localsre/sre-agent/internal/kube/kubetest"
)

// runKubeBlock runs a README block that watches a Kubernetes workload, on
// the control plane of SRE_KUBECONFIG. That plane has no kubelet, so the
// test is the block's kubelet (the one fake): each pod of the block's
// Deployment (app=sre-demo in default) is marked running, and then its
// container's first run ends with exit code 3 and is started again, as the
// block's busybox does on a real node. The block must print the crash.
func runKubeBlock(t *testing.T, script, dir string, env []string, line int) {
	t.Helper()
	cs, err := kubeConfig()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Errorf("README.md:%d: CI must run this block, but %v", line, err)
		} else {
			t.Logf("README.md:%d: skipped: %v", line, err)
		}
		return
	}
	env = append(env, "KUBECONFIG="+os.Getenv("SRE_KUBECONFIG"))
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kubelet := time.NewTicker(200 * time.Millisecond)
	defer kubelet.Stop()
	ran := map[string]int{} // pod → status writes made: 1 running, 2 restarted
	runningAt := map[string]time.Time{}
	var watchingSince time.Time // when the block's sre-kube was first seen
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("README.md:%d: the block fails as written: %v\n%s\n%s", line, err, script, out.String())
				return
			}
			if !strings.Contains(out.String(), `"reason":"Error","exit":3`) {
				t.Errorf("README.md:%d: the block does not print the crash the README says:\n%s", line, out.String())
			}
			t.Logf("README.md:%d:\n%s", line, out.String())
			return
		case <-ctx.Done():
			t.Fatalf("README.md:%d: the block did not end within 2 minutes\n%s", line, out.String())
		case <-kubelet.C:
		}
		if watchingSince.IsZero() && hasChild(cmd.Process.Pid, "sre-kube") {
			watchingSince = time.Now()
		}
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=sre-demo"})
		if err != nil {
			continue
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil || ran[p.Name] >= 2 || len(p.Spec.Containers) == 0 {
				continue
			}
			c := p.Spec.Containers[0].Name
			fn := kubetest.Running(c)
			if ran[p.Name] == 1 {
				// As on a node, the container ends a while after it
				// started, and after the watch began (a generous while:
				// a restart before the watcher's first sight is history).
				if watchingSince.IsZero() || time.Since(watchingSince) < 3*time.Second || time.Since(runningAt[p.Name]) < time.Second {
					continue
				}
				// The first run lived a second before it ended.
				fn = func(st *corev1.PodStatus) { kubetest.Restarted(st, c, "Error", 3, time.Now()) }
			}
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				cur, err := cs.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				fn(&cur.Status)
				_, err = cs.CoreV1().Pods("default").UpdateStatus(ctx, cur, metav1.UpdateOptions{})
				return err
			})
			if err == nil {
				ran[p.Name]++
				runningAt[p.Name] = time.Now()
			}
		}
	}
}

// hasChild reports whether a process of process group pgid is called comm.
func hasChild(pgid int, comm string) bool {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp …
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || s[open+1:end] != comm {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
}
