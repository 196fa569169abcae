package kubecmd

import (
	"context"
	"encoding/json"
	"time"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/kube"
)

const podsAbout = `Prints the pods of every namespace (those --field-selector picks, such as
spec.nodeName=NODE) as one v1 PodList in JSON, as kubectl get pods
--all-namespaces -o json does. sre-report reads it to tell which pod a
process of this node ran in (the "Kubernetes pod" section of a report).
`

func runPods(ctx context.Context, std cli.IO, args []string) error {
	fs := subFlagSet("pods [--field-selector SELECTOR] [flags]", podsAbout, std.Out)
	sel := fs.String("field-selector", "", "list only the pods this field `SELECTOR` picks (spec.nodeName=NODE)")
	timeout := fs.Duration("request-timeout", 10*time.Second, "longest wait for the API server's answer")
	cfg := clusterFlags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("pods: unexpected argument %q", fs.Arg(0))
	}
	if *timeout <= 0 {
		return cli.Usagef("--request-timeout %v: want more than 0", *timeout)
	}
	c, err := client(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	l, err := c.ListPods(ctx, *sel)
	if err != nil {
		return cli.Failf("list pods: %s", kube.Why(err))
	}
	l.Kind, l.APIVersion = "PodList", "v1"
	b, err := json.Marshal(l)
	if err != nil {
		return cli.Failf("list pods: %v", err)
	}
	_, err = std.Out.Write(append(b, '\n'))
	return err
}
