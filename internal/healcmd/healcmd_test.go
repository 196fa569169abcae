package healcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/event/eventtest"
)

const rules = `rules:
  - name: note
    on: [crash]
    action: run
    command: ["/usr/bin/touch", "{target}.marker"]
    max_retries: 2
    backoff: {initial: 3s}
`

func run(t *testing.T, dir, in string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	std := cli.IO{In: strings.NewReader(in), Out: &out, Err: &errb, Now: time.Now,
		Getenv: func(string) string { return "" }}
	err := Run(context.Background(), std, append([]string{"--dir", filepath.Join(dir, "reports")}, args...))
	return out.String(), errb.String(), err
}

func TestDryRunRecords(t *testing.T) {
	dir := t.TempDir()
	rp := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rp, []byte(rules), 0o600)
	report := filepath.Join(dir, "r.txt")
	os.WriteFile(report, []byte("r"), 0o444)
	ts := time.Now().UTC().Format(event.TimeLayout)
	in := `{"v":1,"kind":"sample","ts":"` + ts + `","host":"h","src":"sre-sample","target":"api","seq":1,"up":false,"matches":0}` + "\n" +
		`{"v":1,"kind":"event","ts":"` + ts + `","host":"h","src":"sre-detect","id":"e1","type":"crash","severity":"critical","target":"api","msg":"m","report":"` + report + `"}` + "\n" +
		`{"v":1,"kind":"event","ts":"` + ts + `","host":"h","src":"sre-detect","id":"e2","type":"crash","severity":"critical","target":"db","msg":"m"}` + "\n"
	out, errs, err := run(t, dir, in, "--rules", rp)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := eventtest.ValidateStream([]byte(out)); err != nil || n != 5 {
		t.Fatalf("%d records: %v\n%s", n, err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	inLines := strings.Split(strings.TrimSpace(in), "\n")
	// input unchanged and in order, each event followed by its action
	for i, want := range []string{inLines[0], inLines[1], "", inLines[2], ""} {
		if want != "" && lines[i] != want {
			t.Errorf("line %d changed:\n got %s\nwant %s", i, lines[i], want)
		}
	}
	if !strings.Contains(lines[2], `"result":"planned"`) || !strings.Contains(lines[2], `"argv":["/usr/bin/touch","api.marker"]`) || !strings.Contains(lines[2], `"delay_s":3`) {
		t.Errorf("planned record: %s", lines[2])
	}
	if !strings.Contains(lines[4], `"result":"skipped"`) || !strings.Contains(lines[4], "never without artifacts") {
		t.Errorf("unreported crash: %s", lines[4])
	}
	if !strings.Contains(errs, `sre-heal: would run: ["/usr/bin/touch" "api.marker"] (rule note, attempt 1, after 3s)`) {
		t.Errorf("stderr: %s", errs)
	}
	arch, _ := os.ReadFile(filepath.Join(dir, "reports", "events.ndjson"))
	if n, err := eventtest.ValidateStream(arch); err != nil || n != 2 {
		t.Errorf("archive: %d records, %v", n, err)
	}
}

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "no rules: give --rules FILE"},
		{[]string{"--rules", "x", "extra"}, `unexpected argument "extra"`},
		{[]string{"--rules", "x", "--max-event-age", "0s"}, "--max-event-age 0s: must be positive"},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
	} {
		_, _, err := run(t, dir, "", tt.args...)
		if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v (exit %d), want %q", tt.args, err, cli.ExitCode(err), tt.want)
		}
	}
	out, _, err := run(t, dir, "", "--version")
	if err != nil || !strings.HasPrefix(out, "sre-heal ") {
		t.Errorf("--version: %q %v", out, err)
	}
}

// TestCrashDuringStartCheck: a crash of the restarted process that arrives
// while its start check is still running is a new trigger (attempt 2), not
// "already scheduled" — else a service that dies at once would stay down.
func TestCrashDuringStartCheck(t *testing.T) {
	dir := t.TempDir()
	rp := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rp, []byte(`rules:
  - name: restart
    on: [crash]
    action: restart_process
    command: ["/bin/sh", "-c", "echo $$ >> pids; exec sleep 30"]
    cwd: `+dir+`
    start_check_seconds: 3
    max_retries: 3
    backoff: {initial: 10ms}
`), 0o600)
	report := filepath.Join(dir, "r.txt")
	os.WriteFile(report, []byte("r"), 0o444)
	crash := func(id string) string {
		ts := time.Now().UTC().Format(event.TimeLayout)
		return `{"v":1,"kind":"event","ts":"` + ts + `","host":"h","src":"sre-detect","id":"` + id + `","type":"crash","severity":"critical","target":"api","msg":"m","report":"` + report + `"}` + "\n"
	}
	pids := filepath.Join(dir, "pids")
	waitPids := func(n int) []string {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			b, _ := os.ReadFile(pids)
			if l := strings.Fields(string(b)); len(l) >= n {
				return l
			}
		}
		t.Fatalf("no %d starts", n)
		return nil
	}
	pr, pw := io.Pipe()
	var out, errb bytes.Buffer
	std := cli.IO{In: pr, Out: &out, Err: &errb, Now: time.Now, Getenv: func(string) string { return "" }}
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), std, []string{"--dir", filepath.Join(dir, "reports"), "--rules", rp, "--apply"})
	}()
	io.WriteString(pw, crash("e1"))
	waitPids(1)
	io.WriteString(pw, crash("e2"))
	started := waitPids(2)
	pw.Close()
	err := <-done
	for _, p := range started {
		if pid, _ := strconv.Atoi(p); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var a event.Action
		if json.Unmarshal([]byte(l), &a) == nil && a.Kind == event.KindAction {
			got = append(got, fmt.Sprintf("%s %d %d", a.Result, a.Attempt, a.PID))
		}
	}
	sort.Strings(got) // both start checks end at about the same time
	want := []string{"ok 1 " + started[0], "ok 2 " + started[1]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s\nstderr:\n%s", diff, errb.String())
	}
}

// TestDelayRoundedForPeople: a cooldown makes delays of any precision;
// stderr rounds them for people, the record keeps the exact value.
func TestDelayRoundedForPeople(t *testing.T) {
	dir := t.TempDir()
	rp := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rp, []byte("rules:\n  - name: note\n    on: [crash]\n    action: run\n    command: [/bin/true]\n    max_retries: 5\n    cooldown_seconds: 60\n"), 0o600)
	t0 := time.Now().UTC().Truncate(time.Second)
	crash := func(id string, at time.Time) string {
		return `{"v":1,"kind":"event","ts":"` + at.Format(event.TimeLayout) + `","host":"h","src":"sre-detect","id":"` + id +
			`","type":"crash","severity":"critical","target":"api","msg":"m"}` + "\n"
	}
	second := t0.Add(7396010 * time.Nanosecond)
	clock := []time.Time{t0, second}
	now := func() time.Time {
		c := clock[0]
		if len(clock) > 1 {
			clock = clock[1:]
		}
		return c
	}
	var out, errb bytes.Buffer
	std := cli.IO{In: strings.NewReader(crash("e1", t0) + crash("e2", second)), Out: &out, Err: &errb, Now: now,
		Getenv: func(string) string { return "" }}
	if err := Run(context.Background(), std, []string{"--dir", filepath.Join(dir, "reports"), "--rules", rp, "--allow-unreported"}); err != nil {
		t.Fatal(err)
	}
	var delays []float64
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var a event.Action
		if json.Unmarshal([]byte(l), &a) == nil && a.Kind == event.KindAction {
			delays = append(delays, a.DelayS)
		}
	}
	// the second action waits for the cooldown: 61 s after t0, less the
	// 7.39601 ms between the crashes
	if diff := cmp.Diff([]float64{1, 60.99260399}, delays); diff != "" {
		t.Errorf("delay_s (-want +got):\n%s", diff)
	}
	for _, want := range []string{"(rule note, attempt 1, after 1s)", "(rule note, attempt 2, after 1m1s)"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

// Every record leaves byte for byte, fields sre-heal does not know (at the
// top level, inside process), unicode escapes and spacing included, and an
// event with them is still acted on.
func TestPassKeepsUnknownFields(t *testing.T) {
	dir := t.TempDir()
	rp := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rp, []byte(rules), 0o600)
	report := filepath.Join(dir, "r.txt")
	os.WriteFile(report, []byte("r"), 0o444)
	ts := time.Now().UTC().Format(event.TimeLayout)
	in := []string{
		`{"v":1,"kind":"sample","ts":"` + ts + `","host":"h","src":"sre-sample","target":"api","seq":1,"up":false,"matches":0,"team":"payments","labels":{"env":"prod"}}`,
		`{ "v" : 1, "kind":"event","ts":"` + ts + `","host":"h","src":"sre-detect","id":"e1","type":"crash","severity":"critical","target":"api","msg":"caf\u00e9 \u2028 crashed","process":{"pid":42,"team":"x","container":{"labels":{"a":"b"}}},"report":"` + report + `","team":"payments","labels":{"env":"prod"} }`,
		`{"v":1,"kind":"notice","ts":"` + ts + `","host":"h","src":"x","code":"c","msg":"J\u00fcrgen","labels":{"env":"prod"}}`,
	}
	out, errs, err := run(t, dir, strings.Join(in, "\n")+"\n", "--rules", rp)
	if err != nil {
		t.Fatalf("%v: %s", err, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), out)
	}
	if diff := cmp.Diff(in, []string{lines[0], lines[1], lines[3]}); diff != "" {
		t.Errorf("records changed (-want +got):\n%s", diff)
	}
	if !strings.Contains(lines[2], `"kind":"action"`) || !strings.Contains(lines[2], `"result":"planned"`) {
		t.Errorf("no planned action after the event: %s", lines[2])
	}
}

// Children that end while the input ends are still told: a restarted
// process that dies within its start check ends the action, which may be
// the last thing sre-heal waits for; its child_exited notice still comes
// out, for each of three, every time.
func TestChildExitsToldAtEndOfInput(t *testing.T) {
	for round := range 5 {
		dir := t.TempDir()
		rp := filepath.Join(dir, "rules.yaml")
		os.WriteFile(rp, []byte("rules:\n  - on: crash\n    action: restart_process\n    command: [/bin/sh, -c, \"exit 3\"]\n    log: /dev/null\n    start_check_seconds: 5\n    max_retries: 2\n    backoff: {initial: 10ms}\n"), 0o600)
		report := filepath.Join(dir, "r.txt")
		os.WriteFile(report, []byte("r"), 0o444)
		ts := time.Now().UTC().Format(event.TimeLayout)
		var in strings.Builder
		for _, target := range []string{"a", "b", "c"} {
			in.WriteString(`{"v":1,"kind":"event","ts":"` + ts + `","host":"h","src":"sre-detect","id":"e-` + target + `","type":"crash","severity":"critical","target":"` + target + `","msg":"m","report":"` + report + `"}` + "\n")
		}
		out, errOut, err := run(t, dir, in.String(), "--rules", rp, "--apply")
		if err != nil {
			t.Fatalf("round %d: %v\n%s", round, err, errOut)
		}
		started := strings.Count(out, `"kind":"action"`)
		if n := strings.Count(out, `"code":"child_exited"`); n != 3 || started != 3 {
			t.Fatalf("round %d: %d actions, %d child_exited notices, want 3 and 3:\n%s\n%s", round, started, n, out, errOut)
		}
	}
}

const containerRules = `rules:
  - name: web
    on: [crash]
    action: restart_container
    container: web
    max_retries: 2
`

// A dry run of a container rule plans the exact API call and asks no
// daemon (DOCKER_HOST names none here); --check shows the same call.
func TestContainerDryRun(t *testing.T) {
	dir := t.TempDir()
	rp := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rp, []byte(containerRules), 0o600)
	ts := time.Now().UTC().Format(event.TimeLayout)
	in := `{"v":1,"kind":"event","ts":"` + ts + `","host":"h","src":"sre-detect","id":"e1","type":"crash","severity":"critical","target":"web","msg":"m"}` + "\n"
	out, errs, err := run(t, dir, in, "--rules", rp, "--allow-unreported")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := eventtest.ValidateStream([]byte(out)); err != nil || n != 2 {
		t.Fatalf("%d records: %v\n%s", n, err, out)
	}
	var a event.Action
	if err := json.Unmarshal([]byte(strings.Split(strings.TrimSpace(out), "\n")[1]), &a); err != nil {
		t.Fatal(err)
	}
	if a.Result != event.ResultPlanned || strings.Join(a.Argv, " ") != "POST /containers/web/restart?t=10" {
		t.Errorf("record %+v", a)
	}
	if !strings.Contains(errs, "sre-heal: would call POST /containers/web/restart?t=10, after keeping its last 100 log lines and inspect in "+filepath.Join(dir, "reports")) {
		t.Errorf("stderr %q", errs)
	}
	out, _, err = run(t, dir, "", "--check", rp)
	if err != nil || !strings.Contains(out, "POST /containers/web/restart?t=10") {
		t.Errorf("--check: %v\n%s", err, out)
	}
}

// With --apply, container rules need a daemon the client can address: a
// DOCKER_HOST it cannot use is a usage error naming it, before any input.
func TestContainerApplyBadDockerHost(t *testing.T) {
	dir := t.TempDir()
	rp := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rp, []byte(containerRules), 0o600)
	var out, errb bytes.Buffer
	std := cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Now: time.Now,
		Getenv: func(k string) string { return map[string]string{"DOCKER_HOST": "bogus"}[k] }}
	err := Run(context.Background(), std, []string{"--dir", filepath.Join(dir, "reports"), "--rules", rp, "--apply"})
	var ec interface{ ExitCode() int }
	if err == nil || !errors.As(err, &ec) || ec.ExitCode() != 2 || !strings.Contains(err.Error(), `DOCKER_HOST "bogus"`) ||
		!strings.Contains(err.Error(), "container actions need the Docker daemon") {
		t.Errorf("err = %v, want a usage error naming DOCKER_HOST", err)
	}
}
