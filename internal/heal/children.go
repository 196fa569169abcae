package heal

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/event"
)

// DefaultHold is how long a child that restart_process started is kept
// unreaped after it dies, at most, while the stream has not yet told its
// end. Its exit status lives in its zombie: sre-sample reads it from
// /proc/PID/stat, which it can only do before its parent — sre-heal —
// reaps it. The stream's crash event (or exit sample) for the child shows
// that the sampler has read it, and ends the hold at once; the ceiling is
// for a child no sampler watches. A zombie costs a PID slot, nothing else.
const DefaultHold = 10 * time.Second

// MaxHeld bounds the zombies held at once: past it, the oldest is reaped
// without waiting. It is far above what budgets and cooldowns let start
// within DefaultHold.
const MaxHeld = 256

// ChildExit is the end of a process restart_process started, as its parent
// sees it: the exact wait status.
type ChildExit struct {
	ID      event.Identity
	Rule    string
	EventID string
	Target  string
	Argv0   string
	Started time.Time
	At      time.Time
	// Code is the exit status of a normal exit; else Signal ends it.
	Code      *int
	Signal    syscall.Signal
	CoreDump  bool
	WaitError string // waitid failed: the status is unknown
}

// Status says in words how the child ended: "exit status 3", "killed by
// SIGKILL (core dumped)".
func (x ChildExit) Status() string {
	switch {
	case x.Code != nil:
		return "exit status " + strconv.Itoa(*x.Code)
	case x.Signal != 0:
		s := "killed by " + x.SignalName()
		if x.CoreDump {
			s += " (core dumped)"
		}
		return s
	}
	return "status unknown: " + x.WaitError
}

// SignalName is the name of the signal that ended the child (SIGKILL).
func (x ChildExit) SignalName() string {
	if n := unix.SignalName(x.Signal); n != "" {
		return n
	}
	return "SIG" + strconv.Itoa(int(x.Signal))
}

// Children keeps the processes restart_process started until their end is
// known downstream. Exits come out of Exits in the order they happened;
// Seen tells it the stream has shown a child's end. Safe for concurrent use.
type Children struct {
	Hold     time.Duration
	ProcRoot string
	// Max bounds the dead children held at once (0: MaxHeld).
	Max int

	mu     sync.Mutex
	kids   map[int]*kid // by pid: a held pid cannot be reused
	queue  []ChildExit
	notify chan struct{}
}

type kid struct {
	cmd    *exec.Cmd
	id     event.Identity
	seen   chan struct{}
	closed bool
	dead   bool
	deadAt time.Time
}

// NewChildren returns an empty set holding zombies up to hold.
func NewChildren(hold time.Duration, procRoot string) *Children {
	return &Children{Hold: hold, ProcRoot: procRoot, kids: map[int]*kid{}, notify: make(chan struct{}, 1)}
}

// Notify receives a value when exits are waiting in Exits.
func (c *Children) Notify() <-chan struct{} { return c.notify }

// Exits returns the exits not yet taken, oldest first.
func (c *Children) Exits() []ChildExit {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue
	c.queue = nil
	return q
}

// Held is the number of children known: running, or dead and held.
func (c *Children) Held() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.kids)
}

// Seen says the stream told the end of process id (a crash event or an exit
// sample): the sampler has read its status, so a held zombie may go. A
// child still running is reaped the moment it dies. Another process, or a
// pid with another start time, is ignored.
func (c *Children) Seen(id event.Identity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.kids[id.PID]
	if k == nil || k.id.StartTicks != 0 && id.StartTicks != 0 && k.id.StartTicks != id.StartTicks {
		return
	}
	k.release()
}

func (k *kid) release() {
	if !k.closed {
		k.closed = true
		close(k.seen)
	}
}

// start starts cmd and watches it: exited receives its end (buffered, so
// a start check that stopped listening never blocks the watcher). With c
// nil the child is reaped at once.
func (c *Children) start(cmd *exec.Cmd, j *Job) (<-chan ChildExit, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	x := ChildExit{ID: event.Identity{PID: pid}, Rule: j.Rule.Name, Argv0: cmd.Path, Started: time.Now()}
	if j.Event != nil {
		x.EventID, x.Target = j.Event.ID, j.Event.Target
	}
	root := j.ProcRoot
	if c != nil && c.ProcRoot != "" {
		root = c.ProcRoot
	}
	if root == "" {
		root = "/proc"
	}
	// The child is ours until reaped, so its stat is there, alive or dead.
	if b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "stat")); err == nil {
		x.ID.StartTicks, _, _ = parseStat(b)
	}
	k := &kid{cmd: cmd, id: x.ID, seen: make(chan struct{})}
	if c != nil {
		c.mu.Lock()
		c.kids[pid] = k
		c.mu.Unlock()
	}
	exited := make(chan ChildExit, 1)
	go c.watch(k, x, exited)
	return exited, nil
}

// watch waits for the child's death without reaping it, tells it, holds
// the zombie until the stream has shown its end (or Hold passed), then
// reaps it.
func (c *Children) watch(k *kid, x ChildExit, exited chan<- ChildExit) {
	waitExit(&x)
	x.At = time.Now()
	if c == nil {
		exited <- x
		_ = k.cmd.Wait()
		return
	}
	// Queued before the action hears of it: the action's end may be the
	// input's end, and what is queued by then is still told.
	c.mu.Lock()
	k.dead, k.deadAt = true, x.At
	c.queue = append(c.queue, x)
	c.evict()
	c.mu.Unlock()
	exited <- x
	select {
	case c.notify <- struct{}{}:
	default:
	}
	t := time.NewTimer(c.Hold)
	select {
	case <-k.seen:
	case <-t.C:
	}
	t.Stop()
	_ = k.cmd.Wait() // reaps; the status was read above
	c.mu.Lock()
	if c.kids[k.id.PID] == k {
		delete(c.kids, k.id.PID)
	}
	c.mu.Unlock()
}

// evict releases the oldest dead children past Max; c.mu is held.
func (c *Children) evict() {
	var dead []*kid
	for _, k := range c.kids {
		if k.dead && !k.closed {
			dead = append(dead, k)
		}
	}
	limit := c.Max
	if limit <= 0 {
		limit = MaxHeld
	}
	for len(dead) > limit {
		oldest := 0
		for i, k := range dead {
			if k.deadAt.Before(dead[oldest].deadAt) {
				oldest = i
			}
		}
		dead[oldest].release()
		dead = append(dead[:oldest], dead[oldest+1:]...)
	}
}

// waitExit blocks until the child has ended and fills in its status,
// leaving it a zombie (WNOWAIT): the kernel keeps the status for whoever
// reads /proc/PID/stat until the reap.
func waitExit(x *ChildExit) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, x.ID.PID, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			x.WaitError = err.Error()
			return
		}
		break
	}
	code, status := childStatus(&info)
	switch code {
	case cldExited:
		x.Code = &status
	case cldKilled, cldDumped:
		x.Signal, x.CoreDump = syscall.Signal(status), code == cldDumped
	default:
		x.WaitError = "waitid: unexpected si_code " + strconv.Itoa(int(code))
	}
}

// si_code of SIGCHLD (<asm-generic/siginfo.h>); x/sys does not name them.
const (
	cldExited = 1
	cldKilled = 2
	cldDumped = 3
)

// childStatus reads si_code and si_status of a SIGCHLD siginfo. x/sys
// leaves the union opaque; it starts after three int32s, aligned to a
// pointer, and holds si_pid, si_uid, then si_status.
func childStatus(info *unix.Siginfo) (code int32, status int) {
	const ptr = unsafe.Sizeof(uintptr(0))
	off := (12 + ptr - 1) &^ (ptr - 1)
	b := unsafe.Slice((*byte)(unsafe.Pointer(info)), unsafe.Sizeof(*info))
	return info.Code, int(int32(binary.NativeEndian.Uint32(b[off+8:])))
}
