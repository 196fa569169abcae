// Package kubecmd is sre-kube: the one process of the agent that links the
// Kubernetes client (internal/kube). sre-sample runs `sre-kube watch` for
// its pod targets, sre-report `sre-kube evidence` for a pod incident, and
// sre-heal `sre-kube restart-pod`, `rollout-restart` and `scale`: the
// pipeline's stages pay nothing for Kubernetes until a pod is involved.
package kubecmd

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
	"k8s.io/klog/v2"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/kube"
)

const tool = "sre-kube"

// subcommand is one of sre-kube's jobs; each lives in a file of its name.
type subcommand struct {
	name    string
	run     func(ctx context.Context, std cli.IO, args []string) error
	args    string
	summary string
}

var subcommands = []subcommand{
	{"watch", runWatch, "--pod NS/NAME | --pod-selector NS:SELECTOR ...", "pod samples, NDJSON on stdout (what sre-sample --pod runs)"},
	{"evidence", runEvidence, "--pod NS/NAME --dir DIR ...", "keep a pod's previous logs and events under DIR (sre-report)"},
	{"restart-pod", runRestartPod, "--pod NS/NAME ...", "delete a pod so that its controller recreates it (sre-heal)"},
	{"rollout-restart", runRolloutRestart, "--namespace NS --kind KIND --name NAME ...", "restart a Deployment, StatefulSet or DaemonSet's pods (sre-heal)"},
	{"scale", runScale, "--namespace NS --kind KIND --name NAME ...", "change a workload's replicas within bounds (sre-heal)"},
	{"pods", runPods, "[--field-selector SELECTOR]", "every namespace's pods as a v1 PodList (sre-report: the pod of a process)"},
}

var usage = `Usage:
` + subcommandUsage() + `
sre-kube is the agent's one Kubernetes client. It reads the cluster as
kubectl does: --kubeconfig, else KUBECONFIG, else ~/.kube/config, else the
pod's service account; --context picks a context. The RBAC role it needs:
deploy/kubernetes/rbac.yaml.

Run 'sre-kube SUBCOMMAND --help' for a subcommand's flags.
`

func subcommandUsage() string {
	var b strings.Builder
	for _, s := range subcommands {
		fmt.Fprintf(&b, "  %-66s %s\n", strings.TrimSpace("sre-kube "+s.name+" "+s.args), s.summary)
	}
	return b.String()
}

// quietKlog sets klog's logger once per process: informers of an earlier
// Run may still be logging while a later one starts (in tests).
var quietKlog sync.Once

// Run is sre-kube.
func Run(ctx context.Context, std cli.IO, args []string) error {
	// client-go logs its retries through klog on stderr, a line per
	// attempt; sre-kube says what matters once, itself.
	quietKlog.Do(func() { klog.SetLogger(logr.Discard()) })
	if len(args) > 0 {
		for _, s := range subcommands {
			if s.name == args[0] {
				return s.run(ctx, std, args[1:])
			}
		}
	}
	fs := cli.NewFlagSet(tool, usage, std.Out)
	for _, s := range subcommands {
		cli.Subcommand(fs, s.name, s.summary, func(args []string) error { return s.run(ctx, std, args) })
	}
	var version bool
	fs.BoolVar(&version, "version", false, "print the version and exit")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if version {
		fmt.Fprintf(std.Out, "%s %s\n", tool, cli.Version())
		return nil
	}
	if fs.NArg() > 0 {
		return cli.Usagef("%q: no such subcommand (want one of %s)", fs.Arg(0), names())
	}
	fs.Usage()
	return cli.Usagef("a subcommand is needed (one of %s)", names())
}

func names() string {
	n := make([]string, len(subcommands))
	for i, s := range subcommands {
		n[i] = s.name
	}
	return strings.Join(n, ", ")
}

// clusterFlags adds the flags that say which cluster to ask.
func clusterFlags(fs *pflag.FlagSet) *kube.Config {
	c := &kube.Config{UserAgent: tool + "/" + cli.Version()}
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig `FILE` (default: KUBECONFIG, else ~/.kube/config, else in-cluster)")
	fs.StringVar(&c.Context, "context", "", "kubeconfig `CONTEXT` to use (default: its current context)")
	return c
}

// subFlagSet is a subcommand's flag set; its usage starts with synopsis,
// "sre-kube NAME ARGS".
func subFlagSet(synopsis, about string, out io.Writer) *pflag.FlagSet {
	return cli.NewFlagSet(tool, "Usage: "+tool+" "+synopsis+"\n\n"+about, out)
}

// client builds the client cfg names; a bad kubeconfig is a usage error.
func client(cfg *kube.Config) (*kube.Client, error) {
	c, err := kube.New(*cfg)
	if err != nil {
		return nil, cli.Usagef("%v", err)
	}
	return c, nil
}
