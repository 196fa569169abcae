package reportcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/itchyny/gojq"
	"github.com/olekukonko/tablewriter"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/ndjson"
	"github.com/localsre/sre-agent/internal/report"
)

const listUsage = `sre-report list — the incidents in the archive.

Usage:
  sre-report list [--since D|TIME] [--target T] [--type TYPE] [--where JQ] [--all] [--format table|json]

A table on a terminal, NDJSON (the archived events) otherwise.

Examples:
  sre-report list
  sre-report list --since 24h --type crash
  sre-report list --since 2026-11-27T00:00:00Z --target api
  sre-report list --where '.detail.oom_suspected == true' --format json | jq -r .report
`

type listOptions struct {
	dir    string
	since  string
	target string
	types  []string
	where  string
	all    bool
	format string
}

func runList(ctx context.Context, std cli.IO, args []string) error {
	o := &listOptions{}
	fs := cli.NewFlagSet(tool+" list", listUsage, std.Out)
	fs.StringVar(&o.dir, "dir", dirDefault(std), "report directory (env SRE_REPORT_DIR)")
	fs.StringVar(&o.since, "since", "", "only events after this: a duration back from now (24h, 90m) or an RFC 3339 time")
	fs.StringVar(&o.target, "target", "", "only this target")
	fs.StringSliceVar(&o.types, "type", nil, "only these event types (comma-separated)")
	fs.StringVar(&o.where, "where", "", "only events for which this jq `EXPR` is true")
	fs.BoolVar(&o.all, "all", false, "every archived event, not only the reported incidents")
	fs.StringVar(&o.format, "format", "", "table or json (default: table on a terminal, json otherwise)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("list: unexpected argument %q", fs.Arg(0))
	}
	var since time.Time
	if o.since != "" {
		if d, err := time.ParseDuration(o.since); err == nil && d >= 0 {
			since = std.Now().Add(-d)
		} else if t, err := time.Parse(time.RFC3339Nano, o.since); err == nil {
			since = t
		} else {
			return cli.Usagef("--since %q: not a duration (24h) or an RFC 3339 time", o.since)
		}
	}
	var where *gojq.Code
	if o.where != "" {
		q, err := gojq.Parse(o.where)
		if err != nil {
			return cli.Usagef("--where %q: %v", o.where, err)
		}
		where, err = gojq.Compile(q)
		if err != nil {
			return cli.Usagef("--where %q: %v", o.where, err)
		}
	}
	format := o.format
	switch format {
	case "":
		format = "json"
		if cli.IsTerminal(std.Out) {
			format = "table"
		}
	case "table", "json":
	default:
		return cli.Usagef("--format %q: want table or json", o.format)
	}
	types := map[string]bool{}
	for _, t := range o.types {
		types[t] = true
	}

	f, err := os.Open(filepath.Join(o.dir, report.ArchiveName))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if format == "table" {
				fmt.Fprintf(std.Out, "no incidents: %s has no archive yet\n", o.dir)
			}
			return nil
		}
		return cli.Failf("archive: %v", err)
	}
	defer f.Close()
	warner := ndjson.NewWarner(tool, filepath.Join(o.dir, report.ArchiveName), std.Err)
	rd := ndjson.NewReader(f, ndjson.OnSkip(warner.Skip))
	out := ndjson.NewWriter(std.Out)
	var rows [][]string
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return cli.Failf("archive: %v", err)
		}
		if rec.Kind != event.KindEvent {
			continue
		}
		var ev event.Event
		if json.Unmarshal(rec.Raw, &ev) != nil {
			continue
		}
		if !o.all && ev.Report == "" ||
			!since.IsZero() && ev.TS.Before(since) ||
			o.target != "" && ev.Target != o.target ||
			len(types) > 0 && !types[ev.Type] {
			continue
		}
		if where != nil {
			var v any
			_ = json.Unmarshal(rec.Raw, &v)
			ok, err := truthy(ctx, where, v)
			if err != nil {
				return cli.Failf("--where %q on event %s: %v", o.where, ev.ID, err)
			}
			if !ok {
				continue
			}
		}
		if format == "json" {
			if err := out.WriteLine(rec.Raw); err != nil {
				if errors.Is(err, ndjson.ErrClosed) {
					return nil
				}
				return cli.Failf("%v", err)
			}
			continue
		}
		pid := "-"
		if ev.Process != nil {
			pid = strconv.Itoa(ev.Process.PID)
		}
		rows = append(rows, []string{ev.TS.Local().Format("2006-01-02 15:04:05"), ev.Target, ev.Type, ev.Severity, pid,
			shortID(ev.ID), truncate(ev.Msg, 60)})
	}
	warner.Summary(rd.Counts())
	if format == "table" {
		if len(rows) == 0 {
			fmt.Fprintln(std.Out, "no incidents match")
			return nil
		}
		t := tablewriter.NewTable(std.Out)
		t.Header("TIME", "TARGET", "TYPE", "SEVERITY", "PID", "REPORT", "WHAT")
		for _, r := range rows {
			if err := t.Append(r); err != nil {
				return cli.Failf("table: %v", err)
			}
		}
		if err := t.Render(); err != nil {
			return cli.Failf("table: %v", err)
		}
	}
	return nil
}

func truthy(ctx context.Context, code *gojq.Code, v any) (bool, error) {
	iter := code.RunWithContext(ctx, v)
	for {
		x, ok := iter.Next()
		if !ok {
			return false, nil
		}
		if err, isErr := x.(error); isErr {
			return false, err
		}
		if x != nil && x != false {
			return true, nil
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

const showUsage = `sre-report show — print one report.

Usage:
  sre-report show [--dir DIR] ID

ID is the event id, the report id (8 hex digits, as "sre-report list"
shows it), or a report file name. A report's context report (the slower
evidence, written just after it) is shown after it.
`

func runShow(std cli.IO, args []string) error {
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

func runVerify(std cli.IO, args []string) error {
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
