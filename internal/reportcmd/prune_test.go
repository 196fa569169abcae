package reportcmd

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/report"
)

// Every bad prune flag: exit 2 and one line naming it.
func TestPruneBadInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no policy", nil, "prune: no policy: give --keep-days, --keep-reports, --max-size or --archive-max-size"},
		{"dry run alone", []string{"--dry-run"}, "prune: no policy"},
		{"days zero", []string{"--keep-days", "0"}, "--keep-days 0: want a whole number of days, 1 to 100000"},
		{"days negative", []string{"--keep-days", "-3"}, "--keep-days -3: want a whole number of days"},
		{"days not a number", []string{"--keep-days", "30d"}, `invalid argument "30d" for "--keep-days"`},
		{"days huge", []string{"--keep-days", "100001"}, "--keep-days 100001: want a whole number of days, 1 to 100000"},
		{"reports zero", []string{"--keep-reports", "0"}, "--keep-reports 0: want 1 or more"},
		{"size bad", []string{"--max-size", "lots"}, `--max-size: "lots" is not a size`},
		{"size zero", []string{"--max-size", "0"}, `--max-size "0": want more than 0 bytes`},
		{"archive size bad", []string{"--archive-max-size", "-1M"}, `--archive-max-size: "-1M" is not a size`},
		{"archive keep zero", []string{"--archive-max-size", "1M", "--archive-keep", "0"}, "--archive-keep 0: want 1 to 1000"},
		{"archive keep alone", []string{"--keep-days", "3", "--archive-keep", "3"}, "--archive-keep: only with --archive-max-size"},
		{"stray argument", []string{"--keep-days", "3", "x"}, `prune: unexpected argument "x"`},
		{"dir is a file", []string{"--keep-days", "3", "--dir", file}, "--dir " + file + ": not a report directory"},
		{"dir missing", []string{"--keep-days", "3", "--dir", filepath.Join(dir, "nope")}, "not a report directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"prune"}, tt.args...)
			if !strings.Contains(strings.Join(tt.args, " "), "--dir") {
				args = append(args, "--dir", dir)
			}
			code, stdout, stderr := run(t, nil, "", args...)
			if code != cli.ExitUsage {
				t.Errorf("exit %d, want 2; stderr %q", code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q, want one line with %q", stderr, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, report.ArchiveName)); err == nil {
		t.Error("a refused prune wrote an archive")
	}
}

func crashes(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `{"v":1,"kind":"event","ts":"2026-11-27T03:41:%02d.000000000Z","host":"h","src":"sre-detect","id":"e%d","type":"crash","severity":"critical","target":"api","msg":"api crashed %d"}`+"\n", i, i, i)
	}
	return b.String()
}

// Reports written by the filter, pruned through Run: one line per file,
// a summary, the notices; verify passes; a dry run and nothing to do say
// so and change nothing.
func TestPruneRun(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := run(t, nil, crashes(4), "--dir", dir, "--collector-timeout", "1s"); code != 0 {
		t.Fatalf("filter: exit %d: %s", code, stderr)
	}
	before, _ := os.ReadDir(dir)

	code, stdout, stderr := run(t, nil, "", "prune", "--dir", dir, "--keep-reports", "2", "--dry-run")
	if code != 0 || stdout != "" {
		t.Fatalf("dry run: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 5 ||
		!regexp.MustCompile(`^sre-report: would remove 20261127T034101Z_api_crash_[0-9a-f]{8}\.txt \(beyond the newest 2\)$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^sre-report: would remove 20261127T034101Z_api_crash_[0-9a-f]{8}_context\.txt \(beyond the newest 2\)$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^sre-report: would prune 2 reports \([0-9.]+ KiB\); 2 reports left \([0-9.]+ KiB\)$`).MatchString(lines[4]) {
		t.Errorf("dry run stderr:\n%s", stderr)
	}
	after, _ := os.ReadDir(dir)
	if len(after) != len(before) {
		t.Errorf("dry run removed files: %d, then %d", len(before), len(after))
	}

	code, _, stderr = run(t, nil, "", "prune", "--dir", dir, "--keep-reports", "2")
	if code != 0 || !regexp.MustCompile(`(?m)^sre-report: removed 20261127T034102Z_api_crash_[0-9a-f]{8}_context\.txt \(beyond the newest 2\)\nsre-report: pruned 2 reports \([0-9.]+ KiB\); 2 reports left`).MatchString(stderr) {
		t.Fatalf("prune: exit %d, stderr:\n%s", code, stderr)
	}
	arch, _ := os.ReadFile(filepath.Join(dir, report.ArchiveName))
	if n := strings.Count(string(arch), `"code":"report_pruned"`); n != 2 ||
		!strings.Contains(string(arch), `"what":"api crashed 1"`) || !strings.Contains(string(arch), `"event_id":"e2"`) {
		t.Errorf("%d report_pruned notices in\n%s", n, arch)
	}
	code, stdout, _ = run(t, nil, "", "verify", "--dir", dir)
	if code != 0 || !strings.HasPrefix(stdout, "ok: 4 reports, chain intact") {
		t.Errorf("verify after prune: exit %d: %s", code, stdout)
	}

	code, _, stderr = run(t, nil, "", "prune", "--dir", dir, "--keep-reports", "2", "--keep-days", "36500")
	if code != 0 || !regexp.MustCompile(`^sre-report: nothing to prune: 2 reports \([0-9.]+ KiB\) within the policy\n$`).MatchString(stderr) {
		t.Errorf("nothing to do: exit %d, stderr %q", code, stderr)
	}

	// Rotation, told with its sizes.
	code, _, stderr = run(t, nil, "", "prune", "--dir", dir, "--archive-max-size", "1")
	if code != 0 || !regexp.MustCompile(`^sre-report: rotated events\.ndjson \([0-9.]+ KiB → events\.ndjson\.1\.gz, [0-9.]+ (KiB|B)\); 2 reports left`).MatchString(stderr) {
		t.Errorf("rotate: exit %d, stderr %q", code, stderr)
	}
	if code, stdout, _ = run(t, nil, "", "verify", "--dir", dir); code != 0 {
		t.Errorf("verify after rotation: exit %d: %s", code, stdout)
	}

	// list reads the rotated archive too, and marks the pruned reports.
	code, stdout, stderr = run(t, nil, "", "list", "--dir", dir, "--format", "json")
	if code != 0 || strings.Count(stdout, "\n") != 4 || !strings.Contains(stdout, `"id":"e1"`) {
		t.Errorf("list json: exit %d, stderr %q:\n%s", code, stderr, stdout)
	}
	code, stdout, _ = run(t, nil, "", "list", "--dir", dir, "--format", "table")
	if code != 0 || strings.Count(stdout, "(pruned)") != 2 ||
		!regexp.MustCompile(`(?m)api crashed 1 .*$`).MatchString(stdout) ||
		!regexp.MustCompile(`(?m)^.*\(pruned\).*api crashed 2`).MatchString(stdout) ||
		regexp.MustCompile(`(?m)^.*\(pruned\).*api crashed 3`).MatchString(stdout) {
		t.Errorf("list table: exit %d:\n%s", code, stdout)
	}
}
