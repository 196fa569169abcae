package sampler

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/event"
)

// localFS are filesystems whose statfs answers from memory at once: on
// them diskUsage makes the call raw, so that it does not wake the Go
// runtime's monitor thread at every slow tick (bench/README.md).
// A network or FUSE filesystem (NFS, CIFS, sshfs…) can make statfs wait
// for a server, so any type not listed here gets a runtime-visible call.
var localFS = map[int64]bool{
	unix.EXT4_SUPER_MAGIC:      true, // also ext2 and ext3
	unix.XFS_SUPER_MAGIC:       true,
	unix.BTRFS_SUPER_MAGIC:     true,
	unix.TMPFS_MAGIC:           true,
	unix.RAMFS_MAGIC:           true,
	unix.OVERLAYFS_SUPER_MAGIC: true,
	unix.F2FS_SUPER_MAGIC:      true,
	unix.MSDOS_SUPER_MAGIC:     true,
	unix.EXFAT_SUPER_MAGIC:     true,
	unix.SQUASHFS_MAGIC:        true,
	0x2fc12fc1:                 true, // ZFS
	0xca451a4e:                 true, // bcachefs
}

// diskUsage reads the usage of the filesystem holding path, with the
// figures gopsutil's disk.Usage gives (Free is what an ordinary user may
// still write, Used what is written; the percentage is of their sum, as df
// shows it).
func (s *Sampler) diskUsage(path string) (event.Disk, error) {
	var st unix.Statfs_t
	if s.disks[path] {
		p, err := unix.BytePtrFromString(path)
		if err != nil {
			return event.Disk{}, err
		}
		if _, _, e := unix.RawSyscall(unix.SYS_STATFS, uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(&st)), 0); e != 0 {
			return event.Disk{}, e
		}
	} else if err := unix.Statfs(path, &st); err != nil {
		return event.Disk{}, err
	}
	// What the path is on may change (a mount over it): the type just read
	// decides the next call.
	s.disks[path] = localFS[int64(st.Type)]
	return diskFrom(path, &st), nil
}

func diskFrom(path string, st *unix.Statfs_t) event.Disk {
	bsize := uint64(st.Bsize)
	d := event.Disk{
		Path:       path,
		TotalBytes: st.Blocks * bsize,
		FreeBytes:  st.Bavail * bsize,
		UsedBytes:  (st.Blocks - st.Bfree) * bsize,
	}
	if sum := d.UsedBytes + d.FreeBytes; sum > 0 {
		pct := float64(d.UsedBytes) / float64(sum) * 100
		d.UsedPct = min(float64(int64(pct*100+0.5))/100, 100)
	}
	return d
}
