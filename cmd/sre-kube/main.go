// Command sre-kube is the agent's Kubernetes side: it watches pods and
// writes their samples (what sre-sample --pod runs), keeps a pod's
// evidence for sre-report, and carries out sre-heal's pod actions.
package main

import (
	"os"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/kubecmd"
)

func main() { os.Exit(cli.Main("sre-kube", kubecmd.Run)) }
