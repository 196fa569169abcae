package cli_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/cli"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, cli.ExitOK},
		{"ErrHelp", cli.ErrHelp, cli.ExitOK},
		{"wrapped ErrHelp", fmt.Errorf("parse: %w", cli.ErrHelp), cli.ExitOK},
		{"Usagef", cli.Usagef("bad --interval %q", "x"), cli.ExitUsage},
		{"Failf", cli.Failf("open %s: %v", "rules.yaml", fs.ErrNotExist), cli.ExitFailure},
		{"ExitStatus(3)", cli.ExitStatus(3), 3},
		{"ExitStatus(0)", cli.ExitStatus(0), cli.ExitOK},
		{"ExitStatus(137)", cli.ExitStatus(137), 137},
		{"Error with 130", &cli.Error{Code: cli.ExitInterrupted, Err: context.Canceled}, cli.ExitInterrupted},
		{"wrapped Usagef", fmt.Errorf("load config: %w", cli.Usagef("unknown key %q", "foo")), cli.ExitUsage},
		{"twice wrapped Failf", fmt.Errorf("a: %w", fmt.Errorf("b: %w", cli.Failf("c"))), cli.ExitFailure},
		{"wrapped ExitStatus", fmt.Errorf("child: %w", cli.ExitStatus(42)), 42},
		{"joined Usagef", errors.Join(errors.New("first"), cli.Usagef("second")), cli.ExitUsage},
		{"plain error", errors.New("boom"), cli.ExitFailure},
		{"context.Canceled", context.Canceled, cli.ExitFailure},
		{"fs error", &fs.PathError{Op: "open", Path: "x", Err: fs.ErrPermission}, cli.ExitFailure},
		{"other ExitCode() type", codedErr(7), 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cli.ExitCode(tt.err); got != tt.want {
				t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

// codedErr is some other package's error that knows its exit code.
type codedErr int

func (c codedErr) Error() string { return "coded" }
func (c codedErr) ExitCode() int { return int(c) }

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"Usagef formats", cli.Usagef("bad --interval %q: %s", "x", "not a duration"), `bad --interval "x": not a duration`},
		{"Failf formats", cli.Failf("read %s: %v", "stdin", io.ErrUnexpectedEOF), "read stdin: unexpected EOF"},
		{"ExitStatus", cli.ExitStatus(3), "exit status 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.err.Error()); diff != "" {
				t.Errorf("Error() (-want +got):\n%s", diff)
			}
		})
	}
	// %w in Failf/Usagef keeps the cause reachable.
	err := cli.Failf("open %s: %w", "rules.yaml", fs.ErrNotExist)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Failf with %%w: errors.Is(ErrNotExist) = false")
	}
	var ce *cli.Error
	if !errors.As(err, &ce) || ce.ExitCode() != cli.ExitFailure {
		t.Errorf("Failf is not a *cli.Error with code 1: %#v", err)
	}
}

const usage = `Usage: sre-test [flags] TARGET

Example:
  sre-test --interval 2s nginx
`

func newFlags(out io.Writer) (*struct {
	interval time.Duration
	strict   bool
	name     string
}, func(args []string) error) {
	var o struct {
		interval time.Duration
		strict   bool
		name     string
	}
	fs := cli.NewFlagSet("sre-test", usage, out)
	fs.DurationVarP(&o.interval, "interval", "i", time.Second, "time between samples")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 on skipped lines")
	fs.StringVar(&o.name, "name", "", "a name")
	return &o, func(args []string) error { return cli.Parse(fs, args) }
}

func TestParse(t *testing.T) {
	var out strings.Builder
	o, parse := newFlags(&out)
	if err := parse([]string{"--interval", "250ms", "--strict", "--name=x", "nginx"}); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if o.interval != 250*time.Millisecond || !o.strict || o.name != "x" {
		t.Errorf("options = %+v", *o)
	}
	if out.Len() != 0 {
		t.Errorf("a good Parse printed %q", out.String())
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // fragments of the message
	}{
		{"unknown long flag", []string{"--bogus"}, []string{"bogus"}},
		{"unknown short flag", []string{"-z"}, []string{"-z"}},
		{"bad value", []string{"--interval", "soon"}, []string{"interval", "soon"}},
		{"bad short value", []string{"-i", "soon"}, []string{"interval", "soon"}},
		{"missing value", []string{"--interval"}, []string{"interval", "needs an argument"}},
		{"bad bool", []string{"--strict=maybe"}, []string{"strict", "maybe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			_, parse := newFlags(&out)
			err := parse(tt.args)
			if err == nil {
				t.Fatalf("Parse(%q) = nil, want an error", tt.args)
			}
			if got := cli.ExitCode(err); got != cli.ExitUsage {
				t.Errorf("ExitCode = %d, want %d", got, cli.ExitUsage)
			}
			for _, w := range append(tt.want, "see --help") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			// Main prints the error once; nothing else may reach stdout.
			if out.Len() != 0 {
				t.Errorf("Parse error printed to the usage writer: %q", out.String())
			}
		})
	}
}

func TestParseHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		t.Run(arg, func(t *testing.T) {
			var out strings.Builder
			_, parse := newFlags(&out)
			err := parse([]string{"--strict", arg})
			if !errors.Is(err, cli.ErrHelp) {
				t.Fatalf("Parse(%s) = %v, want ErrHelp", arg, err)
			}
			if got := cli.ExitCode(err); got != cli.ExitOK {
				t.Errorf("ExitCode = %d, want 0", got)
			}
			want := usage + `
Flags:
  -i, --interval duration     time between samples (default 1s)
      --strict[=true|false]   exit 1 on skipped lines
      --name string           a name
`
			if diff := cmp.Diff(want, out.String()); diff != "" {
				t.Errorf("usage (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	v := cli.Version()
	if strings.TrimSpace(v) == "" {
		t.Fatal("Version() is empty")
	}
	// The test binary has build info: a version, then the Go release.
	if !strings.HasSuffix(v, " "+runtime.Version()) {
		t.Errorf("Version() = %q, want it to end with the Go version %s", v, runtime.Version())
	}
	if strings.Contains(v, "(devel)") {
		t.Errorf("Version() = %q, want (devel) shown as devel", v)
	}
}

// captureMain runs cli.Main with os.Args and os.Stderr swapped out; Main is
// the one place that reads them. Not parallel-safe, so no t.Parallel.
func captureMain(t *testing.T, run cli.RunFunc, args ...string) (code int, stderr string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	oldArgs, oldErr := os.Args, os.Stderr
	os.Args, os.Stderr = append([]string{"sre-test"}, args...), f
	defer func() { os.Args, os.Stderr = oldArgs, oldErr }()
	code = cli.Main("sre-test", run)
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return code, string(b)
}

func TestMainExitAndMessage(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantCode   int
		wantStderr string
	}{
		{"success", nil, 0, ""},
		{"help", cli.ErrHelp, 0, ""},
		{"usage error", cli.Usagef("unknown flag: --bogus (see --help)"), 2, "sre-test: unknown flag: --bogus (see --help)\n"},
		{"failure", cli.Failf("open rules.yaml: %w", fs.ErrNotExist), 1, "sre-test: open rules.yaml: file does not exist\n"},
		{"plain error", errors.New("boom"), 1, "sre-test: boom\n"},
		{"exit status is silent", cli.ExitStatus(3), 3, ""},
		{"exit status 0 is silent", cli.ExitStatus(0), 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotArgs []string
			code, stderr := captureMain(t, func(ctx context.Context, std cli.IO, args []string) error {
				gotArgs = args
				if std.In == nil || std.Out == nil || std.Err == nil || std.Getenv == nil || std.Now == nil {
					t.Errorf("Main passed an incomplete IO: %+v", std)
				}
				if ctx.Err() != nil {
					t.Errorf("context already done: %v", ctx.Err())
				}
				return tt.err
			}, "--flag", "arg")
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d", code, tt.wantCode)
			}
			if diff := cmp.Diff(tt.wantStderr, stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"--flag", "arg"}, gotArgs); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
		})
	}
}

// Build is Version without the Go release, and a revision that is never
// empty: sre_build_info's labels.
func TestBuild(t *testing.T) {
	ver, rev := cli.Build()
	if ver == "" || strings.HasSuffix(ver, runtime.Version()) || !strings.HasPrefix(cli.Version(), ver+" ") {
		t.Errorf("Build() version %q against Version() %q", ver, cli.Version())
	}
	if rev == "" {
		t.Error("Build() revision is empty, want the VCS revision or unknown")
	}
}
