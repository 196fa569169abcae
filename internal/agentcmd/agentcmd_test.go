package agentcmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/localsre/sre-agent/internal/cli"
)

func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	std := cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(k string) string { return env[k] }, Now: time.Now}
	err := Run(context.Background(), std, args)
	if err != nil {
		errb.WriteString("sre-agent: " + err.Error() + "\n")
	}
	return cli.ExitCode(err), out.String(), errb.String()
}

// TestFlags: each bad input is one line naming it, exit 2.
func TestFlags(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "demo.yaml")
	os.WriteFile(good, []byte("watch: {name: api}\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("watch: {name: api}\nintervall: 1s\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "--config: missing"},
		{[]string{"--config", good, "extra"}, `unexpected argument "extra"`},
		{[]string{"--config", good, "--journal", "maybe"}, `--journal "maybe"`},
		{[]string{"--config", good, "--output", "xml"}, `--output "xml"`},
		{[]string{"--config", filepath.Join(dir, "none.yaml")}, "none.yaml: no such file"},
		{[]string{"--config", bad}, "bad.yaml:2:"},
		{[]string{"--nope"}, "--nope"},
	} {
		code, _, errOut := run(t, nil, c.args...)
		if code != cli.ExitUsage || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: exit %d, %q; want 2 and one line with %q", c.args, code, errOut, c.want)
		}
	}
}

// TestCheck: --check prints the chain it would run; the report directory
// defaults to systemd's $STATE_DIRECTORY, and the name to the file's.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "demo.yaml")
	os.WriteFile(cfg, []byte("watch: {pidfile: /run/api.pid}\ninterval: 2s\nlog: /var/log/api.log\nheal: {rules: /etc/sre-agent/r.yaml}\n"), 0o644)
	bin := t.TempDir()
	for _, tool := range []string{"sre-sample", "sre-detect", "sre-report", "sre-heal"} {
		os.WriteFile(filepath.Join(bin, tool), []byte("#!/bin/sh\n"), 0o755)
	}
	t.Setenv("PATH", bin)
	code, out, errOut := run(t, map[string]string{"STATE_DIRECTORY": "/var/lib/sre-agent/demo"}, "--config", cfg, "--check")
	want := "demo: watches the pid in /run/api.pid every 2s into /var/lib/sre-agent/demo\n" +
		"sre-sample --interval 2s --pidfile /run/api.pid | sre-detect --pass --state /var/lib/sre-agent/demo/.sre-detect-demo.state | sre-report --dir /var/lib/sre-agent/demo --log /var/log/api.log | sre-heal --rules /etc/sre-agent/r.yaml\n"
	if code != 0 || out != want {
		t.Errorf("exit %d\n%s\nstderr %s\nwant\n%s", code, out, errOut, want)
	}
}

// TestJournalAlways: --journal always with no journal to write to is one
// line saying so, exit 1, before anything starts.
func TestJournalAlways(t *testing.T) {
	if _, err := os.Stat("/run/systemd/journal/socket"); err == nil {
		t.Skip("this machine has a journal: the refusal cannot be seen here (TestServiceInSystemd writes to a real one)")
	}
	cfg := filepath.Join(t.TempDir(), "demo.yaml")
	os.WriteFile(cfg, []byte("watch: {name: api}\n"), 0o644)
	code, _, errOut := run(t, nil, "--config", cfg, "--journal", "always")
	if code != cli.ExitFailure || errOut != "sre-agent: --journal always: the journal's socket does not answer\n" {
		t.Errorf("exit %d, %q", code, errOut)
	}
}
