package detectcmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/cli"
)

// runBoth runs sre-detect over in reading each sample once (as Run does)
// and twice (the reader checks every line before the decoder reads it),
// and fails unless stdout, stderr and the result are the same.
func runBoth(t *testing.T, in []byte, args ...string) (stdout, stderr string) {
	t.Helper()
	var outs, errs [2]bytes.Buffer
	var results [2]string
	for i, oneScan := range []bool{true, false} {
		std := cli.IO{In: bytes.NewReader(in), Out: &outs[i], Err: &errs[i], Getenv: func(string) string { return "" }, Now: time.Now}
		results[i] = fmt.Sprint(runScan(context.Background(), std, args, oneScan))
	}
	if d := cmp.Diff(outs[1].String(), outs[0].String()); d != "" {
		t.Fatalf("args %q, input %.200q: stdout differs (-two scans +one):\n%s", args, in, d)
	}
	if d := cmp.Diff(errs[1].String(), errs[0].String()); d != "" {
		t.Fatalf("args %q, input %.200q: stderr differs (-two scans +one):\n%s", args, in, d)
	}
	if results[0] != results[1] {
		t.Fatalf("args %q: result %s reading once, %s reading twice", args, results[0], results[1])
	}
	return outs[0].String(), errs[0].String()
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

// TestOneScanBadLineAnywhere: a bad line in any position of a stream, with
// or without --pass and --strict, is skipped and counted exactly as when
// the reader checks every line first, with the same warning at its line.
func TestOneScanBadLineAnywhere(t *testing.T) {
	base, err := readGoldenInput("crash_real")
	if err != nil {
		t.Fatal(err)
	}
	good := lines(base)
	for b, bad := range badSampleLines {
		for pos := 0; pos <= len(good); pos++ {
			in := append(append(append([]string{}, good[:pos]...), bad), good[pos:]...)
			data := []byte(strings.Join(in, "\n") + "\n")
			for _, args := range [][]string{nil, {"--pass"}, {"--strict", "--summary", "1s"}} {
				_, stderr := runBoth(t, data, args...)
				if b < len(badSampleLines)-2 && !strings.Contains(stderr, fmt.Sprintf("line %d skipped (", pos+1)) {
					t.Errorf("bad line %d at line %d: no warning for it:\n%s", b, pos+1, stderr)
				}
			}
		}
	}
}

// TestOneScanGolden: every recorded stream reads the same once as twice.
func TestOneScanGolden(t *testing.T) {
	for _, name := range []string{"bad_input", "multi", "crash_real", "leak", "custom", "summary"} {
		in, err := readGoldenInput(name)
		if err != nil {
			t.Fatal(err)
		}
		runBoth(t, in)
		runBoth(t, in, "--pass")
	}
}

// FuzzOneScan: for any input, reading samples once gives the output,
// warnings and counts of reading them twice.
func FuzzOneScan(f *testing.F) {
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
		runBoth(t, data, args...)
	})
}

// TestOneScanBatches: streams longer than a batch, lines larger than a
// batch's buffer, and bad lines on either side of a batch's end read the
// same as in one goroutine.
func TestOneScanBatches(t *testing.T) {
	base, err := readGoldenInput("leak")
	if err != nil {
		t.Fatal(err)
	}
	good := lines(base)
	big := sampleLine[:len(sampleLine)-1] + `,"pad":"` + strings.Repeat("x", batchBytes+100) + `"}`
	var in []string
	for i := 0; i < 3*batchLines; i++ {
		in = append(in, good[i%len(good)])
		switch i % 97 {
		case batchLines%97 - 1, batchLines % 97, 13:
			in = append(in, badSampleLines[i%len(badSampleLines)])
		case 50:
			in = append(in, big, "", "not json")
		}
	}
	data := []byte(strings.Join(in, "\n") + "\n")
	for _, args := range [][]string{nil, {"--pass"}, {"--strict"}} {
		runBoth(t, data, args...)
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

// TestOneScanReadError: a read error ends the run after the records read
// before it, as in one goroutine.
func TestOneScanReadError(t *testing.T) {
	in, err := readGoldenInput("bad_input")
	if err != nil {
		t.Fatal(err)
	}
	var outs, errs [2]bytes.Buffer
	var results [2]string
	for i, oneScan := range []bool{true, false} {
		std := cli.IO{In: &failAfter{in}, Out: &outs[i], Err: &errs[i], Getenv: func(string) string { return "" }, Now: time.Now}
		results[i] = fmt.Sprint(runScan(context.Background(), std, []string{"--pass"}, oneScan))
	}
	if outs[0].String() != outs[1].String() || errs[0].String() != errs[1].String() || results[0] != results[1] {
		t.Errorf("read error: one scan gave %s\n%s\n%s\ntwo scans %s\n%s\n%s", results[0], errs[0].String(), outs[0].String(), results[1], errs[1].String(), outs[1].String())
	}
	if !strings.Contains(results[0], "device gone") {
		t.Errorf("result %s does not name the read error", results[0])
	}
}
