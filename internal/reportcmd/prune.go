package reportcmd

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/detect"
	"github.com/localsre/sre-agent/internal/report"
)

const pruneUsage = `sre-report prune — remove old incidents and rotate the archive, by an explicit policy.

Usage:
  sre-report prune [--dir DIR] [--keep-days N] [--keep-reports N] [--max-size SIZE]
                   [--archive-max-size SIZE] [--archive-keep K] [--dry-run]

An incident is a report, its context report, and the evidence files a heal
action kept for it (named in the archive). The oldest incidents go when any
policy says so: older than --keep-days, beyond the newest --keep-reports,
or until the rest fit in --max-size. The newest incident always stays, so
the next report still links to one on disk. Nothing goes unsaid: each
incident is first recorded in the archive by a report_pruned notice (its
report's name and SHA-256, event id, target, type, time and What: line), so
the archive keeps what was lost and "sre-report verify" still passes.

With --archive-max-size, an events.ndjson larger than SIZE becomes
events.ndjson.1.gz (older ones shift to .2.gz …; beyond --archive-keep the
oldest are removed and named, unless they record reports still in DIR), and
a new events.ndjson starts with an archive_rotated notice. Running
sre-report processes write into the new file.

It holds DIR/.lock meanwhile: writers wait, and no one is mid-chain. One
line per file removed on stderr, then a summary. Exit 0, also when there is
nothing to do; 2 on a bad flag.

Examples:
  sre-report prune --keep-days 30
  sre-report prune --keep-reports 500 --max-size 200MiB --dry-run
  sre-report prune --keep-days 90 --archive-max-size 100MiB --archive-keep 5
`

func runPrune(_ context.Context, std cli.IO, args []string) error {
	fs := cli.NewFlagSet(tool+" prune", pruneUsage, std.Out)
	dir := fs.String("dir", dirDefault(std), "report directory (env SRE_REPORT_DIR)")
	keepDays := fs.Int("keep-days", 0, "remove incidents older than `N` days (by the event's time)")
	keepReports := fs.Int("keep-reports", 0, "keep only the newest `N` incidents")
	maxSize := fs.String("max-size", "", "remove the oldest incidents until the rest take at most `SIZE` (512MiB, 1GB)")
	archMax := fs.String("archive-max-size", "", "rotate events.ndjson when it is larger than `SIZE`")
	archKeep := fs.Int("archive-keep", report.DefaultArchiveKeep, "rotated archives kept (events.ndjson.1.gz …)")
	dry := fs.Bool("dry-run", false, "say what would go, change nothing")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("prune: unexpected argument %q", fs.Arg(0))
	}
	p := report.Policy{DryRun: *dry, Now: std.Now(), Src: tool}
	p.Host, _ = os.Hostname()
	if fs.Changed("keep-days") {
		if *keepDays < 1 || *keepDays > 100000 {
			return cli.Usagef("--keep-days %d: want a whole number of days, 1 to 100000", *keepDays)
		}
		p.MaxAge = time.Duration(*keepDays) * 24 * time.Hour
	}
	if fs.Changed("keep-reports") {
		if *keepReports < 1 {
			return cli.Usagef("--keep-reports %d: want 1 or more (the newest incident always stays)", *keepReports)
		}
		p.KeepReports = *keepReports
	}
	size := func(name, v string) (int64, error) {
		if !fs.Changed(name) {
			return 0, nil
		}
		n, err := detect.ParseSize(v)
		if err != nil {
			return 0, cli.Usagef("--%s: %v", name, err)
		}
		if n < 1 {
			return 0, cli.Usagef("--%s %q: want more than 0 bytes", name, v)
		}
		return int64(n), nil
	}
	var err error
	if p.MaxSize, err = size("max-size", *maxSize); err != nil {
		return err
	}
	if p.ArchiveMaxSize, err = size("archive-max-size", *archMax); err != nil {
		return err
	}
	if *archKeep < 1 || *archKeep > 1000 {
		return cli.Usagef("--archive-keep %d: want 1 to 1000", *archKeep)
	}
	if fs.Changed("archive-keep") && p.ArchiveMaxSize == 0 {
		return cli.Usagef("--archive-keep: only with --archive-max-size")
	}
	p.ArchiveKeep = *archKeep
	if p.MaxAge == 0 && p.KeepReports == 0 && p.MaxSize == 0 && p.ArchiveMaxSize == 0 {
		return cli.Usagef("prune: no policy: give --keep-days, --keep-reports, --max-size or --archive-max-size")
	}
	if fi, err := os.Stat(*dir); err != nil || !fi.IsDir() {
		return cli.Usagef("--dir %s: not a report directory", *dir)
	}

	d, err := report.Open(*dir)
	if err != nil {
		return cli.Failf("prune: %v", err)
	}
	defer d.Close()
	res, err := d.Prune(p)
	if res != nil {
		tellPrune(std, res, *dry)
	}
	if err != nil {
		return cli.Failf("prune: %v", err)
	}
	return nil
}

// tellPrune writes one line per file removed (or, dry, that would be) and a
// summary, journalctl --vacuum style.
func tellPrune(std cli.IO, res *report.PruneResult, dry bool) {
	verb, did := "removed", "pruned"
	if dry {
		verb, did = "would remove", "would prune"
	}
	for _, in := range res.Pruned {
		for _, f := range in.Files() {
			fmt.Fprintf(std.Err, "%s: %s %s (%s)\n", tool, verb, f, in.Why)
		}
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(std.Err, "%s: %s\n", tool, w)
	}
	rot := res.Rotation
	if rot != nil {
		for _, f := range rot.Removed {
			fmt.Fprintf(std.Err, "%s: %s %s (beyond the rotated archives kept)\n", tool, verb, f)
		}
	}
	var parts []string
	if len(res.Pruned) > 0 {
		parts = append(parts, fmt.Sprintf("%s %d %s (%s)", did, len(res.Pruned), plural(len(res.Pruned), "report", "reports"),
			report.HumanBytes(res.Freed)))
	}
	if rot != nil {
		switch {
		case dry:
			parts = append(parts, fmt.Sprintf("would rotate %s (%s → %s)", rot.From, report.HumanBytes(rot.Bytes), rot.To))
		case rot.GzipBytes > 0:
			parts = append(parts, fmt.Sprintf("rotated %s (%s → %s, %s)", rot.From, report.HumanBytes(rot.Bytes), rot.To,
				report.HumanBytes(rot.GzipBytes)))
		default:
			parts = append(parts, fmt.Sprintf("rotated %s (%s → %s)", rot.From, report.HumanBytes(rot.Bytes), rot.To))
		}
	}
	if len(parts) == 0 {
		fmt.Fprintf(std.Err, "%s: nothing to prune: %d %s (%s) within the policy", tool, res.Reports,
			plural(res.Reports, "report", "reports"), report.HumanBytes(res.Size))
		if res.ArchiveSize > 0 {
			fmt.Fprintf(std.Err, ", %s %s", report.ArchiveName, report.HumanBytes(res.ArchiveSize))
		}
		fmt.Fprintln(std.Err)
		return
	}
	left := res.Reports - len(res.Pruned)
	fmt.Fprintf(std.Err, "%s: %s; %d %s left (%s)\n", tool, strings.Join(parts, ", "), left, plural(left, "report", "reports"),
		report.HumanBytes(res.Size-res.Freed))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
