package service

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Stage is one tool of the chain.
type Stage struct {
	Name string // sre-sample, sre-detect, …
	Path string
	Args []string
}

// Exit is how a stage ended.
type Exit struct {
	Stage string
	At    time.Time
	Err   error // from Wait: nil for status 0
}

// Code is the stage's exit status, -1 when a signal ended it.
func (e Exit) Code() int {
	var ee *exec.ExitError
	if errors.As(e.Err, &ee) {
		return ee.ExitCode()
	}
	if e.Err == nil {
		return 0
	}
	return -1
}

// Killed reports whether someone else ended the stage: SIGKILL, SIGTERM,
// SIGINT or SIGHUP, rather than its own exit or crash.
func (e Exit) Killed() bool {
	var ee *exec.ExitError
	if errors.As(e.Err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			switch ws.Signal() {
			case syscall.SIGKILL, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP:
				return true
			}
		}
	}
	return false
}

func (e Exit) String() string {
	var ee *exec.ExitError
	if errors.As(e.Err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("%s was killed by %s", e.Stage, sigName(ws.Signal()))
		}
		return fmt.Sprintf("%s exited with status %d", e.Stage, ee.ExitCode())
	}
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Stage, e.Err)
	}
	return e.Stage + " exited"
}

func sigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGSEGV:
		return "SIGSEGV"
	case syscall.SIGABRT:
		return "SIGABRT"
	case syscall.SIGPIPE:
		return "SIGPIPE"
	}
	return fmt.Sprintf("signal %d", int(s))
}

// Chain is the stages running, each reading the one before: the output of
// the last is Out.
type Chain struct {
	cmds  []*exec.Cmd
	names []string
	Out   io.ReadCloser
	// Exits receives each stage's end, in the order they come.
	Exits chan Exit
	waits chan struct{} // closed when every stage has been waited for
}

// StartChain starts stages joined by pipes. stderr hears each line a stage
// writes on its standard error.
func StartChain(stages []Stage, stderr func(stage, line string)) (*Chain, error) {
	c := &Chain{Exits: make(chan Exit, len(stages)), waits: make(chan struct{})}
	var in io.Reader // the first stage reads nothing
	fail := func(err error) (*Chain, error) {
		if f, ok := in.(*os.File); ok {
			f.Close()
		}
		for _, cmd := range c.cmds {
			cmd.Process.Kill()
			cmd.Wait()
		}
		return nil, err
	}
	for i, s := range stages {
		cmd := exec.Command(s.Path, s.Args...)
		cmd.Stdin = in
		if in == nil {
			cmd.Stdin = nil // /dev/null
		}
		r, w, err := os.Pipe()
		if err != nil {
			return fail(err)
		}
		cmd.Stdout = w
		er, ew, err := os.Pipe()
		if err != nil {
			r.Close()
			w.Close()
			return fail(err)
		}
		cmd.Stderr = ew
		// Each stage in its own process group: a terminal's Ctrl-C or a
		// signal to the agent's group does not reach the stages; the
		// agent stops them in order.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
		if err := cmd.Start(); err != nil {
			r.Close()
			w.Close()
			er.Close()
			ew.Close()
			return fail(fmt.Errorf("start %s: %w", s.Name, err))
		}
		w.Close()
		ew.Close()
		if f, ok := in.(*os.File); ok {
			f.Close() // the stage holds its own copy
		}
		name := s.Name
		go func() {
			sc := bufio.NewScanner(er)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				stderr(name, sc.Text())
			}
			er.Close()
		}()
		c.cmds = append(c.cmds, cmd)
		c.names = append(c.names, s.Name)
		if i == len(stages)-1 {
			c.Out = r
		} else {
			in = r
		}
	}
	var pending = len(c.cmds)
	done := make(chan struct{}, pending)
	for i, cmd := range c.cmds {
		go func() {
			err := cmd.Wait()
			c.Exits <- Exit{Stage: c.names[i], At: time.Now(), Err: err}
			done <- struct{}{}
		}()
	}
	go func() {
		for range pending {
			<-done
		}
		close(c.waits)
	}()
	return c, nil
}

// PIDs returns the stages' process ids, by stage name.
func (c *Chain) PIDs() map[string]int {
	m := map[string]int{}
	for i, cmd := range c.cmds {
		if cmd.Process != nil {
			m[c.names[i]] = cmd.Process.Pid
		}
	}
	return m
}

// Stop ends the chain in order: SIGTERM to the first stage, so the stream
// ends and each stage after it flushes what it holds (sre-report its
// reports and archive, fsync'd) and exits at the end of its input. What is
// still running after grace is killed. Stop returns when every stage has
// been waited for.
func (c *Chain) Stop(grace time.Duration) {
	if len(c.cmds) > 0 && c.cmds[0].Process != nil {
		c.cmds[0].Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-c.waits:
		return
	case <-time.After(grace):
	}
	c.kill()
	<-c.waits
}

// Abort ends every stage at once (SIGTERM to all, SIGKILL after grace): a
// chain with a stage lost has nothing to flush in order.
func (c *Chain) Abort(grace time.Duration) {
	for _, cmd := range c.cmds {
		if cmd.Process != nil {
			cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	select {
	case <-c.waits:
		return
	case <-time.After(grace):
	}
	c.kill()
	<-c.waits
}

func (c *Chain) kill() {
	for _, cmd := range c.cmds {
		if cmd.Process != nil {
			cmd.Process.Kill()
		}
	}
}

// Describe is the chain as a shell would write it, for a log line.
func Describe(stages []Stage) string {
	parts := make([]string, len(stages))
	for i, s := range stages {
		parts[i] = strings.Join(append([]string{s.Name}, s.Args...), " ")
	}
	return strings.Join(parts, " | ")
}

// lookPath finds a tool on PATH, with an error that says where to get it.
func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("not found beside sre-agent nor on PATH (make install puts every sre-* tool in one place)")
	}
	return p, nil
}
