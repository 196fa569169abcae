package detectcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/cli"
)

// lineReader hands out its data one line per Read, as a live pipe from
// sre-sample does: no further line is ever waiting, so every record leaves
// the reading goroutine in a batch of its own (pipeline.go).
type lineReader struct{ data []byte }

func (r *lineReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := bytes.IndexByte(r.data, '\n') + 1
	if n == 0 {
		n = len(r.data)
	}
	n = copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// runWays runs sre-detect over in twice, through Run: with in all there at
// once (batches as large as they come) and with in arriving one line per
// read (a batch per record). It fails unless stdout, stderr and the result
// are the same, or a line of stdout is not one JSON value: a bad line the
// reader left to the decoder must never be passed on.
func runWays(t *testing.T, in []byte, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var outs, errs [2]bytes.Buffer
	var results [2]error
	for i, r := range []io.Reader{bytes.NewReader(in), &lineReader{in}} {
		std := cli.IO{In: r, Out: &outs[i], Err: &errs[i], Getenv: func(string) string { return "" }, Now: time.Now}
		results[i] = Run(context.Background(), std, args)
	}
	if d := cmp.Diff(outs[0].String(), outs[1].String()); d != "" {
		t.Fatalf("args %q, input %.200q: stdout differs (-at once +line by line):\n%s", args, in, d)
	}
	if d := cmp.Diff(errs[0].String(), errs[1].String()); d != "" {
		t.Fatalf("args %q, input %.200q: stderr differs (-at once +line by line):\n%s", args, in, d)
	}
	if fmt.Sprint(results[0]) != fmt.Sprint(results[1]) {
		t.Fatalf("args %q: result %v at once, %v line by line", args, results[0], results[1])
	}
	for i, l := range lines(outs[0].Bytes()) {
		if !json.Valid([]byte(l)) {
			t.Fatalf("args %q, input %.200q: stdout line %d is not JSON: %.200q", args, in, i+1, l)
		}
	}
	return outs[0].String(), errs[0].String(), results[0]
}

// badSampleLines start as a sample does, so the reader leaves them to the
// decoder; all but the last two are not records at all.
var badSampleLines = []string{
	sampleLine[:len(sampleLine)-1] + `,}`,
	sampleLine[:len(sampleLine)-1] + `,"x":}`,
	sampleLine + ` x`,
	sampleLine[:len(sampleLine)-1] + `}}`,
	sampleLine[:len(sampleLine)-2] + `}`, // the process is not closed
	sampleLine[:len(sampleLine)-1] + `,"s":"a` + "\x01" + `"}`,
	sampleLine[:len(sampleLine)-1] + `,"s":"\x"}`,
	sampleLine[:len(sampleLine)-1] + `,"n":01}`,
	sampleLine[:len(sampleLine)-1] + `,"n":1.}`,
	sampleLine[:len(sampleLine)-1] + `,"n":[` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `]}`,
	sampleLine[:len(sampleLine)-1] + `,"v":2}`,
	sampleLine[:len(sampleLine)-1] + `,"v":"1"}`,
	sampleLine[:len(sampleLine)-1] + `,"kind":""}`,
	strings.Replace(sampleLine, `"pid":42`, `"pid":042`, 1),
	strings.Replace(sampleLine, `"threads":1`, `"threads":tru`, 1),
	strings.Replace(sampleLine, `"ts":"2026-01-01T00:00:00.000000000Z"`, `"ts":"2026-01-01T00:00:00.000000000Z`, 1),
	// records, though not plain ones: the reader has the last word
	sampleLine[:len(sampleLine)-1] + `,"kind":"event"}`,
	sampleLine[:len(sampleLine)-1] + `,"KIND":"sample","v":1}`,
}

// TestBadLineAnywhere: a bad line in any position of a stream, with or
// without --pass and --strict, is skipped and counted: stdout is the
// stream's without it, stderr warns at its line, --strict fails. The last
// two, records after all, go on as the kind they name.
func TestBadLineAnywhere(t *testing.T) {
	base, err := readGoldenInput("crash_real")
	if err != nil {
		t.Fatal(err)
	}
	good := lines(base)
	argSets := [][]string{nil, {"--pass"}, {"--strict", "--summary", "1s"}}
	var want [3]string
	for i, args := range argSets {
		out, errOut, err := run(t, base, args...)
		if err != nil {
			t.Fatalf("args %q: good stream: %v\n%s", args, err, errOut)
		}
		want[i] = string(out)
	}
	records := len(badSampleLines) - 2
	for b, bad := range badSampleLines {
		for pos := 0; pos <= len(good); pos++ {
			in := append(append(append([]string{}, good[:pos]...), bad), good[pos:]...)
			data := []byte(strings.Join(in, "\n") + "\n")
			for i, args := range argSets {
				stdout, stderr, err := runWays(t, data, args...)
				warned := strings.Contains(stderr, fmt.Sprintf("line %d skipped (", pos+1))
				passed := strings.Contains(stdout, bad+"\n")
				switch {
				case b < records:
					if !warned {
						t.Errorf("bad line %d at line %d, args %q: no warning for it:\n%s", b, pos+1, args, stderr)
					}
					if stdout != want[i] {
						t.Errorf("bad line %d at line %d, args %q: stdout is not the stream's without it:\n%s", b, pos+1, args, cmp.Diff(want[i], stdout))
					}
					if args != nil && args[0] == "--strict" && err == nil {
						t.Errorf("bad line %d at line %d: --strict did not fail", b, pos+1)
					}
				case b == records: // "kind":"event" after "kind":"sample": an event, passed on
					if warned || !passed {
						t.Errorf("line %.80q at line %d, args %q: warned %v, passed on %v; want passed on unwarned", bad, pos+1, args, warned, passed)
					}
				default: // "KIND" is not "kind": a sample, passed on with --pass only
					if warned || passed != (args != nil && args[0] == "--pass") {
						t.Errorf("line %.80q at line %d, args %q: warned %v, passed on %v", bad, pos+1, args, warned, passed)
					}
				}
			}
		}
	}
}

// TestGoldenLineByLine: every recorded stream gives its golden output
// (testdata/detect) also when its lines arrive one read at a time, as from
// a live sre-sample, so that every record is a batch of its own.
func TestGoldenLineByLine(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join(goldenDir, "*.args"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases in %s: %v", goldenDir, err)
	}
	for _, c := range cases {
		base := strings.TrimSuffix(c, ".args")
		argLine, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		args := splitArgs(t, strings.TrimSpace(string(argLine)))
		in, err := os.ReadFile(base + ".in.ndjson")
		if err != nil {
			t.Fatal(err)
		}
		stdout, stderr, err := runWays(t, in, args...)
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		for _, g := range []struct{ file, got string }{{".want.ndjson", stdout}, {".want.stderr", stderr}} {
			want, err := os.ReadFile(base + g.file)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), g.got); d != "" {
				t.Errorf("%s%s differs (-want +got):\n%s", base, g.file, d)
			}
		}
	}
}

// FuzzDetectInput: for any input, sre-detect gives the same output,
// warnings and counts whether the input comes at once or line by line,
// and passes on nothing that is not JSON.
func FuzzDetectInput(f *testing.F) {
	f.Add([]byte(sampleLine+"\n"+sampleLine+"\n"), false)
	for _, l := range badSampleLines[:len(badSampleLines)-8] {
		f.Add([]byte(sampleLine+"\n"+l+"\n"), true)
	}
	if in, err := readGoldenInput("bad_input"); err == nil {
		f.Add(in, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, pass bool) {
		var args []string
		if pass {
			args = append(args, "--pass")
		}
		runWays(t, data, args...)
	})
}

// TestBatches: streams longer than a batch, lines larger than a batch's
// buffer, and bad lines on either side of a batch's end read the same as
// with a batch per record, and every good record passes on (--pass).
func TestBatches(t *testing.T) {
	base, err := readGoldenInput("leak")
	if err != nil {
		t.Fatal(err)
	}
	good := lines(base)
	big := sampleLine[:len(sampleLine)-1] + `,"pad":"` + strings.Repeat("x", batchBytes+100) + `"}`
	var in []string
	bigs := 0
	for i := 0; i < 3*batchLines; i++ {
		in = append(in, good[i%len(good)])
		switch i % 97 {
		case batchLines%97 - 1, batchLines % 97, 13:
			in = append(in, badSampleLines[i%len(badSampleLines)])
		case 50:
			in = append(in, big, "", "not json")
			bigs++
		}
	}
	data := []byte(strings.Join(in, "\n") + "\n")
	for _, args := range [][]string{nil, {"--pass"}, {"--strict"}} {
		stdout, _, _ := runWays(t, data, args...)
		if args != nil && args[0] == "--pass" {
			if n := strings.Count(stdout, big+"\n"); n != bigs {
				t.Errorf("--pass: the line larger than a batch passed %d times, want %d", n, bigs)
			}
			if n, want := strings.Count(stdout, `"kind":"sample"`), 3*batchLines+bigs; n < want {
				t.Errorf("--pass: %d samples passed on, want at least %d", n, want)
			}
		}
	}
}

// failAfter hands out data, then fails.
type failAfter struct{ data []byte }

func (f *failAfter) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, errors.New("device gone")
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestReadError: a read error ends the run after the records read before
// it: stdout and stderr are the start of a clean run's (which goes on to
// flush and count), with every record passed on.
func TestReadError(t *testing.T) {
	in, err := readGoldenInput("bad_input")
	if err != nil {
		t.Fatal(err)
	}
	cleanOut, cleanErr, err := run(t, in, "--pass")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	std := cli.IO{In: &failAfter{in}, Out: &out, Err: &errb, Getenv: func(string) string { return "" }, Now: time.Now}
	err = Run(context.Background(), std, []string{"--pass"})
	if err == nil || !strings.Contains(err.Error(), "device gone") {
		t.Errorf("result %v does not name the read error", err)
	}
	if !bytes.HasPrefix(cleanOut, out.Bytes()) || !bytes.HasPrefix(cleanErr, errb.Bytes()) {
		t.Fatalf("read error: output is not the start of a clean run's:\n%s\n%s\nclean:\n%s\n%s", errb.String(), out.String(), cleanErr, cleanOut)
	}
	for _, l := range lines(in) {
		if bytes.Contains(cleanOut, []byte(l+"\n")) && !strings.Contains(out.String(), l+"\n") {
			t.Errorf("read error: record %.100q, read before it, was not passed on", l)
		}
	}
}
