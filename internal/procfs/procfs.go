package procfs

import (
	"io/fs"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reader reads /proc and /sys files into one reusable buffer: each slice
// it returns is valid until its next read. It keeps files open across
// reads (see Keep) only when its roots are the real /proc and /sys, and
// only within a budget of descriptors. A Reader is used by one goroutine.
type Reader struct {
	buf  []byte
	real bool // the roots are the real /proc and /sys
	left int  // how many more files may be kept open
}

// NewReader returns a Reader for files under procRoot and sysRoot that
// keeps at most budget files open (see Budget). With a fixture tree as
// either root nothing is kept open: tests rewrite fixture files while the
// reader runs, and a kept descriptor would read a replaced file's old
// contents.
func NewReader(procRoot, sysRoot string, budget int) *Reader {
	return &Reader{real: procRoot == "/proc" && sysRoot == "/sys", left: budget}
}

// Budget is how many files a Reader may keep open: a quarter of the
// open-file limit (which Go raises to the hard limit at start-up), so that
// the descriptors left for reads and exit watching never run out.
func Budget() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == unix.RLIM_INFINITY {
		return 1024
	}
	return int(min(lim.Cur/4, 1<<20))
}

// Left is how many more files may be kept open.
func (r *Reader) Left() int { return r.left }

// Read reads a whole /proc or /sys file into the reader's buffer: open,
// read until 0, close -- no fstat, no poller registration, no allocation.
//
// The calls are raw (no entersyscall): kernel-generated files of /proc and
// /sys answer at once, and a Go syscall after an idle period wakes the
// runtime's sysmon into its 20µs polling loop, which at a 10ms tick costs
// more than the reads themselves. Only for files that cannot block: never
// cmdline/environ (mmap lock, see ReadWaiting) nor user-given paths
// (statfs of NFS).
func (r *Reader) Read(path string) ([]byte, error) {
	fd, err := openRaw(path, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer closeRaw(fd)
	return r.readAll(path, false, func(b []byte, _ int) (int, unix.Errno) {
		n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		return int(n), e
	})
}

// ReadWaiting reads a /proc file that may make the reader wait, such as
// /proc/PID/cmdline (which takes the process's mmap lock), into the
// reader's buffer: open, read until 0, close, as runtime-visible syscalls
// so a wait does not hold up the runtime. os.ReadFile would add two fstat
// calls and a poller probe per file, a third of a 1,000-process pass.
func (r *Reader) ReadWaiting(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	return r.readAll(path, false, func(b []byte, _ int) (int, unix.Errno) {
		n, err := unix.Read(fd, b)
		if e, ok := err.(unix.Errno); ok {
			return 0, e
		}
		return n, 0
	})
}

// readAll calls read with the free part of the reader's buffer and the
// offset reached, until it returns 0, and returns what was read. whole
// says the file is a single record of a seq_file (see File.whole): a read
// that leaves room in the buffer has returned all of it, and no read to
// see the end follows.
func (r *Reader) readAll(path string, whole bool, read func(b []byte, off int) (int, unix.Errno)) ([]byte, error) {
	if cap(r.buf) < 16<<10 {
		r.buf = make([]byte, 0, 16<<10)
	}
	b := r.buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, e := read(b[len(b):cap(b)], len(b))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return nil, &fs.PathError{Op: "read", Path: path, Err: e}
		}
		if n == 0 {
			r.buf = b
			return b, nil
		}
		b = b[:len(b)+n]
		if whole && len(b) < cap(b) {
			r.buf = b
			return b, nil
		}
	}
}

// File is a /proc or /sys file a Reader may keep open across reads. The
// zero File is not kept.
type File struct {
	fd   int
	open bool
	path string
	// whole: the file is one record of a seq_file (single_open in the
	// kernel: /proc/PID/stat, meminfo, loadavg, PSI, a cgroup's
	// memory.events), which the kernel generates whole and hands out in
	// one read as far as the buffer allows, so a read that does not fill
	// the buffer has reached the end. Not so for a file of many records
	// such as /proc/vmstat, where a read may stop early at a page of
	// records.
	whole bool
}

// Kept says the file is open; when not, the caller reads it by path.
func (f *File) Kept() bool { return f.open }

// Keep opens path for reading again and again with ReadKept, when the
// roots are real and the budget allows; otherwise the File is not kept,
// and the caller reads by path as before. whole says the kernel hands the
// file out whole in one read (see File): /proc/PID/stat, meminfo, loadavg,
// PSI, a cgroup's memory.events, not vmstat.
func (r *Reader) Keep(path string, whole bool) File {
	return r.keep(path, unix.O_RDONLY, whole)
}

// KeepDir opens the directory path with O_PATH, for its Size: a
// /proc/PID/fd directory's size is its entry count (Linux 6.2+).
func (r *Reader) KeepDir(path string) File {
	return r.keep(path, unix.O_PATH|unix.O_DIRECTORY, false)
}

func (r *Reader) keep(path string, flags int, whole bool) File {
	if !r.real || r.left <= 0 {
		return File{path: path}
	}
	fd, err := openRaw(path, flags)
	if err != nil {
		return File{path: path}
	}
	r.left--
	return File{fd: fd, open: true, path: path, whole: whole}
}

// Unkeep closes a kept file and gives its place in the budget back; f is
// then not kept. Unkeeping a File not kept does nothing.
func (r *Reader) Unkeep(f *File) {
	if f.open {
		closeRaw(f.fd)
		f.open = false
		r.left++
	}
}

// ReadKept reads a kept file again from its start into the reader's
// buffer. The kernel generates /proc files at offset 0 on every read, so
// one open descriptor serves every tick: two syscalls fewer than Read,
// three for a file read whole. A /proc/PID file kept open stays tied to
// its process: once that process is gone the read fails with ESRCH, even
// if the PID is reused.
func (r *Reader) ReadKept(f *File) ([]byte, error) {
	return r.readAll(f.path, f.whole, func(b []byte, off int) (int, unix.Errno) {
		n, _, e := unix.RawSyscall6(unix.SYS_PREAD64, uintptr(f.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(off), 0, 0)
		return int(n), e
	})
}

// Size is the st_size of a kept file. For a /proc/PID/fd directory kept
// with KeepDir it is the number of open descriptors (Linux 6.2+; 0 before).
func (f *File) Size() (int64, error) {
	var st unix.Stat_t
	_, _, e := unix.RawSyscall(unix.SYS_FSTAT, uintptr(f.fd), uintptr(unsafe.Pointer(&st)), 0)
	if e != 0 {
		return 0, &fs.PathError{Op: "fstat", Path: f.path, Err: e}
	}
	return st.Size, nil
}

// CountEntries counts the entries of a directory, . and .. aside, with raw
// getdents64 calls into the reader's buffer: the open descriptors of a
// process from its /proc/PID/fd.
func (r *Reader) CountEntries(dir string) (int, error) {
	p, err := unix.BytePtrFromString(dir)
	if err != nil {
		return 0, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	fd, _, e := unix.RawSyscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(p)),
		uintptr(unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC), 0, 0, 0)
	if e != 0 {
		return 0, &fs.PathError{Op: "open", Path: dir, Err: e}
	}
	defer unix.RawSyscall(unix.SYS_CLOSE, fd, 0, 0)
	if cap(r.buf) < 16<<10 {
		r.buf = make([]byte, 0, 16<<10)
	}
	b := r.buf[:cap(r.buf)]
	count := 0
	for {
		n, _, e := unix.RawSyscall(unix.SYS_GETDENTS64, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return count, &fs.PathError{Op: "getdents", Path: dir, Err: e}
		}
		if n == 0 {
			return count, nil
		}
		for off := 0; off < int(n); {
			reclen := int(b[off+16]) | int(b[off+17])<<8
			name := b[off+19:]
			if !(name[0] == '.' && (name[1] == 0 || name[1] == '.' && name[2] == 0)) {
				count++
			}
			off += reclen
		}
	}
}

var atFDCWD = func() uintptr { v := unix.AT_FDCWD; return uintptr(v) }()

// openRaw opens a /proc or /sys path with a raw openat.
func openRaw(path string, flags int) (int, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	fd, _, e := unix.RawSyscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(p)),
		uintptr(flags|unix.O_CLOEXEC), 0, 0, 0)
	if e != 0 {
		return -1, &fs.PathError{Op: "open", Path: path, Err: e}
	}
	return int(fd), nil
}

func closeRaw(fd int) {
	if fd >= 0 {
		unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	}
}
