package procfs

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// A file read whole stops at the first read that leaves room in the
// buffer, and still reads a file longer than the buffer to its end.
func TestPreadWhole(t *testing.T) {
	r := &Reader{}
	for _, size := range []int{0, 300, 16 << 10, 40<<10 + 7} {
		want := make([]byte, size)
		for i := range want {
			want[i] = byte('a' + i%26)
		}
		path := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Open(path, unix.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, whole := range []bool{true, false} {
			for range 2 { // the second read starts at offset 0 again
				got, err := r.ReadKept(&File{fd: fd, open: true, path: path, whole: whole})
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("size %d, whole %v: %d bytes, %v", size, whole, len(got), err)
				}
			}
		}
		unix.Close(fd)
	}
}

// Files are kept only when both roots are the real ones, and only within
// the budget; unkeeping gives a place back, and a File not kept reads by
// path with Read as before.
func TestKeepRootsAndBudget(t *testing.T) {
	fixture := t.TempDir()
	for _, roots := range [][2]string{{fixture, "/sys"}, {"/proc", fixture}} {
		r := NewReader(roots[0], roots[1], 10)
		if f := r.Keep("/proc/self/stat", true); f.Kept() {
			r.Unkeep(&f)
			t.Errorf("roots %v: kept a file open", roots)
		}
		if r.Left() != 10 {
			t.Errorf("roots %v: %d left, want 10", roots, r.Left())
		}
	}
	r := NewReader("/proc", "/sys", 2)
	a, b := r.Keep("/proc/self/stat", true), r.KeepDir("/proc/self/fd")
	c := r.Keep("/proc/meminfo", true)
	if !a.Kept() || !b.Kept() || c.Kept() || r.Left() != 0 {
		t.Fatalf("budget 2: kept %v %v %v, %d left", a.Kept(), b.Kept(), c.Kept(), r.Left())
	}
	if n, err := b.Size(); err != nil || n < 0 {
		t.Errorf("size of a kept fd directory: %d, %v", n, err)
	}
	r.Unkeep(&a)
	r.Unkeep(&a) // twice: the place is given back once
	if a.Kept() || r.Left() != 1 {
		t.Fatalf("after unkeep: kept %v, %d left, want 1", a.Kept(), r.Left())
	}
	r.Unkeep(&b)
	if got, err := r.Read("/proc/meminfo"); err != nil || !bytes.HasPrefix(got, []byte("MemTotal:")) {
		t.Fatalf("meminfo by path: %q, %v", got, err)
	}
	if missing := r.Keep(filepath.Join(t.TempDir(), "gone"), true); missing.Kept() || r.Left() != 2 {
		t.Fatalf("a missing file: kept %v, %d left", missing.Kept(), r.Left())
	}
}

// Bad paths give errors naming the path, never a panic.
func TestBadPaths(t *testing.T) {
	r := NewReader("/proc", "/sys", 10)
	gone := filepath.Join(t.TempDir(), "gone")
	for _, path := range []string{gone, "/proc/self/stat\x00x"} {
		if _, err := r.Read(path); err == nil {
			t.Errorf("Read %q: no error", path)
		}
		if _, err := r.ReadWaiting(path); err == nil {
			t.Errorf("ReadWaiting %q: no error", path)
		}
		if _, err := r.CountEntries(path); err == nil {
			t.Errorf("CountEntries %q: no error", path)
		}
		if f := r.Keep(path, true); f.Kept() {
			t.Errorf("Keep %q: kept", path)
		}
	}
	if _, err := r.Read(gone); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read of a missing file: %v, want not exist", err)
	}
	var pe *fs.PathError
	if _, err := r.ReadWaiting(gone); !errors.As(err, &pe) || pe.Path != gone {
		t.Errorf("ReadWaiting of a missing file: %v, want a path error naming it", err)
	}
}

// CountEntries counts a directory's entries, . and .. aside, past one
// buffer's worth of getdents records.
func TestCountEntries(t *testing.T) {
	r := &Reader{}
	dir := t.TempDir()
	for i := range 1000 {
		if err := os.WriteFile(filepath.Join(dir, "file-with-a-longish-name-"+strconv.Itoa(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if i == 0 || i == 999 {
			if n, err := r.CountEntries(dir); err != nil || n != i+1 {
				t.Fatalf("%d files: counted %d, %v", i+1, n, err)
			}
		}
	}
	if _, err := r.CountEntries(filepath.Join(dir, "file-with-a-longish-name-0")); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("a file as a directory: %v, want ENOTDIR", err)
	}
}
