package logtail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Waits poll the follower's state with a generous deadline; nothing here
// asserts how long anything took.
const deadline = 20 * time.Second

// testOpts make the follower's own polling (old-file drains, missing files)
// fast. Following itself uses inotify, which works here.
var testOpts = []Option{WithPollInterval(5 * time.Millisecond)}

func nums(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

func cat(parts ...[]string) []string { return slices.Concat(parts...) }

// appWriter is the application: it appends to the file it opened, whatever
// has since happened to that file's name.
type appWriter struct {
	t *testing.T
	f *os.File
}

func openApp(t *testing.T, path string) *appWriter {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &appWriter{t: t, f: f}
}

// write writes each line with its own write(2), as a logger does.
func (w *appWriter) write(lines []string) []string {
	w.t.Helper()
	for _, l := range lines {
		if _, err := w.f.WriteString(l + "\n"); err != nil {
			w.t.Fatal(err)
		}
	}
	return lines
}

func writeFile(t *testing.T, path string, lines []string) {
	t.Helper()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func start(t *testing.T, path string, lines int, opts ...Option) *Follower {
	t.Helper()
	f := New(path, lines, append(slices.Clone(testOpts), opts...)...)
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	return f
}

// waitLines waits until the ring itself (nothing pending) holds want.
func waitLines(t *testing.T, f *Follower, want []string) Snapshot {
	t.Helper()
	return waitSnap(t, f, "lines", func(s Snapshot) bool {
		return s.Pending == 0 && slices.Equal(s.Lines, want)
	}, func(s Snapshot) string { return cmp.Diff(want, s.Lines) })
}

func waitEvent(t *testing.T, f *Follower, kind EventKind) Snapshot {
	t.Helper()
	return waitSnap(t, f, "event "+string(kind), func(s Snapshot) bool {
		return slices.ContainsFunc(s.Events, func(e Event) bool { return e.Kind == kind })
	}, func(s Snapshot) string { return fmt.Sprint(s.Events) })
}

func waitSnap(t *testing.T, f *Follower, what string, ok func(Snapshot) bool, show func(Snapshot) string) Snapshot {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		s := f.Snapshot()
		if ok(s) {
			return s
		}
		if time.Now().After(end) {
			t.Fatalf("no %s after %v (pending %d, events %v):\n%s", what, deadline, s.Pending, s.Events, show(s))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func kinds(evs []Event) []EventKind {
	var out []EventKind
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

// TestFollower covers what can happen to a followed file. Each step acts
// as an application or logrotate would; want is the exact ring content: no
// line lost or doubled. events lists the event sequences allowed, where
// timing decides which of two true stories is told.
func TestFollower(t *testing.T) {
	tests := []struct {
		name   string
		pre    []string // file content before Start; nil: no file
		steps  func(t *testing.T, path string, f *Follower) []string
		events [][]EventKind
	}{
		{
			name: "backfill of an existing file",
			pre:  nums("pre", 1, 5),
			steps: func(t *testing.T, path string, f *Follower) []string {
				return nums("pre", 1, 5)
			},
			events: [][]EventKind{nil},
		},
		{
			name: "backfill keeps the last lines",
			pre:  nums("pre", 1, 150),
			steps: func(t *testing.T, path string, f *Follower) []string {
				return nums("pre", 51, 150)
			},
			events: [][]EventKind{nil},
		},
		{
			name: "follow appends",
			pre:  nums("pre", 1, 3),
			steps: func(t *testing.T, path string, f *Follower) []string {
				app := openApp(t, path)
				return cat(nums("pre", 1, 3), app.write(nums("a", 1, 15)))
			},
			events: [][]EventKind{nil},
		},
		{
			name: "rename and create, writer switches late (logrotate create)",
			pre:  nums("pre", 1, 2),
			steps: func(t *testing.T, path string, f *Follower) []string {
				app := openApp(t, path)
				a := app.write(nums("a", 1, 5))
				rename(t, path, path+".1")
				a = cat(a, app.write(nums("a", 6, 8)))
				create(t, path)
				a = cat(a, app.write(nums("a", 9, 12))) // not yet told to reopen
				app2 := openApp(t, path)
				return cat(nums("pre", 1, 2), a, app2.write(nums("b", 1, 5)))
			},
			events: [][]EventKind{{Rotated}, {Rotated, Recreated}},
		},
		{
			name: "rename, old file written before the new one appears",
			pre:  nums("pre", 1, 2),
			steps: func(t *testing.T, path string, f *Follower) []string {
				app := openApp(t, path)
				a := app.write(nums("a", 1, 5))
				rename(t, path, path+".1")
				a = cat(a, app.write(nums("a", 6, 10)))
				waitEvent(t, f, Rotated)
				a = cat(a, app.write(nums("a", 11, 15)))
				app2 := openApp(t, path)
				return cat(nums("pre", 1, 2), a, app2.write(nums("b", 1, 5)))
			},
			events: [][]EventKind{{Rotated, Recreated}},
		},
		{
			name: "copytruncate",
			pre:  nums("pre", 1, 2),
			steps: func(t *testing.T, path string, f *Follower) []string {
				app := openApp(t, path)
				c := app.write(nums("c", 1, 20))
				waitLines(t, f, cat(nums("pre", 1, 2), c))
				copyTruncate(t, path)
				waitEvent(t, f, Truncated)
				return cat(nums("pre", 1, 2), c, app.write(nums("d", 1, 5)))
			},
			events: [][]EventKind{{Truncated}},
		},
		{
			name: "copytruncate, writes right after",
			pre:  nums("pre", 1, 2),
			steps: func(t *testing.T, path string, f *Follower) []string {
				app := openApp(t, path)
				c := app.write(nums("c", 1, 20))
				waitLines(t, f, cat(nums("pre", 1, 2), c))
				copyTruncate(t, path)
				return cat(nums("pre", 1, 2), c, app.write(nums("d", 1, 3)))
			},
			events: [][]EventKind{{Truncated}, {Overwritten}},
		},
		{
			name: "deleted, writer keeps appending",
			pre:  nums("pre", 1, 2),
			steps: func(t *testing.T, path string, f *Follower) []string {
				app := openApp(t, path)
				e := app.write(nums("e", 1, 5))
				remove(t, path)
				return cat(nums("pre", 1, 2), e, app.write(nums("e", 6, 10)))
			},
			events: [][]EventKind{{Deleted}},
		},
		{
			name: "deleted then recreated",
			pre:  nums("pre", 1, 2),
			steps: func(t *testing.T, path string, f *Follower) []string {
				app := openApp(t, path)
				e := app.write(nums("e", 1, 5))
				remove(t, path)
				e = cat(e, app.write(nums("e", 6, 8)))
				waitEvent(t, f, Deleted)
				app2 := openApp(t, path)
				return cat(nums("pre", 1, 2), e, app2.write(nums("f", 1, 5)))
			},
			events: [][]EventKind{{Deleted, Recreated}},
		},
		{
			name: "overwritten with shorter content",
			pre:  nums("old", 1, 20),
			steps: func(t *testing.T, path string, f *Follower) []string {
				writeFile(t, path, []string{"new1", "new2"})
				return cat(nums("old", 1, 20), []string{"new1", "new2"})
			},
			events: [][]EventKind{{Truncated}, {Overwritten}},
		},
		{
			name: "missing, then created",
			steps: func(t *testing.T, path string, f *Follower) []string {
				waitEvent(t, f, Missing)
				app := openApp(t, path)
				return app.write(nums("m", 1, 5))
			},
			events: [][]EventKind{{Missing, Opened}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.log")
			if tt.pre != nil {
				writeFile(t, path, tt.pre)
			}
			f := start(t, path, 100)
			want := tt.steps(t, path, f)
			s := waitLines(t, f, want)
			if got := kinds(s.Events); !slices.ContainsFunc(tt.events, func(k []EventKind) bool { return slices.Equal(k, got) }) {
				t.Errorf("events %v, want one of %v", s.Events, tt.events)
			}
			if s.Cut != 0 {
				t.Errorf("Cut = %d, want 0", s.Cut)
			}
		})
	}
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func create(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// copyTruncate does what logrotate's copytruncate does.
func copyTruncate(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".1", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
}

// TestFollowerRotationUnderLoad rotates (rename + create) while the writer
// writes without pause, switching to the new file a few lines after each
// rotation, as a logger does on SIGHUP. Every line must be kept once, in
// order: this is the race nxadm/tail alone loses lines in. Rotations are
// spaced as in life: each waits until the follower has caught up with the
// file it rotates (a file renamed away before anyone opened it cannot be
// followed by name), then the rename, the writes to the old file and the
// switch race with the follower.
func TestFollowerRotationUnderLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	create(t, path)
	const total, every = 3000, 250
	f := start(t, path, total)
	app := openApp(t, path)
	var want []string
	rotations := 0
	for i := 1; i <= total; i++ {
		want = append(want, app.write([]string{fmt.Sprintf("line %d", i)})...)
		switch {
		case i%every == 0 && i < total:
			waitLines(t, f, want)
			rename(t, path, fmt.Sprintf("%s.%d", path, i))
			create(t, path)
			rotations++
		case i%every == 5 && i > every:
			app.f.Close()
			app = openApp(t, path)
		}
	}
	s := waitLines(t, f, want)
	if got := countKind(s.Events, Rotated); got != rotations {
		t.Errorf("%d rotations seen, want %d: %v", got, rotations, s.Events)
	}
}

func countKind(evs []Event, k EventKind) int {
	n := 0
	for _, e := range evs {
		if e.Kind == k {
			n++
		}
	}
	return n
}

// TestFollowerRefuses: paths that are not regular files are refused before
// they are opened, so Start returns at once and nothing blocks or grows.
func TestFollowerRefuses(t *testing.T) {
	tests := []struct {
		name string
		path func(t *testing.T) string
		want string
	}{
		{"FIFO", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "fifo")
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, "not a regular file: named pipe"},
		{"/dev/zero", func(t *testing.T) string { return "/dev/zero" }, "not a regular file: character device"},
		{"directory", func(t *testing.T) string { return t.TempDir() }, "not a regular file: directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, tt.path(t), 10)
			s := f.Snapshot()
			want := []Event{{Kind: Unreadable, Detail: tt.want}}
			if diff := cmp.Diff(want, s.Events, cmpEventNoTime); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if len(s.Lines) != 0 || s.BackfillBytes != 0 {
				t.Errorf("read %d lines, %d bytes from a non-regular file", len(s.Lines), s.BackfillBytes)
			}
			f.Stop()
		})
	}
}

var cmpEventNoTime = cmp.Comparer(func(a, b Event) bool { return a.Kind == b.Kind && a.Detail == b.Detail })

func TestFollowerUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: file permissions do not stop root from reading; run as an ordinary user to test this")
	}
	path := filepath.Join(t.TempDir(), "app.log")
	writeFile(t, path, []string{"secret"})
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	f := start(t, path, 10)
	s := f.Snapshot()
	want := []Event{{Kind: Unreadable, Detail: "open: permission denied"}}
	if diff := cmp.Diff(want, s.Events, cmpEventNoTime); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	waitLines(t, f, []string{"secret"})
	waitEvent(t, f, Opened)
}

// TestFollowerHugeFile: the backfill of a 50 MiB file reads a bounded
// window from its end, not the file.
func TestFollowerHugeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.log")
	w, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 99) + "\n"
	chunk := []byte(strings.Repeat(line, 10<<10)) // ~1 MiB
	for range 50 {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Fprintf(w, "last 1\nlast 2\n")
	w.Close()

	const lines, max = 10, 256
	f := start(t, path, lines, WithMaxLineBytes(max))
	s := f.Snapshot()
	want := cat(slices.Repeat([]string{line[:99]}, 8), []string{"last 1", "last 2"})
	if diff := cmp.Diff(want, s.Lines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	if budget := int64(lines * (max + 1)); s.BackfillBytes > budget+1 {
		t.Errorf("backfill read %d bytes, want at most %d", s.BackfillBytes, budget+1)
	}
}

// TestFollowerCutsLongLines: lines longer than the maximum are cut and
// marked, in the backfill and while following, and the cut never splits a
// UTF-8 sequence.
func TestFollowerCutsLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	long := strings.Repeat("a", 15) + "é" + strings.Repeat("b", 100) // é straddles byte 16
	writeFile(t, path, []string{"short", long})
	f := start(t, path, 10, WithMaxLineBytes(16))
	app := openApp(t, path)
	app.write([]string{strings.Repeat("z", 5000), "after"})
	want := []string{
		"short",
		strings.Repeat("a", 15) + " …[cut 102 bytes]",
		strings.Repeat("z", 16) + " …[cut 4984 bytes]",
		"after",
	}
	s := waitLines(t, f, want)
	if s.Cut != 2 {
		t.Errorf("Cut = %d, want 2", s.Cut)
	}
}

// TestFollowerRingBound: the ring keeps the last lines and counts the rest.
func TestFollowerRingBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	create(t, path)
	f := start(t, path, 5)
	app := openApp(t, path)
	app.write(nums("r", 1, 40))
	s := waitLines(t, f, nums("r", 36, 40))
	if s.Seen != 40 || s.Dropped != 35 {
		t.Errorf("Seen %d Dropped %d, want 40 and 35", s.Seen, s.Dropped)
	}
}

// TestSnapshotPending: a snapshot holds the complete lines already in the
// file even before tail delivers them (the crash a millisecond ago), without
// putting them in the ring twice.
func TestSnapshotPending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	writeFile(t, path, []string{"one"})
	f := New(path, 10, testOpts...)
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	f.mu.Lock() // hold tail's deliveries back while the file grows
	openApp(t, path).write([]string{"two", "three"})
	s := f.snapshotLocked()
	f.mu.Unlock()
	if diff := cmp.Diff([]string{"one", "two", "three"}, s.Lines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	if s.Pending != 2 {
		t.Errorf("Pending = %d, want 2", s.Pending)
	}
	waitLines(t, f, []string{"one", "two", "three"})
}

func TestFollowerStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	writeFile(t, path, []string{"one"})
	f := New(path, 10, testOpts...)
	f.Stop() // before Start: nothing to do
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.Start(context.Background()); err != ErrStarted {
		t.Errorf("second Start: %v, want ErrStarted", err)
	}
	openApp(t, path).write([]string{"two"})
	f.Stop()
	f.Stop()
	// Stop reads what tail had not delivered; the lines stay readable.
	if diff := cmp.Diff([]string{"one", "two"}, f.Snapshot().Lines); diff != "" {
		t.Errorf("lines after Stop (-want +got):\n%s", diff)
	}
}
