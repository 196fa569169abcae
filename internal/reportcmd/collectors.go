package reportcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/docker"
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
// it goes in the context report that follows, never holding the first up —
// except the Docker section of a container's own incident (split).
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

	env := docker.EnvFrom(std.Getenv)
	if o.DockerSock != "" {
		env.Host = "unix://" + o.DockerSock
	}
	var dockerAPI forensics.DockerAPI
	if dc, err := docker.New(env); err != nil {
		// A daemon we cannot address does not stop the stream: reports say so.
		fmt.Fprintf(std.Err, "%s: %v: reports will have no Docker section (give --docker-socket)\n", tool, err)
	} else {
		dockerAPI = dc
	}
	tools := forensics.NewToolsCollector(exec.LookPath)
	cache := versionCachePath(std)
	preloadVersions(std, tools, cache)
	first = []forensics.Entry{
		{Name: "log", Order: 10, Collector: logtail.NewCollector(followers, specs)},
	}
	slow = []forensics.Entry{
		{Name: "journal", Order: 20, Collector: logtail.NewJournalCollector(o.Journal, "journalctl")},
		{Name: "host", Order: 30, Collector: forensics.NewHostCollector("/proc", o.Disks)},
		{Name: "kernel", Order: 40, Collector: forensics.NewKernelCollector("/proc")},
		{Name: "docker", Order: 50, Collector: forensics.NewDockerCollector(dockerAPI, o.ContainerLogLines)},
		{Name: "pod", Order: 55, Collector: forensics.NewPodEvidenceCollector(forensics.FindSreKube(std.Getenv), o.Dir, o.ContainerLogLines)},
		{Name: "kubernetes", Order: 60, Collector: forensics.NewKubernetesCollector(forensics.FindSreKube(std.Getenv))},
		{Name: "tools", Order: 70, Collector: tools},
	}
	// Slow answers (gdb --version takes a quarter second) are read ahead of
	// the first report, so a report is not held up by them.
	stop = func() {
		for _, f := range followers {
			f.Stop()
		}
		saveVersions(tools, cache)
	}
	for _, e := range slow {
		if w, ok := e.Collector.(interface{ Warm(context.Context) }); ok {
			go func() {
				w.Warm(ctx)
				if e.Collector == tools {
					saveVersions(tools, cache)
				}
			}()
		}
	}
	return first, slow, stop, nil
}

// split is the collectors of the report written at once and of its context
// report for one incident. A container's own incident (a container target's
// crash, say) has its Docker section — inspect, and the last log lines of
// both streams — in the first report: they are the evidence of what
// happened, kept before anything (a restart policy, a heal rule, --rm) can
// take them, and one inspect and one logs call cost milliseconds.
//
// A pod's incident (sre-detect's pod events) has its evidence — the
// previous run's log and the pod's events, kept as files by sre-kube — in
// the first report likewise, within --collector-timeout: a restart, a
// rescheduling or sre-heal's restart_pod would take them.
func (st *filterState) split(inc *forensics.Incident) (first, slow []forensics.Entry) {
	own := ""
	switch {
	case inc.Event != nil && inc.Event.Detail["container_id"] != nil && forensics.ContainerOf(inc) != "":
		own = "docker"
	case podIncident(inc):
		own = "pod"
	default:
		return st.first, st.slow
	}
	first = append(first, st.first...)
	for _, e := range st.slow {
		if e.Name == own {
			// At the first report's own priority, not the context's.
			if y, ok := e.Collector.(yielding); ok {
				e.Collector = y.Collector
			}
			first = append(first, e)
		} else {
			slow = append(slow, e)
		}
	}
	return first, slow
}

func podIncident(inc *forensics.Incident) bool {
	ns, pod, _ := forensics.PodOf(inc)
	return ns != "" && pod != ""
}

// versioned is the tools collector's version cache.
type versioned interface {
	Preload(map[string]string) int
	Versions() map[string]string
}

// versionCachePath is where the tools' versions are kept between runs
// (they do not change per crash, and asking gdb takes a quarter second):
// $XDG_CACHE_HOME/sre-agent/tool-versions.json, else ~/.cache/…; "" when
// there is no such place.
func versionCachePath(std cli.IO) string {
	dir := std.Getenv("XDG_CACHE_HOME")
	if dir == "" {
		home := std.Getenv("HOME")
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".cache")
	}
	return filepath.Join(dir, "sre-agent", "tool-versions.json")
}

// preloadVersions fills the tools collector from the cache file; a file
// that is not what this writes is said on stderr and the versions are asked
// again.
func preloadVersions(std cli.IO, c forensics.Collector, path string) {
	v, ok := c.(versioned)
	if !ok || path == "" {
		return
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var m map[string]string
	switch {
	case err != nil:
		fmt.Fprintf(std.Err, "%s: tool version cache %s: %v: versions are asked again\n", tool, path, err)
		return
	case len(data) > 1<<20:
		err = fmt.Errorf("%d bytes, more than 1 MiB", len(data))
	default:
		err = json.Unmarshal(data, &m)
	}
	if err != nil {
		fmt.Fprintf(std.Err, "%s: tool version cache %s: not a JSON object of versions (%v): versions are asked again\n", tool, path, err)
		return
	}
	v.Preload(m)
}

// saveVersions writes the cache file (temp file and rename: a reader never
// sees half of it). Failing to is harmless: the versions are asked again.
func saveVersions(c forensics.Collector, path string) {
	v, ok := c.(versioned)
	if !ok || path == "" {
		return
	}
	data, err := json.Marshal(v.Versions())
	if err != nil || os.MkdirAll(filepath.Dir(path), 0o755) != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tool-versions-*.tmp")
	if err != nil {
		return
	}
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), path) != nil {
		os.Remove(tmp.Name())
	}
}

// contextNice is the nice value the context's collectors run at: what
// they fork (journalctl, dmesg, docker, kubectl) and their own /proc scans
// yield the CPU to the stream, so on a busy machine the next stage (the
// healer) reads the crash event without waiting behind them. Nice 10, not
// idle: they still run on a machine kept busy, within --collector-timeout.
const contextNice = 10

// yielding runs a context collector at contextNice.
type yielding struct{ forensics.Collector }

// Collect lowers the priority of the thread it runs on (on Linux a nice
// value is a thread's, and the processes it forks inherit it), then
// collects. The thread is never handed back to the runtime: it ends with
// this goroutine, so no other goroutine ever runs at the lowered priority.
// A priority already lower is kept (never raised, even as root); where it
// cannot be lowered the collector runs as it is.
func (y yielding) Collect(ctx context.Context, inc *forensics.Incident) (forensics.Section, error) {
	runtime.LockOSThread()
	tid := unix.Gettid()
	// The system call's answer is 20 - nice.
	if p, err := unix.Getpriority(unix.PRIO_PROCESS, tid); err == nil && 20-p < contextNice {
		_ = unix.Setpriority(unix.PRIO_PROCESS, tid, contextNice)
	}
	return y.Collector.Collect(ctx, inc)
}

// yieldingAll wraps every entry's collector in yielding.
func yieldingAll(entries []forensics.Entry) []forensics.Entry {
	out := make([]forensics.Entry, len(entries))
	for i, e := range entries {
		e.Collector = yielding{e.Collector}
		out[i] = e
	}
	return out
}
