package logtail

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestCutLine(t *testing.T) {
	tests := []struct {
		in      string
		max     int
		want    string
		wantCut int
	}{
		{"short", 10, "short", 0},
		{"exactly10!", 10, "exactly10!", 0},
		{"abcdefghijkl", 10, "abcdefghij", 2},
		{"abcdefghé", 9, "abcdefgh", 2},            // é is bytes 8-9: not split
		{"ab€", 3, "ab", 3},                        // € is 3 bytes
		{"\xff\xff\xff\xff\xff", 2, "\xff\xff", 3}, // invalid UTF-8: cut where it falls
		{"€€", 1, "", 6},
	}
	for _, tt := range tests {
		got, cut := cutLine(tt.in, tt.max)
		if got != tt.want || cut != tt.wantCut {
			t.Errorf("cutLine(%q, %d) = %q, %d; want %q, %d", tt.in, tt.max, got, cut, tt.want, tt.wantCut)
		}
	}
}

// counter is an io.ReaderAt that counts the bytes it hands out.
type counter struct {
	r io.ReaderAt
	n int64
}

func (c *counter) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

func collect(lines *[]string) func(string, int) {
	return func(l string, cut int) { *lines = append(*lines, markCut(l, cut)) }
}

func TestReadLines(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		budget  int64
		want    []string
		wantEnd int64
		maxRead int64
	}{
		{"all", "a\nb\nc\n", 0, []string{"a", "b", "c"}, 6, 6},
		{"unterminated last line left for later", "a\nb\npart", 0, []string{"a", "b"}, 4, 8},
		{"window starts on a line", "aa\nbb\ncc\n", 6, []string{"bb", "cc"}, 9, 7},
		{"window starts mid-line: skipped", "aa\nbb\ncc\n", 5, []string{"cc"}, 9, 6},
		{"CRLF", "a\r\nb\r\n", 0, []string{"a", "b"}, 6, 6},
		{"no line start in the window", strings.Repeat("x", 100) + "\n", 10, nil, 101, 11},
		{"empty", "", 0, nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &counter{r: strings.NewReader(tt.in)}
			var got []string
			end, read, err := readLines(r, 0, int64(len(tt.in)), tt.budget, 64, collect(&got))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if end != tt.wantEnd {
				t.Errorf("end %d, want %d", end, tt.wantEnd)
			}
			if read != r.n || read > tt.maxRead {
				t.Errorf("read %d (counted %d), want at most %d", read, r.n, tt.maxRead)
			}
		})
	}
}

// TestReadLinesBounded: a backfill of a large input reads its budget (and
// one byte before it), whatever the size.
func TestReadLinesBounded(t *testing.T) {
	in := bytes.Repeat([]byte("0123456789abcdef\n"), 1<<20) // 17 MiB
	r := &counter{r: bytes.NewReader(in)}
	var got []string
	const budget = 10 * 17
	readLines(r, 0, int64(len(in)), budget, 64, collect(&got))
	if r.n > budget+1 {
		t.Errorf("read %d bytes, want at most %d", r.n, budget+1)
	}
	if len(got) != 10 {
		t.Errorf("%d lines, want 10", len(got))
	}
}

// FuzzSplitter: splitting a stream fed in any chunks gives the lines of the
// whole, each cut as cutLine cuts it, and never holds more than max+3 bytes
// of a line.
func FuzzSplitter(f *testing.F) {
	f.Add([]byte("a\nbb\r\nccc"), uint8(2), uint8(3))
	f.Add([]byte("€€€€\n\n\xff\n"), uint8(4), uint8(1))
	f.Add(bytes.Repeat([]byte("x"), 300), uint8(7), uint8(16))
	f.Fuzz(func(t *testing.T, in []byte, chunk, max uint8) {
		if chunk == 0 || max == 0 {
			return
		}
		sp := newSplitter(int(max))
		var got []string
		emit := func(l string, cut int) {
			if len(l) > int(max) {
				t.Fatalf("kept %d bytes > max %d", len(l), max)
			}
			got = append(got, markCut(l, cut))
		}
		for p := in; len(p) > 0; {
			n := min(int(chunk), len(p))
			sp.write(p[:n], emit)
			p = p[n:]
			if len(sp.buf) > int(max)+utf8.UTFMax {
				t.Fatalf("holds %d bytes of a line, max %d", len(sp.buf), max)
			}
		}
		sp.flush(emit)

		var want []string
		parts := strings.Split(string(in), "\n")
		if parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
		for _, p := range parts {
			if len(p) <= int(max)+utf8.UTFMax {
				p = strings.TrimSuffix(p, "\r")
			}
			want = append(want, markCut(cutLine(p, int(max))))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
	})
}
