package forensics

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// command is one outside program a collector runs: argv with an absolute or
// looked-up program, under the collector's context, in its own process
// group (so a timeout kills its children too), with LC_ALL=C so that its
// messages are the English ones we recognise.
type command struct {
	argv []string
	env  []string            // added to the environment; nil: ours
	cred *syscall.Credential // tests run a program as another user
}

func (c command) cmd(ctx context.Context) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	cmd.Env = append(append(os.Environ(), "LC_ALL=C"), c.env...)
	cmd.Stdin = nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A grandchild holding our pipes open must not keep us waiting.
	cmd.WaitDelay = 200 * time.Millisecond
	return cmd
}

// output runs the command and returns at most max bytes of its stdout, and
// the first line of its stderr (bounded) for the error.
func (c command) output(ctx context.Context, max int) ([]byte, error) {
	var out, errb capped
	out.max, errb.max = max, 4096
	cmd := c.cmd(ctx)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.buf.Bytes(), c.wrap(ctx, err, errb.buf.Bytes())
}

// lines runs the command and hands fn each line of its stdout (cut to
// maxLine bytes), reading at most maxBytes; truncated says the limit was
// reached and the rest not read. stderr is its last meaningful line, which
// some programs write even when they succeed.
func (c command) lines(ctx context.Context, maxBytes int64, maxLine int, fn func(line []byte)) (truncated bool, stderr string, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var errb capped
	errb.max = 4096
	cmd := c.cmd(ctx)
	cmd.Stderr = &errb
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return false, "", err
	}
	if err := cmd.Start(); err != nil {
		return false, "", c.wrap(ctx, err, nil)
	}
	n, rerr := readLines(stdout, maxBytes, maxLine, fn)
	truncated = rerr == nil && n >= maxBytes
	if truncated {
		cancel() // enough: the rest is not read
	}
	werr := cmd.Wait()
	stderr = lastMeaningful(errb.buf.Bytes())
	if truncated {
		return true, stderr, nil
	}
	if werr == nil {
		werr = rerr
	}
	return false, stderr, c.wrap(ctx, werr, errb.buf.Bytes())
}

// wrap names the program in its error and carries its stderr, which says
// why far better than "exit status 1".
func (c command) wrap(ctx context.Context, err error, stderr []byte) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return &cmdError{prog: c.argv[0], err: ctx.Err()}
	}
	return &cmdError{prog: c.argv[0], err: err, stderr: lastMeaningful(stderr)}
}

// cmdError is a failed outside program.
type cmdError struct {
	prog   string
	err    error
	stderr string
}

func (e *cmdError) Error() string {
	if e.stderr != "" {
		return e.stderr
	}
	var ee *exec.ExitError
	if errors.As(e.err, &ee) {
		return e.prog + ": " + ee.String()
	}
	return e.err.Error()
}

func (e *cmdError) Unwrap() error { return e.err }

// lastMeaningful returns the last non-empty line of a program's stderr,
// where programs put their verdict (kubectl logs retries before it).
func lastMeaningful(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return truncate(l, 300)
		}
	}
	return ""
}

// readLines reads r line by line, cutting lines at maxLine bytes and
// stopping after maxBytes; it returns the bytes read. A final line without
// a newline counts.
func readLines(r io.Reader, maxBytes int64, maxLine int, fn func(line []byte)) (int64, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, maxBytes), max(maxLine, 16))
	var n int64
	long := false // inside a line already cut
	for {
		chunk, err := br.ReadSlice('\n')
		n += int64(len(chunk))
		if len(chunk) > 0 {
			if !long {
				fn(bytes.TrimRight(chunk, "\r\n"))
			}
			long = errors.Is(err, bufio.ErrBufferFull)
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return n, nil
		default:
			return n, err
		}
	}
}

// capped is a bytes.Buffer that keeps only its first max bytes.
type capped struct {
	buf bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
