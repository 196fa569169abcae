package reportcmd

import (
	"context"
	"fmt"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/report"
)

const verifyUsage = `sre-report verify — prove that no report was altered, removed or inserted.

Each report records the SHA-256 of the one before it, and the archive records
each report's SHA-256 as it was written. verify checks both and names every
file that differs: "altered", "removed", "inserted", or "unrecorded" (the
newest report, which the archive does not record: written while the archive
could not be, or inserted). A report written while the archive could not be
written, that a later recorded report links to, is listed as "unrecorded"
but proven. Exit 0 when all is intact, 1 otherwise.

Usage:
  sre-report verify [--dir DIR]
`

func runVerify(_ context.Context, std cli.IO, args []string) error {
	fs := cli.NewFlagSet(tool+" verify", verifyUsage, std.Out)
	dir := fs.String("dir", dirDefault(std), "report directory (env SRE_REPORT_DIR)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("verify: unexpected argument %q", fs.Arg(0))
	}
	v, err := report.Verify(*dir)
	if err != nil {
		return cli.Failf("verify: %v", err)
	}
	for _, p := range v.Problems {
		fmt.Fprintf(std.Out, "%s\n", p)
	}
	for _, p := range v.Vouched {
		fmt.Fprintf(std.Out, "%s\n", p)
	}
	if len(v.Problems) > 0 {
		noun := "problems"
		if len(v.Problems) == 1 {
			noun = "problem"
		}
		return cli.Failf("verify: %d %s in %d reports of %s", len(v.Problems), noun, v.Reports, *dir)
	}
	if len(v.Vouched) > 0 {
		fmt.Fprintf(std.Out, "ok: %d reports, chain intact, all match the archive or a later report it records (%d unrecorded above)\n", v.Reports, len(v.Vouched))
		return nil
	}
	fmt.Fprintf(std.Out, "ok: %d reports, chain intact, all match the archive\n", v.Reports)
	return nil
}
