package heal

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/localsre/sre-agent/internal/event"
)

// runCommand runs the rule's argv (a notifier, a cleanup) and waits for it,
// at most timeout_seconds; exit status 0 is ok. Its output goes to the
// rule's log, never into the record stream.
type runCommand struct{}

var _ Action = runCommand{}

func (runCommand) Do(ctx context.Context, j *Job) Outcome {
	argv := j.Expand(j.Rule.Command)
	return runArgv(ctx, j, argv)
}

// runArgv runs argv to completion for run and systemd_restart.
func runArgv(ctx context.Context, j *Job, argv []string) Outcome {
	o := Outcome{Argv: argv, Desc: "would run: " + quoteArgv(argv)}
	if !j.Apply {
		o.Result = event.ResultPlanned
		return o
	}
	o.Desc = "ran: " + quoteArgv(argv)
	out, err := openLog(j.Rule.Log)
	if err != nil {
		o.Result, o.Err = event.ResultFailed, err.Error()
		return o
	}
	defer out.Close()
	ctx, cancel := context.WithTimeout(ctx, j.Rule.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = j.Rule.Cwd
	cmd.Env = j.env()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		o.Result, o.Err = event.ResultFailed, fmt.Sprintf("start %s: %v", argv[0], err)
		return o
	}
	o.PID = cmd.Process.Pid
	if err := cmd.Wait(); err != nil {
		o.Result = event.ResultFailed
		o.Err = err.Error()
		if ctx.Err() != nil {
			o.Err = fmt.Sprintf("timed out after %v", j.Rule.Timeout)
		}
		return o
	}
	o.Result = event.ResultOK
	return o
}
