package sampler

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/event"
)

// exitWatcher turns process deaths into messages the moment the kernel
// reports them: one pidfd per watched process, all in one epoll set served
// by one goroutine, so watching a thousand processes costs one thread.
type exitWatcher struct {
	epfd   int
	wakefd int
	mu     sync.Mutex
	byTok  map[int32]watchEntry
	byID   map[event.Identity]int32
	next   int32
	out    chan event.Identity
	quit   chan struct{}
	done   chan struct{}
	closed bool
}

type watchEntry struct {
	fd int
	id event.Identity
}

// errNoPidfd means the kernel (or a seccomp filter) refuses pidfd_open; the
// caller falls back to polling.
var errNoPidfd = errors.New("pidfd_open unsupported")

func newExitWatcher() (*exitWatcher, error) {
	// Probe with our own PID: ENOSYS (kernel < 5.3) or EPERM (seccomp) mean
	// polling is the only way.
	fd, err := unix.PidfdOpen(unix.Getpid(), 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoPidfd, err)
	}
	unix.Close(fd)
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: 0}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	w := &exitWatcher{
		epfd: epfd, wakefd: wakefd, next: 1,
		byTok: map[int32]watchEntry{}, byID: map[event.Identity]int32{},
		out:  make(chan event.Identity, 256),
		quit: make(chan struct{}), done: make(chan struct{}),
	}
	go w.loop()
	return w, nil
}

// Add starts watching id; gone reports that it had already ended (and been
// reaped), in which case nothing is watched.
//
// The PID is not checked again against id's start time after the pidfd is
// open: a process that died since the caller read /proc leaves a zombie,
// whose pidfd is ready at once, so its end is reported at once; and for the
// PID to belong to another process already, the PID space would have to
// wrap in between. Even then no wrong event follows: the next tick reads the
// PID's start time, reports id as ended ("reused") and drops this pidfd.
// Skipping that check halves the cost of watching a new process.
func (w *exitWatcher) Add(id event.Identity) (gone bool, err error) {
	fd, err := unix.PidfdOpen(id.PID, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return true, nil
		}
		return false, fmt.Errorf("pidfd_open %d: %w", id.PID, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		unix.Close(fd)
		return false, nil
	}
	tok := w.next
	w.next++
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: tok}
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		return false, fmt.Errorf("epoll_ctl add pidfd %d: %w", id.PID, err)
	}
	w.byTok[tok] = watchEntry{fd: fd, id: id}
	w.byID[id] = tok
	return false, nil
}

// Remove stops watching id (no message is sent for it).
func (w *exitWatcher) Remove(id event.Identity) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if tok, ok := w.byID[id]; ok {
		w.dropLocked(tok)
	}
}

func (w *exitWatcher) dropLocked(tok int32) {
	e := w.byTok[tok]
	_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, e.fd, nil)
	unix.Close(e.fd)
	delete(w.byTok, tok)
	delete(w.byID, e.id)
}

// Exits delivers the identity of each watched process that has died.
func (w *exitWatcher) Exits() <-chan event.Identity { return w.out }

func (w *exitWatcher) loop() {
	defer close(w.done)
	events := make([]unix.EpollEvent, 64)
	for {
		n, err := unix.EpollWait(w.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		var dead []event.Identity
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == 0 {
				continue
			}
			if e, ok := w.byTok[ev.Fd]; ok {
				dead = append(dead, e.id)
				w.dropLocked(ev.Fd)
			}
		}
		w.mu.Unlock()
		for _, id := range dead {
			select {
			case w.out <- id:
			case <-w.quit:
				return
			}
		}
	}
}

// Close stops the watcher and releases every pidfd.
func (w *exitWatcher) Close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	for tok := range w.byTok {
		w.dropLocked(tok)
	}
	w.mu.Unlock()
	close(w.quit)
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(w.wakefd, one[:])
	<-w.done
	unix.Close(w.epfd)
	unix.Close(w.wakefd)
}
