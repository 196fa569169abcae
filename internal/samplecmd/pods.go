package samplecmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/kube/kubeprog"
	"github.com/localsre/sre-agent/internal/ndjson"
)

// Pod targets are watched by sre-kube, the one process of the agent that
// links the Kubernetes client: sre-sample runs `sre-kube watch` and passes
// its samples on, line by line, through its own writer. A user who
// watches no pod pays nothing for Kubernetes (bench/README.md, Pods).

// checkPods checks the pod flags before anything runs: the names
// (DNS-1123); sre-kube checks the selector's syntax, before any sample.
func (o *Options) checkPods() error {
	for _, p := range o.Pods {
		ns, name, ok := strings.Cut(p, "/")
		if !ok || ns == "" || name == "" {
			return cli.Usagef("--pod %q: want NAMESPACE/NAME", p)
		}
		if !kubeprog.ValidLabel(ns) || !kubeprog.ValidSubdomain(name) {
			return cli.Usagef("--pod %q: not a Kubernetes NAMESPACE/NAME (lower-case letters, digits, '-', '.' in the name)", p)
		}
	}
	for _, s := range o.PodSelectors {
		ns, sel, ok := strings.Cut(s, ":")
		if !ok || !kubeprog.ValidLabel(ns) || strings.TrimSpace(sel) == "" {
			return cli.Usagef("--pod-selector %q: want NAMESPACE:LABEL-SELECTOR (app=web)", s)
		}
	}
	if len(o.Pods)+len(o.PodSelectors) == 0 && (o.Kubeconfig != "" || o.KubeContext != "") {
		return cli.Usagef("--kubeconfig and --context are for pod targets: give --pod or --pod-selector")
	}
	return nil
}

func (o *Options) hasPods() bool { return len(o.Pods)+len(o.PodSelectors) > 0 }

// startPods starts sre-kube watch for the pod targets; its samples go to
// out. wait returns when it has ended: nil when it ended because ctx did
// or its output closed, else why it stopped.
func startPods(ctx context.Context, std cli.IO, o *Options, host string, out *ndjson.Writer) (wait func() error, err error) {
	prog, err := kubeprog.Find(std.Getenv, "sre-sample")
	if err != nil {
		return nil, cli.Usagef("pod targets: %v", err)
	}
	args := []string{"watch", "--interval", o.Interval.String(), "--host", host}
	for _, p := range o.Pods {
		args = append(args, "--pod", p)
	}
	for _, s := range o.PodSelectors {
		args = append(args, "--pod-selector", s)
	}
	if o.Kubeconfig != "" {
		args = append(args, "--kubeconfig", o.Kubeconfig)
	}
	if o.KubeContext != "" {
		args = append(args, "--context", o.KubeContext)
	}
	if o.Count > 0 {
		args = append(args, "--count", strconv.Itoa(o.Count))
	}
	cmd := exec.Command(prog, args...)
	cmd.Stderr = std.Err // its lines name it: "sre-kube: …"
	cmd.Env = os.Environ()
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, cli.Failf("pod targets: %v", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, cli.Usagef("pod targets: cannot start %s: %v", prog, unwrap(err))
	}
	relayed := make(chan error, 1)
	go func() { relayed <- relay(pipe, out) }()
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-stopped:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
			}
		case <-stopped:
		}
	}()
	return func() error {
		rerr := <-relayed
		if errors.Is(rerr, ndjson.ErrClosed) {
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
		werr := cmd.Wait()
		close(stopped)
		var ee *exec.ExitError
		switch {
		case ctx.Err() != nil, errors.Is(rerr, ndjson.ErrClosed):
			return nil
		case rerr != nil:
			return cli.Failf("pod targets: %v", rerr)
		case errors.As(werr, &ee) && ee.ExitCode() == cli.ExitUsage:
			return &cli.Error{Code: cli.ExitUsage, Err: errors.New("pod targets: sre-kube refused the flags (above)")}
		case werr != nil:
			return cli.Failf("pod targets: sre-kube stopped: %v", werr)
		}
		return nil
	}, nil
}

// relay passes sre-kube's lines on, each whole, until its stdout closes.
func relay(r io.Reader, out *ndjson.Writer) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A sample longer than the buffer (a pod of many containers
			// with long messages): gather it whole.
			whole := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				whole = append(whole, line...)
			}
			line = whole
		}
		if n := len(line); n > 0 && line[n-1] == '\n' {
			if werr := out.WriteLine(line[:n-1]); werr != nil {
				_, _ = io.Copy(io.Discard, br)
				return werr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading sre-kube: %w", err)
		}
	}
}
