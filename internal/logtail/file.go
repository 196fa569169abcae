package logtail

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrNotRegular is why a path that is a FIFO, a device, a socket or a
// directory is refused: opening a FIFO blocks, a device like /dev/zero never
// ends, and neither is a log file.
var ErrNotRegular = errors.New("not a regular file")

// fileKind names a non-regular file type the way a person would.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	}
	return "irregular file"
}

// openRegular opens path for reading only if it is a regular file. The type
// is checked before the open (so a FIFO is never opened) and again on the
// descriptor (so a FIFO swapped in between the two cannot slip through;
// O_NONBLOCK makes that open return at once instead of waiting for a writer).
func openRegular(path string) (*os.File, fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotRegular, fileKind(fi.Mode()))
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err = f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%w: %s", ErrNotRegular, fileKind(fi.Mode()))
	}
	return f, fi, nil
}

// linkCount is the number of names a file has left; 0 once it is deleted.
func linkCount(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// inotifyWorks reports whether this process can create an inotify instance.
// nxadm/tail creates its one shared instance on first use and exits the process
// if that fails (fs.inotify.max_user_instances reached): asking first lets
// the follower poll instead of taking sre-report down.
var inotifyWorks = sync.OnceValue(func() bool {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
})
