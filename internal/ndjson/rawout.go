package ndjson

import (
	"io"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pipeBuf is PIPE_BUF: a pipe write of at most this many bytes is atomic,
// and cannot block once poll has reported the pipe writable.
const pipeBuf = 4096

// DirectWriter returns a writer to w that, when w is a pipe, a regular file
// or /dev/null, writes each line with one raw write(2) whenever that cannot
// block: always for a file or /dev/null, and for a pipe when the line fits
// in PIPE_BUF and the pipe has room. Anything else (a terminal, a socket, a
// full pipe, a long line) goes through w's own Write.
//
// Whether a pipe has room is asked of the write itself: pwritev2 with
// RWF_NOWAIT fails with EAGAIN rather than wait, and writes a line of at
// most PIPE_BUF whole or not at all. Where the kernel does not take
// RWF_NOWAIT for pipes (EOPNOTSUPP), poll(2) asks first.
//
// For a tool that writes a line every few milliseconds and otherwise sleeps,
// this is the difference between one context switch per line and three: a
// write through the runtime wakes its monitor thread (sysmon) from its idle
// sleep, which then polls for a millisecond before sleeping again.
//
// A closed pipe gives syscall.EPIPE, which the Writer turns into ErrClosed.
func DirectWriter(w io.Writer) io.Writer {
	f, ok := w.(*os.File)
	if !ok {
		return w
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return w
	}
	d := &directWriter{f: f, fd: f.Fd()}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO:
		d.pipe = true
	case unix.S_IFREG:
	case unix.S_IFCHR:
		if uint64(st.Rdev) != unix.Mkdev(1, 3) { // /dev/null
			return w
		}
	default:
		return w
	}
	return d
}

type directWriter struct {
	f         *os.File
	fd        uintptr
	pipe      bool
	pollFirst bool // the pipe refuses RWF_NOWAIT: poll for room first
}

func (d *directWriter) Write(b []byte) (int, error) {
	if len(b) == 0 || d.pipe && (len(b) > pipeBuf || d.pollFirst && !d.roomy()) {
		return d.f.Write(b)
	}
	var n uintptr
	var e unix.Errno
	if d.pipe && !d.pollFirst {
		iov := unix.Iovec{Base: &b[0]}
		iov.SetLen(len(b))
		// Offset -1 (its low and high halves, for 32-bit kernels): the
		// pipe's own position, as write(2).
		n, _, e = unix.RawSyscall6(unix.SYS_PWRITEV2, d.fd, uintptr(unsafe.Pointer(&iov)), 1, ^uintptr(0), ^uintptr(0), unix.RWF_NOWAIT)
		if e == unix.EOPNOTSUPP || e == unix.ENOSYS || e == unix.EINVAL {
			d.pollFirst = true // a kernel without RWF_NOWAIT for pipes (or pwritev2)
			return d.Write(b)
		}
	} else {
		n, _, e = unix.RawSyscall(unix.SYS_WRITE, d.fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	}
	switch {
	case e == 0 && int(n) == len(b):
		return len(b), nil
	case e == unix.EPIPE:
		return 0, syscall.EPIPE
	case e != 0:
		n = 0 // EAGAIN (a full pipe, a non-blocking descriptor), EINTR, ENOSPC…: let the file wait or say
	}
	m, err := d.f.Write(b[n:])
	return int(n) + m, err
}

// roomy reports whether the pipe can take PIPE_BUF bytes without blocking.
func (d *directWriter) roomy() bool {
	fds := [1]unix.PollFd{{Fd: int32(d.fd), Events: unix.POLLOUT}}
	var zero unix.Timespec // ppoll, not poll: arm64 has no poll(2)
	n, _, e := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), 1, uintptr(unsafe.Pointer(&zero)), 0, 0, 0)
	return e == 0 && n == 1 && fds[0].Revents&unix.POLLOUT != 0
}
