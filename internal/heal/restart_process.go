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
	case err := <-exited:
		o.Result = event.ResultFailed
		o.Err = fmt.Sprintf("exited within start check (%v): %v", j.Rule.StartCheck, exitText(err))
	case <-time.After(j.Rule.StartCheck):
		o.Result = event.ResultOK
	case <-ctx.Done():
		o.Result = event.ResultOK
		o.Err = "start check cut short: sre-heal is stopping"
	}
	return o
}

// startDetached starts argv in its own session and reaps it in the
// background; exited receives its end (buffered, never blocks the reaper).
func startDetached(j *Job, argv []string) (int, <-chan error, error) {
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
	if err := cmd.Start(); err != nil {
		return 0, nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
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

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
