// Package cli holds what every sre-* command shares: the IO it runs
// against, named exit codes, flag-set construction, signal handling and the
// version string. Only this package and the *cmd packages touch the process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

// Exit codes shared by all tools (DESIGN §5).
const (
	ExitOK          = 0   // success, EOF, or a clean stop on SIGINT/SIGTERM
	ExitFailure     = 1   // runtime failure, or a gate tripped
	ExitUsage       = 2   // usage or configuration error
	ExitInterrupted = 130 // interrupted before the work could finish cleanly
)

// IO is everything a command may use from the outside world. Commands take
// it as a value so tests drive them with buffers.
type IO struct {
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	Getenv func(string) string
	Now    func() time.Time
}

// Error carries an exit code with the message printed once by Main.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ExitCode reports the process exit status this error asks for.
func (e *Error) ExitCode() int { return e.Code }

// Usagef returns an error that exits 2: a bad flag, argument or config.
func Usagef(format string, args ...any) error {
	return &Error{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// Failf returns an error that exits 1: the work could not be done.
func Failf(format string, args ...any) error {
	return &Error{Code: ExitFailure, Err: fmt.Errorf(format, args...)}
}

// ExitStatus is returned by a command that wants a given exit status without
// printing anything (sre-sample's launch mode mirrors its child's status).
type ExitStatus int

func (s ExitStatus) Error() string { return fmt.Sprintf("exit status %d", int(s)) }

// ErrHelp is returned when -h/--help printed the usage, or --completion a
// script: exit 0.
var ErrHelp = pflag.ErrHelp

// ExitCode maps an error returned by a command to its exit status.
func ExitCode(err error) int {
	if err == nil || errors.Is(err, ErrHelp) {
		return ExitOK
	}
	var st ExitStatus
	if errors.As(err, &st) {
		return int(st)
	}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		return coded.ExitCode()
	}
	return ExitFailure
}

// RunFunc is the shape of every command: options parsed from args, streams
// from io, cancelled by ctx on SIGINT/SIGTERM.
type RunFunc func(ctx context.Context, io IO, args []string) error

// Main wires a command to the real process: stdin/stdout/stderr, the
// environment, the clock and the signals. It prints a returned error once as
// "tool: message" and returns the exit status for os.Exit.
func Main(tool string, run RunFunc) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// With SIGPIPE caught, a write to a closed stdout returns EPIPE, which the
	// ndjson writer turns into a quiet, clean stop instead of a signal death.
	// Notify rather than Ignore: an ignored signal would be inherited by the
	// children that launch mode and healing start.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)
	std := IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv, Now: time.Now}
	err := run(ctx, std, os.Args[1:])
	code := ExitCode(err)
	if err != nil && code != ExitOK && !isSilent(err) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", tool, err)
	}
	return code
}

func isSilent(err error) bool {
	var st ExitStatus
	return errors.As(err, &st)
}

// NewFlagSet returns a flag set that reports errors instead of exiting and
// prints usage (with examples) to out when -h/--help asks for it, so that
// `sre-x --help | less` works.
func NewFlagSet(tool, usage string, out io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(tool, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(out) // where Parse prints a --completion script
	fs.Usage = func() {
		fmt.Fprint(out, usage)
		fmt.Fprintln(out, "\nFlags:")
		fmt.Fprint(out, fs.FlagUsages())
	}
	return fs
}

// Parse parses args, mapping pflag's errors to usage errors that name the
// flag. `--completion SHELL` as the only arguments prints the shell's
// completion script for fs instead (completion.go) and returns ErrHelp.
func Parse(fs *pflag.FlagSet, args []string) error {
	if done, err := completion(fs, fs.Output(), args); done {
		return err
	}
	fs.SetOutput(io.Discard) // Main prints the error once
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		return ErrHelp // pflag has already called fs.Usage
	}
	if err != nil {
		return &Error{Code: ExitUsage, Err: fmt.Errorf("%w (see --help)", err)}
	}
	return nil
}

// version is set at link time by the Makefile from git describe
// (-ldflags "-X github.com/localsre/sre-agent/internal/cli.version=…"), so a
// build from a clone says which commit it is even where the go command does
// not stamp the VCS state (GOFLAGS=-buildvcs=false, a git worktree it cannot
// read, a build outside the checkout).
var version string

// Version is what --version prints after the tool's name: the version from
// git describe (set at link time), else the module version the go command
// stamped (go install …@v1.2.3, or from the VCS tag and commit), else the
// commit from the build's VCS settings, else "devel"; then the Go release.
func Version() string {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(version, bi)
}

// Build is the build's version (Version without the Go release) and the
// VCS revision it was built from ("unknown" where the build did not
// record one), for a build_info metric.
func Build() (ver, revision string) {
	bi, _ := debug.ReadBuildInfo()
	goVersion := runtime.Version()
	if bi != nil && bi.GoVersion != "" {
		goVersion = bi.GoVersion
	}
	ver = strings.TrimSuffix(versionOf(version, bi), " "+goVersion)
	revision = "unknown"
	if bi != nil {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				revision = s.Value
			}
		}
	}
	return ver, revision
}

func versionOf(linked string, bi *debug.BuildInfo) string {
	goVersion := runtime.Version()
	if bi != nil && bi.GoVersion != "" {
		goVersion = bi.GoVersion
	}
	if linked != "" {
		return linked + " " + goVersion
	}
	if bi == nil {
		return "devel " + goVersion
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v + " " + goVersion
	}
	var rev, at string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel " + goVersion
	}
	v := "devel+" + rev[:min(12, len(rev))]
	if modified {
		v += "-dirty"
	}
	if at != "" {
		v += " (" + at + ")"
	}
	return v + " " + goVersion
}

// IsTerminal reports whether w is a terminal: tables and colour go to a
// person, NDJSON to a pipe.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
