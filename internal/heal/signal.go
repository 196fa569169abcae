package heal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/localsre/sre-agent/internal/event"
)

// signalProcess sends the rule's signal to the event's process, only if
// the live process at that PID is the same one: (pid, start_ticks) from
// /proc/PID/stat must match the event's process, so a reused PID is never
// signalled.
type signalProcess struct{}

var _ Action = signalProcess{}

var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "TERM": syscall.SIGTERM,
	"KILL": syscall.SIGKILL, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "CONT": syscall.SIGCONT,
	"STOP": syscall.SIGSTOP,
}

func signalByName(s string) (syscall.Signal, bool) {
	sig, ok := signals[strings.TrimPrefix(strings.ToUpper(s), "SIG")]
	return sig, ok
}

func checkSignal(r *Rule) error {
	if err := noCommand(r); err != nil {
		return err
	}
	if _, ok := signalByName(r.Signal); !ok {
		return keyErrf("signal", "signal %q: want one of HUP INT QUIT TERM KILL USR1 USR2 CONT STOP", r.Signal)
	}
	return nil
}

// ErrReused means the PID now belongs to another process.
var ErrReused = errors.New("pid reused")

func (signalProcess) Do(_ context.Context, j *Job) Outcome {
	sig, _ := signalByName(j.Rule.Signal)
	name := "SIG" + strings.TrimPrefix(strings.ToUpper(j.Rule.Signal), "SIG")
	p := j.Event.Process
	if p == nil || p.PID <= 0 {
		return Outcome{Result: event.ResultSkipped, Err: "event has no process to signal"}
	}
	o := Outcome{Argv: []string{"kill", "-" + strings.TrimPrefix(name, "SIG"), strconv.Itoa(p.PID)}}
	o.Desc = fmt.Sprintf("would send %s to pid %d", name, p.PID)
	if err := sameProcess(j.ProcRoot, p.PID, p.StartTicks); err != nil {
		o.Result, o.Err = event.ResultSkipped, err.Error()
		return o
	}
	if !j.Apply {
		o.Result = event.ResultPlanned
		return o
	}
	o.Desc = fmt.Sprintf("sent %s to pid %d", name, p.PID)
	if err := syscall.Kill(p.PID, sig); err != nil {
		o.Result, o.Err = event.ResultFailed, fmt.Sprintf("kill %d: %v", p.PID, err)
		return o
	}
	o.PID, o.Result = p.PID, event.ResultOK
	return o
}

// sameProcess checks that pid is alive and started at startTicks.
func sameProcess(procRoot string, pid int, startTicks uint64) error {
	if procRoot == "" {
		procRoot = "/proc"
	}
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return fmt.Errorf("pid %d: gone", pid)
	}
	ticks, state, err := parseStat(b)
	if err != nil {
		return fmt.Errorf("pid %d: %v", pid, err)
	}
	if ticks != startTicks {
		return fmt.Errorf("%w: pid %d started at tick %d, the event's process at %d", ErrReused, pid, ticks, startTicks)
	}
	if state == "Z" || state == "X" {
		return fmt.Errorf("pid %d: already dead (state %s)", pid, state)
	}
	return nil
}

// parseStat returns starttime (field 22) and state (field 3) of
// /proc/PID/stat text; the command name may hold spaces and parentheses.
func parseStat(b []byte) (uint64, string, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, "", errors.New("stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, "", errors.New("stat: too few fields")
	}
	t, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("stat: starttime %q: %v", f[19], err)
	}
	return t, f[0], nil
}
