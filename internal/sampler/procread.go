package sampler

import (
	"bytes"
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// readInto reads a whole /proc or /sys file into the sampler's reusable
// buffer: open, read until 0, close -- no fstat, no poller registration, no
// allocation. The slice is valid until the next call.
//
// The calls are raw (no entersyscall): kernel-generated files of /proc and
// /sys answer at once, and a Go syscall after an idle period wakes the
// runtime's sysmon into its 20µs polling loop, which at a 10ms tick costs
// more than the reads themselves. Only for files that cannot block: never
// cmdline/environ (mmap lock) nor user-given paths (statfs of NFS).
func (s *Sampler) readInto(path string) ([]byte, error) {
	fd, err := openRaw(path, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer closeRaw(fd)
	return s.readAll(path, false, func(b []byte, _ int) (int, unix.Errno) {
		n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		return int(n), e
	})
}

// readAll calls read with the free part of the sampler's buffer and the
// offset reached, until it returns 0, and returns what was read. The slice
// is valid until the next read into the buffer. whole says the file is a
// single record of a seq_file (see keptFile.whole): a read that leaves
// room in the buffer has returned all of it, and no read to see the end
// follows.
func (s *Sampler) readAll(path string, whole bool, read func(b []byte, off int) (int, unix.Errno)) ([]byte, error) {
	if cap(s.buf) < 16<<10 {
		s.buf = make([]byte, 0, 16<<10)
	}
	b := s.buf[:0]
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
			s.buf = b
			return b, nil
		}
		b = b[:len(b)+n]
		if whole && len(b) < cap(b) {
			s.buf = b
			return b, nil
		}
	}
}

var atFDCWD = func() uintptr { v := unix.AT_FDCWD; return uintptr(v) }()

// openRaw opens a /proc or /sys path with a raw openat, for a descriptor the
// sampler keeps across ticks.
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

// preadInto reads a kept-open /proc file again from its start into the
// sampler's buffer. The kernel generates /proc files at offset 0 on every
// read, so one open descriptor serves every tick: two syscalls fewer than
// readInto, three for a file read whole. A /proc/PID file kept open stays
// tied to its process: once that process is gone the read fails with
// ESRCH, even if the PID is reused.
func (s *Sampler) preadInto(k *keptFile) ([]byte, error) {
	return s.readAll(k.path, k.whole, func(b []byte, off int) (int, unix.Errno) {
		n, _, e := unix.RawSyscall6(unix.SYS_PREAD64, uintptr(k.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(off), 0, 0)
		return int(n), e
	})
}

// readWaiting reads a /proc file that may make the reader wait, such as
// /proc/PID/cmdline (which takes the process's mmap lock), into the
// sampler's buffer: open, read until 0, close, as runtime-visible syscalls
// so a wait does not hold up the runtime. os.ReadFile would add two fstat
// calls and a poller probe per file, a third of a 1,000-process pass.
func (s *Sampler) readWaiting(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	return s.readAll(path, false, func(b []byte, _ int) (int, unix.Errno) {
		n, err := unix.Read(fd, b)
		if e, ok := err.(unix.Errno); ok {
			return 0, e
		}
		return n, 0
	})
}

// keptFile is a /proc file the sampler keeps open across ticks.
type keptFile struct {
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

// unkeep closes a kept file and gives its place in the budget back.
func (s *Sampler) unkeep(k *keptFile) {
	if k.open {
		closeRaw(k.fd)
		k.open = false
		s.keptLeft++
	}
}

// keepOpen opens path for reading at every tick. Only when both roots are
// the real /proc and /sys (fixture trees are rewritten by tests while the
// sampler runs),
// and only within the budget of kept files, so that the descriptors left
// for reads and exit watching never run out: past it, files are read by
// path as before.
func (s *Sampler) keepOpen(path string, flags int, whole bool) keptFile {
	if s.cfg.ProcRoot != "/proc" || s.cfg.SysRoot != "/sys" || s.keptLeft <= 0 {
		return keptFile{path: path}
	}
	fd, err := openRaw(path, flags)
	if err != nil {
		return keptFile{path: path}
	}
	s.keptLeft--
	return keptFile{fd: fd, open: true, path: path, whole: whole}
}

// keptBudget is how many files the sampler may keep open: a quarter of
// the open-file limit (which Go raises to the hard limit at start-up).
func keptBudget() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == unix.RLIM_INFINITY {
		return 1024
	}
	return int(min(lim.Cur/4, 1<<20))
}

// fstatSize is the st_size of an open descriptor. For a /proc/PID/fd
// directory it is the number of open descriptors (Linux 6.2+; 0 before).
func fstatSize(fd int) (int64, error) {
	var st unix.Stat_t
	_, _, e := unix.RawSyscall(unix.SYS_FSTAT, uintptr(fd), uintptr(unsafe.Pointer(&st)), 0)
	if e != 0 {
		return 0, e
	}
	return st.Size, nil
}

// countFDsRaw counts the entries of a /proc/PID/fd directory with raw
// getdents64 calls into the sampler's buffer.
func (s *Sampler) countFDsRaw(dir string) (int, error) {
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
	if cap(s.buf) < 16<<10 {
		s.buf = make([]byte, 0, 16<<10)
	}
	b := s.buf[:cap(s.buf)]
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

// Meminfo is the part of /proc/meminfo a sample uses, in bytes.
type Meminfo struct {
	Total, Available, SwapTotal, SwapFree uint64
	HasAvailable                          bool
}

// parseMeminfo picks MemTotal, MemAvailable, SwapTotal and SwapFree.
func parseMeminfo(b []byte) (Meminfo, error) {
	var m Meminfo
	found := 0
	for len(b) > 0 && found < 4 {
		var line []byte
		line, b = cutLine(b)
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *uint64
		switch string(k) {
		case "MemTotal":
			dst = &m.Total
		case "MemAvailable":
			dst, m.HasAvailable = &m.Available, true
		case "SwapTotal":
			dst = &m.SwapTotal
		case "SwapFree":
			dst = &m.SwapFree
		default:
			continue
		}
		v = bytes.TrimSpace(v)
		v = bytes.TrimSuffix(v, []byte(" kB"))
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return m, fmt.Errorf("%w: meminfo: %s %q", ErrParse, k, v)
		}
		*dst = n * 1024
		found++
	}
	if m.Total == 0 {
		return m, fmt.Errorf("%w: meminfo: no MemTotal", ErrParse)
	}
	return m, nil
}

// parseLoadavg parses the three averages of /proc/loadavg.
func parseLoadavg(b []byte) (l1, l5, l15 float64, err error) {
	var v [3]float64
	rest := b
	for i := range v {
		var f []byte
		if f, rest = nextField(rest); f == nil {
			return 0, 0, 0, fmt.Errorf("%w: loadavg: %q", ErrParse, b)
		}
		v[i], err = strconv.ParseFloat(string(f), 64)
		// NaN or Inf would make the whole sample unencodable.
		if err != nil || v[i] < 0 || math.IsNaN(v[i]) || math.IsInf(v[i], 0) {
			return 0, 0, 0, fmt.Errorf("%w: loadavg: %q", ErrParse, f)
		}
	}
	return v[0], v[1], v[2], nil
}
