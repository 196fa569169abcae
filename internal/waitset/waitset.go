package waitset

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/event"
)

// Set is everything one goroutine waits for, in one epoll set: the tick's
// timerfd, one pidfd per watched process, the exit poll's timerfd where
// pidfds are unavailable, and an eventfd through which other goroutines
// wake it (launch mode's child has ended, the run is cancelled). The set's
// own descriptor sits in the Go runtime's poller, so between ticks the
// waiting goroutine sleeps in the runtime's epoll_wait, and a tick wakes one
// thread, which runs the sampler at once.
//
// Why not time.Ticker, a goroutine per source and a select: the runtime's
// monitor thread (sysmon) wakes at every runtime timer's expiry, a timer's
// firing can wake a second thread to look for work, and each hand-over
// between goroutines is a trip through the scheduler. With caches cold
// after a second asleep, that costs as much as the /proc reads of a tick
// (bench/README.md has the figures).
type Set struct {
	file *os.File // the epoll descriptor, in the runtime's poller
	rc   syscall.RawConn
	epfd int

	mu     sync.Mutex // orders wake against close
	wakefd int        // eventfd; -1 once closed
	fired  atomic.Uint32

	timers [2]waitTimer // by Timer
	byTok  map[int32]watchEntry
	byID   map[event.Identity]int32
	next   int32
	events [64]unix.EpollEvent
	dead   []event.Identity

	// wait's answer, filled by collect.
	got       Wakeup
	err       error
	collectFn func(uintptr) bool
}

// Timer names one of the set's two periodic timers.
type Timer int32

const (
	Tick Timer = iota // the sampling tick
	Poll              // the exit poll, where pidfds are refused
)

// Tokens of the epoll set's members; pidfds count up from tokFirstPID.
const (
	tokTick = int32(Tick)
	tokPoll = int32(Poll)
	tokWake = int32(iota)
	tokFirstPID
)

// waitTimer is a periodic wake-up: a timerfd in the set, or, where
// timerfd_create is refused (a seccomp filter), a time.Ticker whose
// goroutine sets the timer's bit in fired and writes the eventfd.
type waitTimer struct {
	fd   int // the timerfd; -1 for none or a fallback
	stop func()
}

type watchEntry struct {
	fd int
	id event.Identity
}

// Wakeup says what ended a wait. Dead is valid until the next Wait.
type Wakeup struct {
	Tick  bool             // the Tick timer fired
	Poll  bool             // the Poll timer fired
	Woken bool             // another goroutine called Wake
	Dead  []event.Identity // watched processes that have ended
}

// New makes an empty set: no timer, no process watched. The caller owns it
// and ends with Close.
func New() (*Set, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := epollAdd(epfd, wakefd, tokWake); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, err
	}
	// A non-blocking descriptor given to os.NewFile joins the runtime's
	// poller; an epoll set is readable while any of its members is ready.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll set: %w", err)
	}
	f := os.NewFile(uintptr(epfd), "waitset")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll set: %w", err)
	}
	w := &Set{
		file: f, rc: rc, epfd: epfd, wakefd: wakefd,
		byTok: map[int32]watchEntry{}, byID: map[event.Identity]int32{},
		next: tokFirstPID,
	}
	for i := range w.timers {
		w.timers[i].fd = -1
	}
	return w, nil
}

func epollAdd(epfd, fd int, tok int32) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: tok}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// SetTimer makes timer t fire every d, from a timerfd where the kernel
// allows one and from a time.Ticker otherwise. Each timer is set once.
func (w *Set) SetTimer(t Timer, d time.Duration) {
	w.setTimer(int32(t), d)
}

func (w *Set) setTimer(tok int32, d time.Duration) {
	if fd, err := makeTimerfd(d); err == nil {
		if err := epollAdd(w.epfd, fd, tok); err == nil {
			w.timers[tok] = waitTimer{fd: fd}
			return
		}
		unix.Close(fd)
	}
	t := time.NewTicker(d)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-t.C:
				w.fired.Or(1 << tok)
				w.Wake()
			case <-quit:
				return
			}
		}
	}()
	w.timers[tok] = waitTimer{fd: -1, stop: func() { t.Stop(); close(quit); <-done }}
}

// makeTimerfd is newTimerfd; a test replaces it to see the fallback.
var makeTimerfd = newTimerfd

func newTimerfd(d time.Duration) (int, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return -1, err
	}
	ts := unix.NsecToTimespec(d.Nanoseconds())
	if err := unix.TimerfdSettime(fd, 0, &unix.ItimerSpec{Interval: ts, Value: ts}, nil); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// Wake ends the waiting goroutine's current or next Wait with Woken set.
// Any goroutine may call it, before or after close.
func (w *Set) Wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.wakefd < 0 {
		return
	}
	one := uint64(1)
	// Raw: an eventfd write cannot block short of 2^64-2 pending wakes.
	unix.RawSyscall(unix.SYS_WRITE, uintptr(w.wakefd), uintptr(unsafe.Pointer(&one)), 8)
}

// Wait returns once a timer has fired, a watched process has ended or wake
// was called: at once if any of that happened since the last Wait. One
// goroutine waits; the answer's Dead is valid until the next Wait.
func (w *Set) Wait() (Wakeup, error) {
	w.got, w.err = Wakeup{}, nil
	w.dead = w.dead[:0]
	if w.collectFn == nil {
		w.collectFn = w.collect // once: a method value made per call would be allocated per call
	}
	err := w.rc.Read(w.collectFn)
	if err == nil {
		err = w.err
	}
	w.got.Dead = w.dead
	return w.got, err
}

// collect takes what is ready in the set into w.got, and says whether
// there was anything. Raw, and never blocking: the runtime's poller does
// the waiting, and has rc.Read call collect again once the set is readable.
func (w *Set) collect(fd uintptr) bool {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&w.events[0])),
		uintptr(len(w.events)), 0, 0, 0)
	switch {
	case e == unix.EINTR:
		return false
	case e != 0:
		w.err = fmt.Errorf("epoll_pwait: %w", e)
		return true
	}
	r := &w.got
	for _, ev := range w.events[:n] {
		switch tok := ev.Fd; tok {
		case tokTick, tokPoll:
			drain(w.timers[tok].fd) // the count of expirations since the last read
			if tok == tokTick {
				r.Tick = true
			} else {
				r.Poll = true
			}
		case tokWake:
			drain(w.wakefd)
			r.Woken = true
			f := w.fired.Swap(0)
			r.Tick = r.Tick || f&(1<<tokTick) != 0
			r.Poll = r.Poll || f&(1<<tokPoll) != 0
		default:
			if e, ok := w.byTok[tok]; ok {
				w.dead = append(w.dead, e.id)
				w.drop(tok)
			}
		}
	}
	return n > 0
}

// drain reads a ready timerfd or eventfd, which resets it.
func drain(fd int) {
	var n [8]byte
	unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&n[0])), uintptr(len(n)))
}

// ErrNoPidfd means the kernel (or a seccomp filter) refuses pidfd_open; the
// caller falls back to polling.
var ErrNoPidfd = errors.New("pidfd_open unsupported")

// ProbePidfd says whether pidfd_open works here: ENOSYS (kernel < 5.3) or
// EPERM (seccomp) mean polling is the only way.
func ProbePidfd() error {
	fd, err := unix.PidfdOpen(unix.Getpid(), 0)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoPidfd, err)
	}
	unix.Close(fd)
	return nil
}

// Watch adds a pidfd for id to the set, whose end a later wait reports in
// dead; gone says it had already ended (and been reaped), in which case
// nothing is watched.
//
// The PID is not checked again against id's start time after the pidfd is
// open: a process that died since the caller read /proc leaves a zombie,
// whose pidfd is ready at once, so its end is reported at once; and for the
// PID to belong to another process already, the PID space would have to
// wrap in between. Even then no wrong event follows: the next tick reads the
// PID's start time, reports id as ended ("reused") and drops this pidfd.
// Skipping that check halves the cost of watching a new process.
func (w *Set) Watch(id event.Identity) (gone bool, err error) {
	fd, err := unix.PidfdOpen(id.PID, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return true, nil
		}
		return false, fmt.Errorf("pidfd_open %d: %w", id.PID, err)
	}
	tok := w.token()
	if err := epollAdd(w.epfd, fd, tok); err != nil {
		unix.Close(fd)
		return false, fmt.Errorf("pidfd %d: %w", id.PID, err)
	}
	w.byTok[tok] = watchEntry{fd: fd, id: id}
	w.byID[id] = tok
	return false, nil
}

// token is the next free token for a pidfd. Tokens wrap around rather
// than run into the timers' and the eventfd's: a month of watching a busy
// host's every new process can use two billion.
func (w *Set) token() int32 {
	for {
		tok := w.next
		if w.next == math.MaxInt32 {
			w.next = tokFirstPID
		} else {
			w.next++
		}
		if _, used := w.byTok[tok]; !used {
			return tok
		}
	}
}

// Unwatch stops watching id; no Wait reports it.
func (w *Set) Unwatch(id event.Identity) {
	if tok, ok := w.byID[id]; ok {
		w.drop(tok)
	}
}

// Watching is how many processes are watched.
func (w *Set) Watching() int { return len(w.byID) }

func (w *Set) drop(tok int32) {
	e := w.byTok[tok]
	_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, e.fd, nil)
	unix.Close(e.fd)
	delete(w.byTok, tok)
	delete(w.byID, e.id)
}

// Close releases every descriptor; a Wake after it does nothing, and so
// does a second Close.
func (w *Set) Close() {
	if w.file == nil {
		return
	}
	for _, t := range w.timers {
		if t.stop != nil {
			t.stop()
		}
		if t.fd >= 0 {
			unix.Close(t.fd)
		}
	}
	for tok := range w.byTok {
		w.drop(tok)
	}
	w.mu.Lock()
	unix.Close(w.wakefd)
	w.wakefd = -1
	w.mu.Unlock()
	w.file.Close()
	w.file = nil
}
