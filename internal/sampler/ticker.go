package sampler

import (
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ticker delivers the sampling ticks. Like time.Ticker it drops ticks for a
// slow receiver rather than queueing them.
type ticker struct {
	C    <-chan struct{}
	stop func()
}

func (t *ticker) Stop() { t.stop() }

// newTicker ticks every d from a timerfd that the Go runtime's network
// poller waits on, so no runtime timer exists while the sampler sleeps.
//
// Why not time.Ticker: the runtime's monitor thread (sysmon) also wakes at
// every runtime timer's expiry, and a timer's firing can wake a second
// thread to look for work. At a 10 ms interval those wake-ups cost more CPU
// than the /proc reads of a tick (three to five context switches per tick
// against one; bench/README.md has the figures). A timerfd wakes only the
// thread blocked in the poller, which then runs the sampler itself.
//
// Where timerfd_create is refused (a seccomp filter, a kernel before 2.6.25)
// it falls back to time.Ticker.
func newTicker(d time.Duration) *ticker {
	t, err := newTimerfdTicker(d)
	if err == nil {
		return t
	}
	return newRuntimeTicker(d)
}

// newRuntimeTicker is the fallback: a time.Ticker.
func newRuntimeTicker(d time.Duration) *ticker {
	tt := time.NewTicker(d)
	c := make(chan struct{}, 1)
	quit := make(chan struct{})
	go func() {
		for {
			select {
			case <-tt.C:
				select {
				case c <- struct{}{}:
				default:
				}
			case <-quit:
				return
			}
		}
	}()
	return &ticker{C: c, stop: func() { tt.Stop(); close(quit) }}
}

func newTimerfdTicker(d time.Duration) (*ticker, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	ts := unix.NsecToTimespec(d.Nanoseconds())
	if err := unix.TimerfdSettime(fd, 0, &unix.ItimerSpec{Interval: ts, Value: ts}, nil); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// A non-blocking fd given to os.NewFile joins the runtime's poller.
	f := os.NewFile(uintptr(fd), "timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	c := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var n [8]byte // the count of expirations since the last read
		for {
			err := rc.Read(func(fd uintptr) bool {
				// Raw: a read of a ready timerfd cannot block, and a
				// runtime-visible syscall would wake sysmon.
				_, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&n[0])), uintptr(len(n)))
				return e != unix.EAGAIN && e != unix.EINTR
			})
			if err != nil {
				return // closed by stop
			}
			select {
			case c <- struct{}{}:
			default:
			}
		}
	}()
	return &ticker{C: c, stop: func() { f.Close(); <-done }}, nil
}
