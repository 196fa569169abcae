package reportcmd

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/forensics"
	"github.com/localsre/sre-agent/internal/logtail"
)

// collectors is the one table of evidence collectors, in report order. Log
// followers start here, at start-up, so a report holds the lines written
// before the crash even if the log was rotated or removed since. The
// returned stop ends them.
//
// first is what is known at once (the log tail, kept in memory): it goes in
// the report written the moment the event arrives. slow is the context that
// asks the system (journal, /proc scan, dmesg, Docker, Kubernetes, tools):
// it goes in the context report that follows, never holding the first up.
func collectors(ctx context.Context, std cli.IO, o *Options) (first, slow []forensics.Entry, stop func(), err error) {
	specs, err := logtail.ParseSpecs(o.Logs)
	if err != nil {
		return nil, nil, nil, cli.Usagef("--log: %v", err)
	}
	followers := logtail.NewFollowers(specs, o.LogLines)
	for i, f := range followers {
		// A log that is missing or unreadable now is followed once it
		// appears; only a path that can never be a log is refused.
		if err := f.Start(ctx); err != nil {
			for _, g := range followers[:i] {
				g.Stop()
			}
			return nil, nil, nil, cli.Usagef("--log %s: %v", f.Path(), err)
		}
		for _, ev := range f.Snapshot().Events {
			if ev.Kind == logtail.Unreadable || ev.Kind == logtail.Missing {
				fmt.Fprintf(std.Err, "%s: --log %s: %s (reports will say so)\n", tool, f.Path(), ev.Detail)
			}
		}
	}
	stop = func() {
		for _, f := range followers {
			f.Stop()
		}
	}
	docker := o.DockerSock
	if docker == "" {
		if docker, err = forensics.DockerSocket(std.Getenv("DOCKER_HOST")); err != nil {
			// A TCP or SSH daemon is not ours to reach: reports say so.
			fmt.Fprintf(std.Err, "%s: DOCKER_HOST: %v: reports will have no Docker section (give --docker-socket)\n", tool, err)
			docker = ""
		}
	}
	kubectl, _ := exec.LookPath("kubectl")
	first = []forensics.Entry{
		{Name: "log", Order: 10, Collector: logtail.NewCollector(followers, specs)},
	}
	slow = []forensics.Entry{
		{Name: "journal", Order: 20, Collector: logtail.NewJournalCollector(o.Journal, "journalctl")},
		{Name: "host", Order: 30, Collector: forensics.NewHostCollector("/proc", o.Disks)},
		{Name: "kernel", Order: 40, Collector: forensics.NewKernelCollector("/proc")},
		{Name: "docker", Order: 50, Collector: forensics.NewDockerCollector(docker)},
		{Name: "kubernetes", Order: 60, Collector: forensics.NewKubernetesCollector(kubectl)},
		{Name: "tools", Order: 70, Collector: forensics.NewToolsCollector(exec.LookPath)},
	}
	// Slow answers (gdb --version takes a quarter second) are read ahead of
	// the first report, so a report is not held up by them.
	for _, e := range slow {
		if w, ok := e.Collector.(interface{ Warm(context.Context) }); ok {
			go w.Warm(ctx)
		}
	}
	return first, slow, stop, nil
}
