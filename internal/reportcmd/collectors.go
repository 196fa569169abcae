package reportcmd

import (
	"context"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/forensics"
)

// collectors is the one table of evidence collectors, in report order.
// The returned stop ends the background log followers.
func collectors(ctx context.Context, std cli.IO, o *Options) ([]forensics.Entry, func(), error) {
	entries := []forensics.Entry{}
	return entries, func() {}, nil
}
