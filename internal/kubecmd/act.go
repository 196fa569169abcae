package kubecmd

import (
	"context"

	"github.com/localsre/sre-agent/internal/cli"
)

func runRestartPod(ctx context.Context, std cli.IO, args []string) error {
	return cli.Failf("restart-pod: not built yet")
}

func runRolloutRestart(ctx context.Context, std cli.IO, args []string) error {
	return cli.Failf("rollout-restart: not built yet")
}

func runScale(ctx context.Context, std cli.IO, args []string) error {
	return cli.Failf("scale: not built yet")
}
