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

	// The rotated archives (events.ndjson.1.gz …) first, oldest first,
	// then events.ndjson.
	files, err := report.ArchiveFiles(o.dir)
	if err != nil {
		return cli.Failf("archive: %v", err)
	}
	if len(files) == 1 {
		if _, err := os.Stat(files[0]); errors.Is(err, os.ErrNotExist) {
			if format == "table" {
				fmt.Fprintf(std.Out, "no incidents: %s has no archive yet\n", o.dir)
			}
			return nil
		}
	}
	out := ndjson.NewWriter(std.Out)
	var rows []listRow
	pruned := map[string]bool{} // reports the retention policy removed
	for _, path := range files {
		f, err := report.OpenArchive(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return cli.Failf("archive %s: %v", path, err)
		}
		more, err := o.listFile(ctx, std, f, path, where, since, types, format, out, &rows, pruned)
		f.Close()
		if err != nil || !more {
			return err
		}
	}
	if format == "table" {
		if len(rows) == 0 {
			fmt.Fprintln(std.Out, "no incidents match")
			return nil
		}
		t := tablewriter.NewTable(std.Out)
		t.Header("TIME", "TARGET", "TYPE", "SEVERITY", "PID", "REPORT", "WHAT")
		for _, r := range rows {
			if pruned[r.report] {
				r.cells[5] += " (pruned)"
			}
			if err := t.Append(r.cells); err != nil {
				return cli.Failf("table: %v", err)
			}
		}
		if err := t.Render(); err != nil {
			return cli.Failf("table: %v", err)
		}
	}
	return nil
}

// listRow is one row of the table, with its report's file name.
type listRow struct {
	cells  []string
	report string
}

// listFile lists the matching events of one archive file: written at
// once as NDJSON, or added to rows. It notes the reports recorded as
// pruned. more is false when stdout was closed.
func (o *listOptions) listFile(ctx context.Context, std cli.IO, f io.Reader, path string, where *gojq.Code, since time.Time,
	types map[string]bool, format string, out *ndjson.Writer, rows *[]listRow, pruned map[string]bool) (more bool, err error) {
	warner := ndjson.NewWarner(tool, path, std.Err)
	rd := ndjson.NewReader(f, ndjson.OnSkip(warner.Skip))
	defer func() { warner.Summary(rd.Counts()) }()
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, cli.Failf("archive %s: %v", path, err)
		}
		if rec.Kind == event.KindNotice {
			var n struct {
				Code   string `json:"code"`
				Detail struct {
					Name string `json:"name"`
				} `json:"detail"`
			}
			if json.Unmarshal(rec.Raw, &n) == nil && n.Code == report.NoticeReportPruned {
				pruned[n.Detail.Name] = true
			}
			continue
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
				return false, cli.Failf("--where %q on event %s: %v", o.where, ev.ID, err)
			}
			if !ok {
				continue
			}
		}
		if format == "json" {
			if err := out.WriteLine(rec.Raw); err != nil {
				if errors.Is(err, ndjson.ErrClosed) {
					return false, nil
				}
				return false, cli.Failf("%v", err)
			}
			continue
		}
		pid := "-"
		if ev.Process != nil {
			pid = strconv.Itoa(ev.Process.PID)
		}
		*rows = append(*rows, listRow{[]string{ev.TS.Local().Format("2006-01-02 15:04:05"), ev.Target, ev.Type, ev.Severity, pid,
			shortID(ev.ID), truncate(ev.Msg, 60)}, filepath.Base(ev.Report)})
	}
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
