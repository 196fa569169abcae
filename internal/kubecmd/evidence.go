package kubecmd

import (
	"context"

	"github.com/localsre/sre-agent/internal/cli"
)

func runEvidence(ctx context.Context, std cli.IO, args []string) error {
	return cli.Failf("evidence: not built yet")
}
