// Package agentcmd is the sre-agent command: one watch, from its config
// file, run as a service (systemd's Type=notify, watchdog and journal) or
// in a shell.
package agentcmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/service"
)

const tool = "sre-agent"

const usage = `sre-agent — one watch, kept running: sre-sample | sre-detect | sre-report [| sre-heal]
from a config file, as a systemd service or in a shell.

Usage:
  sre-agent --config FILE [--name NAME] [--journal auto|always|never] [--output auto|ndjson|none]
  sre-agent --config FILE --check

The config (YAML) says what to watch, the logs to tail, the report
directory and, optionally, sre-detect's settings and sre-heal's rules (a dry
run unless it says apply: true); see docs/service.md. The chain starts
again, with backoff, when one of its stages is lost; the time it was not
watching is recorded in the archive (a watch_gap notice).

Under systemd (Type=notify) it says READY=1 once the first sample went
through every stage, keeps STATUS= to what it watches and the last event,
pings the watchdog while records flow (a hung stage stops the pings, and
systemd restarts the service), and says STOPPING=1 on SIGTERM, then stops
the chain in order so that every event is flushed and fsync'd. When stderr
is the journal, its lines carry their priority and each event is also a
journal entry with SRE_EVENT_ID, SRE_EVENT_TYPE, SRE_TARGET, SRE_REPORT,
SRE_PID and SRE_WATCH fields:

  journalctl SRE_EVENT_TYPE=crash -o json

The report directory is the config's dir:, else $STATE_DIRECTORY (what
systemd's StateDirectory= makes), else ./sre_reports. The tools are found
beside sre-agent, else on PATH.

Examples:
  sre-agent --config /etc/sre-agent/demo.yaml --check
  sre-agent --config demo.yaml                      # in a shell: the records on stdout
  systemctl enable --now sre-agent@demo             # /etc/sre-agent/demo.yaml
`

type options struct {
	config, name, journal, output string
	check, version                bool
}

// Run runs sre-agent.
func Run(ctx context.Context, std cli.IO, args []string) error {
	var o options
	fs := cli.NewFlagSet(tool, usage, std.Out)
	fs.StringVar(&o.config, "config", "", "the watch's config `FILE` (YAML)")
	fs.StringVar(&o.name, "name", "", "the watch's name in logs, notices and journal entries (default: the config file's name)")
	fs.StringVar(&o.journal, "journal", "auto", "events as journal entries too: auto (when stderr is the journal), always, never")
	fs.StringVar(&o.output, "output", "auto", "the records at the end of the chain on stdout: auto (ndjson unless stderr is the journal), ndjson, none")
	fs.BoolVar(&o.check, "check", false, "check the config and the tools, print the chain, and exit")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if o.version {
		fmt.Fprintf(std.Out, "%s %s\n", tool, cli.Version())
		return nil
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if o.config == "" {
		return cli.Usagef("--config: missing (the watch's YAML file)")
	}
	switch o.journal {
	case "auto", "always", "never":
	default:
		return cli.Usagef("--journal %q: want auto, always or never", o.journal)
	}
	switch o.output {
	case "auto", "ndjson", "none":
	default:
		return cli.Usagef("--output %q: want auto, ndjson or none", o.output)
	}
	if o.name == "" {
		o.name = strings.TrimSuffix(strings.TrimSuffix(filepath.Base(o.config), ".yaml"), ".yml")
	}
	defDir := "sre_reports"
	if sd := std.Getenv("STATE_DIRECTORY"); sd != "" {
		defDir = strings.Split(sd, ":")[0]
	}
	cfg, err := service.LoadConfig(o.config, defDir)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	journalErr := service.JournalIsStderr()
	var mu sync.Mutex
	logLine := func(prio int, line string) {
		mu.Lock()
		defer mu.Unlock()
		if journalErr {
			fmt.Fprintf(std.Err, "<%d>%s: %s\n", prio, tool, line)
			return
		}
		fmt.Fprintf(std.Err, "%s: %s\n", tool, line)
	}
	stageLine := func(prio int, line string) {
		mu.Lock()
		defer mu.Unlock()
		if journalErr {
			fmt.Fprintf(std.Err, "<%d>%s\n", prio, line)
			return
		}
		fmt.Fprintln(std.Err, line)
	}
	bin := ""
	if exe, err := os.Executable(); err == nil {
		bin = filepath.Dir(exe)
	}
	opts := service.Options{Name: o.name, Config: cfg, Bin: bin, Log: logLine, StageLog: stageLine, Notifier: service.Systemd{},
		Watchdog: service.Watchdog(), Now: std.Now}
	if o.journal == "always" || o.journal == "auto" && journalErr {
		if !service.JournalAvailable() && o.journal == "always" {
			return cli.Failf("--journal always: the journal's socket does not answer")
		}
		opts.Journal = service.Systemd{}
	}
	if o.output == "ndjson" || o.output == "auto" && !journalErr {
		opts.Out = std.Out
	}
	a, err := service.New(opts)
	if err != nil {
		return cli.Failf("%v", err)
	}
	defer a.Close()
	if o.check {
		fmt.Fprintf(std.Out, "%s: watches %s every %s into %s\n%s\n", o.name, cfg.Watch.What(), cfg.Interval, cfg.Dir, service.Describe(a.Stages()))
		return nil
	}
	err = a.Run(ctx)
	if errors.Is(err, service.ErrUsage) {
		return cli.Usagef("%v", err)
	}
	if err != nil {
		return cli.Failf("%v", err)
	}
	return nil
}
