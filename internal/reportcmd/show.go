package reportcmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/ndjson"
	"github.com/localsre/sre-agent/internal/report"
)

const showUsage = `sre-report show — print one report.

Usage:
  sre-report show [--dir DIR] ID

ID is the event id, the report id (8 hex digits, as "sre-report list"
shows it), or a report file name. A report's context report (the slower
evidence, written just after it) is shown after it.
`

func runShow(_ context.Context, std cli.IO, args []string) error {
	fs := cli.NewFlagSet(tool+" show", showUsage, std.Out)
	dir := fs.String("dir", dirDefault(std), "report directory (env SRE_REPORT_DIR)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("show: want one ID (see sre-report list)")
	}
	id := fs.Arg(0)
	chain, err := report.ReadChain(*dir)
	if err != nil {
		return cli.Failf("%v", err)
	}
	var found []*report.Entry
	for _, e := range chain.Order {
		if e.Name == id || e.ID == id || e.EventID == id || len(id) >= 4 && strings.HasPrefix(e.ID, id) {
			found = append(found, e)
		}
	}
	switch {
	case len(found) == 0:
		return cli.Failf("show %q: no report with that id in %s", id, *dir)
	case len(found) == 1 || oneIncident(found):
		// A report and its context report: both, in chain order.
	default:
		var names []string
		for _, e := range found {
			names = append(names, e.Name)
		}
		return cli.Failf("show %q: %d reports match: %s", id, len(found), strings.Join(names, ", "))
	}
	for i, e := range found {
		if i > 0 {
			fmt.Fprintln(std.Out)
		}
		if err := showFile(std, filepath.Join(*dir, e.Name)); err != nil {
			if ndjson.IsClosed(err) {
				return nil
			}
			return cli.Failf("show: %v", err)
		}
	}
	return nil
}

// oneIncident tells whether the reports found are one report and the
// context reports that complete it.
func oneIncident(found []*report.Entry) bool {
	var first *report.Entry
	for _, e := range found {
		if e.ContextFor == "" {
			if first != nil {
				return false
			}
			first = e
		}
	}
	if first == nil {
		return false
	}
	for _, e := range found {
		if e != first && e.ContextFor != first.Name {
			return false
		}
	}
	return true
}

func showFile(std cli.IO, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(std.Out, f)
	return err
}
