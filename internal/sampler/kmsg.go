package sampler

import (
	"bytes"
	"errors"
	"io/fs"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/procfs"
)

// The kernel's log is read at a death, never at a tick: only when the
// host's OOM kill counter rose since the dead process's last sample, to
// tell whether the OOM killer named that process or another one.

// kmsgMax bounds what one look at the log reads: the kernel's buffer is
// 128 KiB to a few MiB.
const kmsgMax = 16 << 20

// oomVictim is the process a kernel line says the OOM killer killed.
type oomVictim struct {
	pid  int
	task string // its command name, cut to 15 bytes by the kernel
}

// parseOOMVictim reads the two lines in which the kernel names the OOM
// killer's victim:
//
//	Out of memory: Killed process 12292 (python3) total-vm:218752kB, …
//	Memory cgroup out of memory: Killed process 12292 (python3) …
//	oom-kill:constraint=CONSTRAINT_MEMCG,…,task=python3,pid=12292,uid=0
func parseOOMVictim(msg string) (oomVictim, bool) {
	if _, rest, ok := strings.Cut(msg, "Killed process "); ok {
		n := 0
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		pid, err := strconv.Atoi(rest[:n])
		if err != nil || pid <= 0 || !strings.HasPrefix(rest[n:], " (") {
			return oomVictim{}, false
		}
		task, _, ok := strings.Cut(rest[n+2:], ")")
		if !ok {
			return oomVictim{}, false
		}
		return oomVictim{pid: pid, task: task}, true
	}
	if _, rest, ok := strings.Cut(msg, "oom-kill:"); ok {
		_, rest, ok = strings.Cut(rest, ",task=")
		if !ok {
			return oomVictim{}, false
		}
		// A command name may hold a comma: the pid is after the last ",pid=".
		i := strings.LastIndex(rest, ",pid=")
		if i < 0 {
			return oomVictim{}, false
		}
		num, _, _ := strings.Cut(rest[i+len(",pid="):], ",")
		pid, err := strconv.Atoi(num)
		if err != nil || pid <= 0 {
			return oomVictim{}, false
		}
		return oomVictim{pid: pid, task: rest[:i]}, true
	}
	return oomVictim{}, false
}

// sameTask reports whether the kernel's name for a task is name: the
// kernel cuts it to 15 bytes.
func sameTask(task, name string) bool {
	if name == "" || task == name {
		return true
	}
	return len(task) >= 15 && strings.HasPrefix(name, task)
}

// readOOMNamed reads the kernel's log at path (/dev/kmsg, or a saved copy
// of its records) without waiting for more, and returns the last line at
// or after since (seconds after boot, on the log's clock) that names pid,
// called name, as the OOM killer's victim; "" when none does.
func readOOMNamed(path string, pid int, name string, since float64) (string, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 16<<10) // /dev/kmsg hands out one record per read; records are < 8 KiB
	var carry []byte
	var found string
	look := func(rec []byte) {
		usec, msg, ok := procfs.ParseKmsgRecord(rec)
		if !ok || float64(usec)/1e6 < since {
			return
		}
		if v, ok := parseOOMVictim(msg); ok && v.pid == pid && sameTask(v.task, name) {
			found = msg
		}
	}
	for total := 0; total < kmsgMax; {
		n, err := unix.Read(fd, buf)
		switch {
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EPIPE):
			continue // EPIPE: a record was overwritten while we read; go on with the next
		case errors.Is(err, unix.EAGAIN):
			n = 0
		case err != nil:
			return "", &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n <= 0 {
			break
		}
		total += n
		// A saved copy gives many records per read, split anywhere.
		data := append(carry, buf[:n]...)
		last := bytes.LastIndexByte(data, '\n')
		if last < 0 {
			carry = data
		} else {
			for _, rec := range bytes.Split(data[:last], []byte{'\n'}) {
				look(rec)
			}
			carry = append(carry[:0], data[last+1:]...)
		}
		if len(carry) > len(buf) {
			carry = carry[:0] // no record is that long: not a log
		}
	}
	look(carry)
	return found, nil
}
