package heal

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// restartProcess starts the rule's command again, detached: its own
// session, stdin from /dev/null, stdout and stderr appended to the rule's
// log. It outlives sre-heal. Still alive after start_check_seconds: ok.
type restartProcess struct{}

var _ Action = restartProcess{}

func (restartProcess) Do(ctx context.Context, j *Job) Outcome {
	argv := j.Expand(j.Rule.Command)
	o := Outcome{Argv: argv, Desc: "would run: " + quoteArgv(argv)}
	if !j.Apply {
		o.Result = event.ResultPlanned
		return o
	}
	o.Desc = "ran: " + quoteArgv(argv)
	pid, exited, err := startDetached(j, argv)
	if err != nil {
		o.Result, o.Err = event.ResultFailed, err.Error()
		return o
	}
	o.PID = pid
	select {
	case x := <-exited:
		o.Result = event.ResultFailed
		o.Err = fmt.Sprintf("exited within start check (%v): %s", j.Rule.StartCheck, x.Status())
	case <-time.After(j.Rule.StartCheck):
		o.Result = event.ResultOK
	case <-ctx.Done():
		o.Result = event.ResultOK
		o.Err = "start check cut short: sre-heal is stopping"
	}
	return o
}

// startDetached starts argv in its own session; j.Children watches it
// and reaps it (at once when j.Children is nil). exited receives its end.
func startDetached(j *Job, argv []string) (int, <-chan ChildExit, error) {
	out, err := openLog(j.Rule.Log)
	if err != nil {
		return 0, nil, err
	}
	defer out.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = j.Rule.Cwd
	cmd.Env = j.env()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	exited, err := j.Children.start(cmd, j)
	if err != nil {
		return 0, nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	return cmd.Process.Pid, exited, nil
}

// openLog opens the log to append to, or /dev/null.
func openLog(path string) (*os.File, error) {
	if path == "" {
		return os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("log: %w", err)
	}
	return f, nil
}
