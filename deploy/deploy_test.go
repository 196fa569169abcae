// Package deploy_test checks the example configurations under deploy/ with
// the tools that read them: promtool for the Prometheus rules, rsyslogd for
// the rsyslog drop-in, the real jq for docs/shipping.md's one-liners. A
// tool that is not installed skips its test, except with CI=true, where it
// fails (.ci/run installs them).
package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/samplecmd"
	"github.com/localsre/sre-agent/internal/score"
	"github.com/localsre/sre-agent/internal/scorecmd"
)

// tool finds a program (daemons such as rsyslogd in the sbin directories
// too, which an ordinary user's PATH lacks), skipping without it unless
// CI=true.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if err == nil {
			break
		}
		p, err = exec.LookPath(filepath.Join(dir, name))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (Debian package %s); CI must have it", name, pkg)
		}
		t.Skipf("%s not installed (apt-get install %s)", name, pkg)
	}
	return p
}

func runTool(t *testing.T, dir, prog string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The alerting rules load, and each alert fires when alerts_test.yml says
// and not before.
func TestPrometheusRules(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	if out, err := runTool(t, "prometheus", promtool, "check", "rules", "alerts.yml"); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if out, err := runTool(t, "prometheus", promtool, "test", "rules", "alerts_test.yml"); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// Every alert in alerts.yml has a test case that expects it to fire.
func TestEveryAlertTested(t *testing.T) {
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert string }
		}
	}
	readYAML(t, "prometheus/alerts.yml", &rules)
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		}
	}
	readYAML(t, "prometheus/alerts_test.yml", &tests)
	fires := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			}
		}
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if !fires[r.Alert] {
				t.Errorf("alert %s: no test case in alerts_test.yml expects it to fire", r.Alert)
			}
		}
	}
	if n == 0 {
		t.Fatal("no alerts in alerts.yml")
	}
}

// The rules use only metrics the exporter serves: the score metrics of
// internal/score, its own health metrics (docs/score.md) and Prometheus's up.
func TestAlertMetricsExist(t *testing.T) {
	served := map[string]bool{"up": true,
		"sre_archive_up": true, "sre_archive_last_read_timestamp_seconds": true,
		"sre_archive_lines_skipped_total": true, "sre_build_info": true}
	ch := make(chan *prometheus.Desc, 64)
	score.Collector{}.Describe(ch)
	close(ch)
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range ch {
		if m := fq.FindStringSubmatch(d.String()); m != nil {
			served[m[1]] = true
		}
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	readYAML(t, "prometheus/alerts.yml", &rules)
	name := regexp.MustCompile(`\b(up|sre_[a-z_]+)\b`)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			for _, m := range name.FindAllString(r.Expr, -1) {
				if !served[m] {
					t.Errorf("alert %s: %s is not a metric sre-score serves", r.Alert, m)
				}
			}
		}
	}
}

// SRETargetDown relies on what the exporter serves while a crash has no
// recovery yet: the 1h downtime grows by the seconds that pass, and after a
// whole hour down the 1h availability is 0. sre-score, asked as of
// several moments, must say so.
func TestTargetDownRuleFitsExporter(t *testing.T) {
	crash := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	archive := filepath.Join(t.TempDir(), "events.ndjson")
	line := `{"v":1,"kind":"event","ts":"%s","host":"h","src":"sre-detect","id":"%s","type":"%s","severity":"%s","target":"api","msg":"m"}` + "\n"
	text := fmt.Sprintf(line, crash.Add(-2*time.Hour).Format(time.RFC3339Nano), "s1", "started", "info") +
		fmt.Sprintf(line, crash.Format(time.RFC3339Nano), "c1", "crash", "critical")
	if err := os.WriteFile(archive, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	metric := func(at time.Time, name string) float64 {
		t.Helper()
		var out, errb bytes.Buffer
		std := cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }, Now: time.Now}
		if err := scorecmd.Run(context.Background(), std, []string{"--format", "prom", "--at", at.Format(time.RFC3339), archive}); err != nil {
			t.Fatalf("sre-score: %v\n%s", err, errb.String())
		}
		re := regexp.MustCompile(`(?m)^` + name + `\{target="api",window="1h"\} (\S+)$`)
		m := re.FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("no %s for api in 1h at %s:\n%s", name, at, out.String())
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := metric(crash.Add(2*time.Minute), "sre_downtime_seconds")
	after := metric(crash.Add(7*time.Minute), "sre_downtime_seconds")
	if d := after - before; d < 240 {
		t.Errorf("1h downtime grew by %v s in 5 minutes of an open incident; SRETargetDown needs >= 240", d)
	}
	if a := metric(crash.Add(90*time.Minute), "sre_availability_ratio"); a != 0 {
		t.Errorf("1h availability after 90 minutes down: %v, SRETargetDown expects 0", a)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// rsyslogd -N1 accepts the drop-in under a main file that, like Debian's,
// sets the work directory, and refuses it with a mistake in it (so the
// check is a real one).
func TestRsyslogConfig(t *testing.T) {
	rsyslogd := tool(t, "rsyslogd", "rsyslog")
	conf, err := filepath.Abs("shipping/rsyslog.conf")
	if err != nil {
		t.Fatal(err)
	}
	check := func(dropIn string) (string, error) {
		dir := t.TempDir()
		main := filepath.Join(dir, "rsyslog.conf")
		text := fmt.Sprintf("global(workDirectory=%q)\ninclude(file=%q)\n", dir, dropIn)
		if err := os.WriteFile(main, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return runTool(t, dir, rsyslogd, "-N1", "-f", main)
	}
	if out, err := check(conf); err != nil {
		t.Fatalf("rsyslogd -N1: %v\n%s", err, out)
	}
	good, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "broken.conf")
	if err := os.WriteFile(broken, bytes.Replace(good, []byte(`Protocol="tcp"`), []byte(`Protocol="tpc"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := check(broken); err == nil {
		t.Fatalf("rsyslogd -N1 accepted a broken config:\n%s", out)
	}
}

// The shippers Debian does not package: each file parses, reads the paths
// of docs/shipping.md's layout, and sets no Loki label outside its table.
func TestShipperConfigs(t *testing.T) {
	const archive = "/var/lib/sre-agent/sre_reports/events.ndjson"
	const ecsFile = "/var/log/sre-agent/events.ecs.ndjson"
	for file, paths := range map[string][]string{
		"shipping/vector.yaml":     {archive, ecsFile},
		"shipping/config.alloy":    {archive},
		"shipping/fluent-bit.yaml": {ecsFile},
		"shipping/filebeat.yml":    {ecsFile},
		"shipping/rsyslog.conf":    {ecsFile},
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(file, ".yaml") || strings.HasSuffix(file, ".yml") {
			var v map[string]any
			if err := yaml.Unmarshal(b, &v); err != nil {
				t.Errorf("%s: not YAML: %v", file, err)
			}
		}
		for _, p := range paths {
			if !bytes.Contains(b, []byte(p)) {
				t.Errorf("%s: does not read %s", file, p)
			}
		}
	}
	docLabels := lokiLabelsInDocs(t)
	var vector struct {
		Sinks map[string]struct {
			Type   string
			Labels map[string]string
		}
	}
	readYAML(t, "shipping/vector.yaml", &vector)
	var vecLabels []string
	for _, s := range vector.Sinks {
		if s.Type == "loki" {
			for k := range s.Labels {
				vecLabels = append(vecLabels, k)
			}
		}
	}
	sort.Strings(vecLabels)
	if diff := cmp.Diff(docLabels, vecLabels); diff != "" {
		t.Errorf("vector.yaml's Loki labels differ from docs/shipping.md (-docs +vector):\n%s", diff)
	}
	alloy, err := os.ReadFile("shipping/config.alloy")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`stage\.labels \{\s*values = \{([^}]*)\}`).FindSubmatch(alloy)
	if m == nil {
		t.Fatal("config.alloy: no stage.labels")
	}
	var alloyLabels []string
	for _, kv := range strings.Split(string(m[1]), ",") {
		k, _, _ := strings.Cut(kv, "=")
		alloyLabels = append(alloyLabels, strings.TrimSpace(k))
	}
	sort.Strings(alloyLabels)
	if diff := cmp.Diff(docLabels, alloyLabels); diff != "" {
		t.Errorf("config.alloy's Loki labels differ from docs/shipping.md (-docs +alloy):\n%s", diff)
	}
}

// lokiLabelsInDocs reads the label table of docs/shipping.md.
func lokiLabelsInDocs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../docs/shipping.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "| label | values | why a label |")
	if !ok {
		t.Fatal("docs/shipping.md: no Loki label table")
	}
	var labels []string
	for _, line := range strings.Split(after, "\n")[2:] {
		if !strings.HasPrefix(line, "| `") {
			break
		}
		labels = append(labels, strings.Trim(strings.Split(line, "|")[1], " `"))
	}
	sort.Strings(labels)
	return labels
}

// docs/shipping.md's jq lines, run by the real jq on a record sre-sample
// wrote: plain fromdateiso8601 refuses the nanosecond ts, the one-liner
// gives its whole seconds, the second line the fraction too.
func TestJQTimestamp(t *testing.T) {
	jq := tool(t, "jq", "jq")
	var out, errb bytes.Buffer
	std := cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }, Now: time.Now}
	if err := samplecmd.Run(context.Background(), std, []string{"--pid", strconv.Itoa(os.Getpid()), "--count", "1"}); err != nil {
		t.Fatalf("sre-sample: %v\n%s", err, errb.String())
	}
	record := filepath.Join(t.TempDir(), "sample.ndjson")
	if err := os.WriteFile(record, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var rec struct{ TS string }
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	ts, err := time.Parse(time.RFC3339Nano, rec.TS)
	if err != nil || ts.Nanosecond() == 0 {
		t.Fatalf("ts %q: want a timestamp with a fraction (%v)", rec.TS, err)
	}

	lines := jqLinesInDocs(t)
	if len(lines) != 2 {
		t.Fatalf("docs/shipping.md: %d jq lines with fromdateiso8601, want 2: %q", len(lines), lines)
	}
	if got, err := runTool(t, ".", jq, ".ts | fromdateiso8601", record); err == nil {
		t.Errorf("plain fromdateiso8601 accepted %s (gave %s): docs/shipping.md says it does not", rec.TS, got)
	}
	secs, err := runTool(t, ".", jq, lines[0], record)
	if err != nil {
		t.Fatalf("jq %s: %v\n%s", lines[0], err, secs)
	}
	if want := strconv.FormatInt(ts.Unix(), 10); strings.TrimSpace(secs) != want {
		t.Errorf("jq %s: %s, want %s (ts %s)", lines[0], secs, want, rec.TS)
	}
	frac, err := runTool(t, ".", jq, lines[1], record)
	if err != nil {
		t.Fatalf("jq %s: %v\n%s", lines[1], err, frac)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(frac), 64)
	want := float64(ts.UnixNano()) / 1e9
	if err != nil || f < want-1e-6 || f > want+1e-6 {
		t.Errorf("jq %s: %s, want %.6f (ts %s)", lines[1], frac, want, rec.TS)
	}
}

// jqLinesInDocs returns the jq programs of the documented command lines
// `jq 'PROGRAM' FILE` that use fromdateiso8601, as the shell would pass them.
func jqLinesInDocs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../docs/shipping.md")
	if err != nil {
		t.Fatal(err)
	}
	var progs []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "jq '") || !strings.Contains(line, "fromdateiso8601") {
			continue
		}
		prog := strings.TrimPrefix(line, "jq '")
		end := strings.LastIndex(prog, "'")
		if end < 0 {
			t.Fatalf("docs/shipping.md: unterminated jq line %q", line)
		}
		progs = append(progs, prog[:end]) // inside single quotes the shell passes it as is
	}
	return progs
}
