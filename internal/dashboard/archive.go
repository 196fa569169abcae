package dashboard

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/localsre/sre-agent/internal/ndjson"
	"github.com/localsre/sre-agent/internal/report"
)

// archFile is one archive file of a reading: the live events.ndjson or a
// rotated one (events.ndjson.1, events.ndjson-20261206.gz, …).
type archFile struct {
	path     string
	gz       bool
	ino, dev uint64
	size     int64
	mtime    int64
	offset   int64  // read up to here (the end of the last whole line)
	tail     []byte // the bytes before offset, to notice a rewrite

	// fh is the file, opened once for the lines pages read back (a page
	// reads dozens) and closed when a new reading replaces this one. It
	// stays the inode that was read, even once renamed by a rotation.
	hmu sync.Mutex
	fh  *os.File
}

// handle returns f opened for reading back, checking on the first call
// that it is the file that was read.
func (f *archFile) handle() (*os.File, error) {
	f.hmu.Lock()
	defer f.hmu.Unlock()
	if f.fh != nil {
		return f.fh, nil
	}
	file, err := os.Open(f.path)
	if err != nil {
		return nil, err
	}
	if st, err := file.Stat(); err == nil {
		if s, ok := st.Sys().(*syscall.Stat_t); ok && (s.Ino != f.ino || uint64(s.Dev) != f.dev) {
			file.Close()
			return nil, errors.New("archive rotated since it was read; the page will follow")
		}
	}
	f.fh = file
	return file, nil
}

// closeFiles closes the handles of a reading no page uses any more.
func closeFiles(files []*archFile) {
	for _, f := range files {
		f.hmu.Lock()
		if f.fh != nil {
			f.fh.Close()
			f.fh = nil
		}
		f.hmu.Unlock()
	}
}

// isRotated reports whether name is a rotated archive: logrotate's
// numbered (events.ndjson.1, .2.gz) and dated (events.ndjson-20261206)
// names.
func isRotated(name string) bool {
	rest, ok := strings.CutPrefix(name, report.ArchiveName)
	return ok && len(rest) > 1 && (rest[0] == '.' || rest[0] == '-') && !strings.HasSuffix(name, ".tmp")
}

// listArchives returns the rotated archives of dir, oldest first, then
// the live one (which may not exist yet).
func listArchives(dir string) ([]*archFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var out []*archFile
	for _, de := range ents {
		if de.IsDir() || !isRotated(de.Name()) {
			continue
		}
		f := &archFile{path: filepath.Join(dir, de.Name())}
		if statInto(f) == nil {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].mtime != out[j].mtime {
			return out[i].mtime < out[j].mtime
		}
		return out[i].path > out[j].path // same time: .2 before .1
	})
	live := &archFile{path: filepath.Join(dir, report.ArchiveName)}
	statInto(live)
	return append(out, live), nil
}

func statInto(f *archFile) error {
	st, err := os.Stat(f.path)
	if err != nil {
		return err
	}
	f.size, f.mtime = st.Size(), st.ModTime().UnixNano()
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		f.ino, f.dev = s.Ino, uint64(s.Dev)
	}
	return nil
}

// same reports whether two listings name the same rotated files, unchanged.
func sameRotated(a, b []*archFile) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) - 1 { // the live file, last, is followed instead
		if a[i].path != b[i].path || a[i].ino != b[i].ino || a[i].size != b[i].size {
			return false
		}
	}
	return true
}

// read folds the lines of f from its offset up to its last whole line into
// m. A compressed file is read whole, once.
func (m *model) read(idx uint16, f *archFile) error {
	file, err := os.Open(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // no archive yet: nothing to show
	}
	if err != nil {
		return err
	}
	defer file.Close()
	var magic [2]byte
	if n, _ := file.ReadAt(magic[:], 0); n == 2 && magic == [2]byte{0x1f, 0x8b} {
		if f.gz || f.offset > 0 {
			return nil
		}
		f.gz = true
		zr, err := gzip.NewReader(file)
		if err != nil {
			return fmt.Errorf("archive %s: %w", f.path, err)
		}
		defer zr.Close()
		_, err = m.readLines(idx, zr, 0)
		f.offset = f.size
		if err != nil {
			return fmt.Errorf("archive %s: %w", f.path, err)
		}
		return nil
	}
	if f.size <= f.offset {
		return nil
	}
	end, err := ndjson.LastNewline(file, f.offset, f.size)
	if err != nil || end <= f.offset {
		return err
	}
	_, err = m.readLines(idx, io.NewSectionReader(file, f.offset, end-f.offset), f.offset)
	f.offset, f.tail = end, ndjson.TailOf(file, end)
	if err != nil {
		return fmt.Errorf("archive %s: %w", f.path, err)
	}
	return nil
}

// readLines folds every line of r (which starts at base in its file) into m.
func (m *model) readLines(idx uint16, r io.Reader, base int64) (bool, error) {
	rd := ndjson.NewReader(bufio.NewReaderSize(r, 256<<10))
	added := false
	for {
		rec, err := rd.Next()
		if err != nil {
			m.counts.Skipped += rd.Counts().SkippedTotal()
			if errors.Is(err, io.EOF) {
				return added, nil
			}
			return added, err
		}
		l := loc{file: idx, off: base + rec.Off, n: uint32(len(rec.Raw))}
		if !m.add(rec.Kind, rec.Raw, l) {
			m.counts.Skipped++
		}
		added = true
	}
}

// rewritten reports whether the bytes before f's offset are no longer
// those that were read: truncated and written again, even to the same size.
func (f *archFile) rewritten() bool { return !f.gz && ndjson.Rewritten(f.path, f.offset, f.tail) }

// readLine reads back the line at l of the reading whose files are files.
func readLine(files []*archFile, l loc) ([]byte, error) {
	if int(l.file) >= len(files) {
		return nil, errors.New("archive changed")
	}
	f := files[l.file]
	if f.gz {
		file, err := os.Open(f.path)
		if err != nil {
			return nil, err
		}
		defer file.Close()
		zr, err := gzip.NewReader(file)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		if _, err := io.CopyN(io.Discard, zr, l.off); err != nil {
			return nil, err
		}
		b := make([]byte, l.n)
		_, err = io.ReadFull(zr, b)
		return b, err
	}
	file, err := f.handle()
	if err != nil {
		return nil, err
	}
	b := make([]byte, l.n)
	if _, err := file.ReadAt(b, l.off); err != nil {
		return nil, err
	}
	return b, nil
}
