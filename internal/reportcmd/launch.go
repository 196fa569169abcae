package reportcmd

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/forensics"
)

// launcher opens an operator tool on the controlling terminal after a crash
// report (--launch). It is nil when there is no terminal: a pipeline under
// cron or systemd never starts anything.
type launcher struct {
	tty   *os.File
	tools []forensics.Tool
	warn  func(format string, args ...any)
}

func newLauncher(warn func(string, ...any)) *launcher {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		warn("--launch: no controlling terminal (%v): reports are written, nothing is opened", err)
		return nil
	}
	return &launcher{tty: tty, tools: forensics.Detect(exec.LookPath), warn: warn}
}

// pick chooses the fitting interactive tool: the container's or pod's own
// tool when the process ran in one, else a process viewer, else a pager on
// the report itself.
func (l *launcher) pick(ev *event.Event, reportPath string) (string, []string) {
	has := map[string]string{}
	for _, t := range l.tools {
		if t.Interactive {
			has[t.Name] = t.Path
		}
	}
	if p := ev.Process; p != nil {
		if p.PodUID != "" || p.Runtime == "kubepods" {
			if path, ok := has["k9s"]; ok {
				return path, nil
			}
		}
		if p.ContainerID != "" && p.Runtime == "docker" {
			if path, ok := has["lazydocker"]; ok {
				return path, nil
			}
		}
	}
	// A container sre-sample watches as a target (its process may be gone).
	if _, ok := ev.Detail["container_id"].(string); ok {
		if path, ok := has["lazydocker"]; ok {
			return path, nil
		}
	}
	for _, name := range []string{"htop", "btop"} {
		if path, ok := has[name]; ok {
			return path, nil
		}
	}
	if path, err := exec.LookPath("less"); err == nil {
		return path, []string{"--", reportPath}
	}
	return "", nil
}

// open runs the tool on the terminal and waits for the person to quit it;
// the stream waits meanwhile (records queue in the pipe, none is lost).
func (l *launcher) open(ev *event.Event, reportPath string) {
	if l == nil || ev.Type != "crash" {
		return
	}
	path, args := l.pick(ev, reportPath)
	if path == "" {
		l.warn("--launch: no operator tool found (htop, btop, lazydocker, k9s, less)")
		return
	}
	fmt.Fprintf(l.tty, "sre-report: %s crashed; opening %s (quit it to go on). Report: %s\r\n", ev.Target, path, reportPath)
	cmd := exec.Command(path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = l.tty, l.tty, l.tty
	if err := cmd.Run(); err != nil {
		l.warn("--launch: %s: %v", path, err)
	}
}
