package samplecmd

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

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	std := cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }, Now: time.Now}
	err := Run(context.Background(), std, args)
	if cli.ExitCode(err) != 0 {
		errb.WriteString("sre-sample: " + err.Error() + "\n")
	}
	return cli.ExitCode(err), out.String(), errb.String()
}

// Every bad input gets exit 2 and one line naming it.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	unreadable := filepath.Join(dir, "missing.pid")
	garbage := filepath.Join(dir, "garbage.pid")
	if err := os.WriteFile(garbage, []byte("not-a-pid\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pid")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string // a substring of the one error line
	}{
		{"no selector", nil, "no target: give a process NAME"},
		{"unknown flag", []string{"--bogus", "x"}, "unknown flag: --bogus"},
		{"zero interval", []string{"--interval", "0s", "x"}, "--interval 0s: must be at least 10ms"},
		{"negative interval", []string{"--interval", "-1s", "x"}, "--interval -1s: must be at least 10ms"},
		{"interval too short", []string{"--interval", "5ms", "x"}, "--interval 5ms: must be at least 10ms"},
		{"interval not a duration", []string{"--interval", "often", "x"}, `invalid argument "often" for "--interval"`},
		{"negative count", []string{"--count", "-1", "x"}, "--count -1: must not be negative"},
		{"negative duration", []string{"--duration", "-5s", "x"}, "--duration -5s: must not be negative"},
		{"invalid regex", []string{"--match", "a(b"}, `--match "a(b": invalid regular expression`},
		{"pid not a number", []string{"--pid", "abc"}, `--pid "abc": not a process ID`},
		{"pid zero", []string{"--pid", "0"}, `--pid "0": not a process ID`},
		{"pid negative", []string{"--pid", "-4"}, `--pid "-4": not a process ID`},
		{"exclude-tree not a number", []string{"--exclude-tree", "me", "x"}, `invalid argument "me" for "--exclude-tree"`},
		{"exclude-tree init", []string{"--exclude-tree", "1", "x"}, "--exclude-tree 1: not a process ID above 1"},
		{"unreadable pidfile", []string{"--pidfile", unreadable}, "--pidfile " + unreadable + ": cannot read: no such file or directory"},
		{"garbage pidfile", []string{"--pidfile", garbage}, `--pidfile ` + garbage + `: "not-a-pid" is not a PID`},
		{"empty pidfile", []string{"--pidfile", empty}, "empty"},
		{"unknown user", []string{"--user", "no-such-user-xyz"}, `--user "no-such-user-xyz": no such user`},
		{"missing disk", []string{"--disk", "/no/such/disk", "x"}, "--disk /no/such/disk: no such file or directory"},
		{"missing proc root", []string{"--proc-root", "/no/such/proc", "x"}, "--proc-root /no/such/proc: not a readable directory"},
		{"missing kmsg", []string{"--kmsg", "/no/such/kmsg", "x"}, "--kmsg /no/such/kmsg: no such file or directory"},
		{"empty name", []string{""}, "NAME: empty"},
		{"launch without command", []string{"--"}, "launch mode: no command after --"},
		{"launch with a selector", []string{"nginx", "--", "true"}, "launch mode (-- CMD) takes no other target"},
		{"target outside launch mode", []string{"--target", "x", "nginx"}, "--target: only in launch mode"},
		{"child-log outside launch mode", []string{"--child-log", "x.log", "nginx"}, "--child-log: only in launch mode"},
		{"unwritable child log", []string{"--child-log", "/no/such/dir/x.log", "--", "true"}, "--child-log /no/such/dir/x.log: no such file or directory"},
		{"container name like a flag", []string{"--container", "-x"}, `--container "-x": not a container name or id`},
		{"container name empty", []string{"--container", ""}, `--container "": not a container name or id`},
		{"container name a path", []string{"--container", "../web"}, `--container "../web": not a container name or id`},
		{"container label without key", []string{"--container-label", "=shop"}, `--container-label: label "=shop": no KEY`},
		{"container label with a newline", []string{"--container-label", "a=b\nc"}, `--container-label: label "a=b\nc": control character`},
		{"launch with a container", []string{"--container", "web", "--", "true"}, "launch mode (-- CMD) takes no other target"},
		{"container twice", []string{"--container", "web", "--container", "web"}, "--container web: given twice"},
		{"container label twice", []string{"--container-label", "a=b", "--container-label", "a=b"}, "--container-label a=b: given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.args...)
			if code != cli.ExitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", code, cli.ExitUsage, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if n := strings.Count(stderr, "\n"); n != 1 {
				t.Errorf("stderr has %d lines, want 1: %q", n, stderr)
			}
			if !strings.HasPrefix(stderr, "sre-sample: ") || !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q, want one line with %q", stderr, tt.want)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	code, stdout, stderr := run(t, "--help")
	if code != 0 || stderr != "" {
		t.Fatalf("--help: exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{"Usage:", "Examples:", "--pidfile", "--interval", "sre-sample nginx"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	code, stdout, _ = run(t, "--version")
	if code != 0 || !strings.HasPrefix(stdout, "sre-sample ") {
		t.Errorf("--version: exit %d, %q", code, stdout)
	}
}

// A daemon that does not answer at the start is one line naming it, exit 1.
func TestContainerNoDaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	var out, errb bytes.Buffer
	std := cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Now: time.Now,
		Getenv: func(k string) string {
			if k == "DOCKER_HOST" {
				return "unix://" + sock
			}
			return ""
		}}
	err := Run(context.Background(), std, []string{"--container", "web", "--count", "1"})
	if code := cli.ExitCode(err); code != cli.ExitFailure {
		t.Fatalf("exit %d, want %d: %v", code, cli.ExitFailure, err)
	}
	want := "Docker daemon: socket " + sock + " absent (no Docker daemon on this host)"
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if out.Len() > 0 {
		t.Errorf("stdout %q, want nothing", out.String())
	}
}

// A DOCKER_HOST the client cannot use is a usage error naming it.
func TestContainerBadDockerHost(t *testing.T) {
	var out, errb bytes.Buffer
	std := cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Now: time.Now,
		Getenv: func(k string) string {
			if k == "DOCKER_HOST" {
				return "bogus"
			}
			return ""
		}}
	err := Run(context.Background(), std, []string{"--container", "web", "--count", "1"})
	if code := cli.ExitCode(err); code != cli.ExitUsage || !strings.Contains(err.Error(), `DOCKER_HOST "bogus"`) {
		t.Fatalf("exit %d, error %v; want %d naming DOCKER_HOST", code, err, cli.ExitUsage)
	}
}
