package detectcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/detect"
	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/event/eventtest"
)

var update = flag.Bool("update", false, "rewrite testdata/detect/*.want.* from the current output")

const goldenDir = "../../testdata/detect"

// run drives the command over in with args, as Main would.
func run(t *testing.T, in []byte, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	std := cli.IO{In: bytes.NewReader(in), Out: &out, Err: &errb, Getenv: func(string) string { return "" }, Now: time.Now}
	err = Run(context.Background(), std, args)
	return out.Bytes(), errb.Bytes(), err
}

// TestGolden replays recorded sample streams (testdata/detect/CASE.in.ndjson
// with the flags in CASE.args) and compares stdout and stderr with
// CASE.want.ndjson and CASE.want.stderr. `go test -run Golden -update`
// rewrites them; review the diff.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join(goldenDir, "*.args"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases in %s: %v", goldenDir, err)
	}
	for _, c := range cases {
		name := strings.TrimSuffix(filepath.Base(c), ".args")
		t.Run(name, func(t *testing.T) {
			base := filepath.Join(goldenDir, name)
			argLine, err := os.ReadFile(c)
			if err != nil {
				t.Fatal(err)
			}
			args := splitArgs(t, strings.TrimSpace(string(argLine)))
			in, err := os.ReadFile(base + ".in.ndjson")
			if err != nil {
				t.Fatal(err)
			}
			out, errOut, err := run(t, in, args...)
			if err != nil {
				t.Fatalf("Run %v: %v\n%s", args, err, errOut)
			}
			if *update {
				writeGolden(t, base+".want.ndjson", out)
				writeGolden(t, base+".want.stderr", errOut)
			}
			for _, g := range []struct {
				file string
				got  []byte
			}{{".want.ndjson", out}, {".want.stderr", errOut}} {
				want, err := os.ReadFile(base + g.file)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if d := cmp.Diff(string(want), string(g.got)); d != "" {
					t.Errorf("%s%s differs (-want +got):\n%s", name, g.file, d)
				}
			}
			checkStream(t, in, out)
			again, _, _ := run(t, in, args...)
			if !bytes.Equal(out, again) {
				t.Errorf("a second run over the same input gave other output")
			}
		})
	}
}

func writeGolden(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkStream asserts what holds for every run, whatever the detectors
// said: records are schema-valid, ids unique and made from their ts, the
// non-sample input passes through unchanged and in order, and conditions
// alternate between entry and exit.
func checkStream(t *testing.T, in, out []byte) {
	t.Helper()
	if len(out) > 0 {
		if _, err := eventtest.ValidateStream(out); err != nil {
			t.Errorf("output is not schema-valid: %v", err)
		}
	}
	var passed, wantPassed []string
	ids := map[string]bool{}
	open := map[string]bool{}
	for _, line := range lines(out) {
		var h struct {
			Kind, Src, ID, Type, Target, TS string
			Process                         *struct{ PID int }
			Detail                          map[string]any
		}
		if err := json.Unmarshal([]byte(line), &h); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		if h.Src != "sre-detect" {
			passed = append(passed, line)
			continue
		}
		if h.Kind != event.KindEvent {
			continue
		}
		if !strings.HasPrefix(h.ID, strings.NewReplacer("-", "", ":", "").Replace(h.TS[:19])) {
			t.Errorf("event id %s does not start with its ts %s", h.ID, h.TS)
		}
		if ids[h.ID] {
			t.Errorf("event id %s used twice", h.ID)
		}
		ids[h.ID] = true
		on, off := pairOf(h.Type)
		if on == "" {
			continue
		}
		key := h.Target + "/" + on + "/" + cond(h.Detail)
		if h.Process != nil {
			key += fmt.Sprintf("/%d", h.Process.PID)
		}
		switch h.Type {
		case on:
			if open[key] {
				t.Errorf("%s fired twice without %s between (%s)", on, off, key)
			}
			open[key] = true
		case off:
			if !open[key] {
				t.Errorf("%s without %s before it (%s)", off, on, key)
			}
			open[key] = false
		}
	}
	for _, line := range lines(in) {
		var h struct {
			V    *int
			Kind string
		}
		if json.Unmarshal([]byte(line), &h) != nil || h.V == nil || *h.V != 1 || h.Kind == "" || h.Kind == event.KindSample {
			continue
		}
		wantPassed = append(wantPassed, line)
	}
	if d := cmp.Diff(wantPassed, passed); d != "" {
		t.Errorf("records passed through (-want +got):\n%s", d)
	}
}

// pairOf returns the entry and exit types of an edge-triggered condition.
func pairOf(typ string) (on, off string) {
	for _, p := range [][2]string{{"memory_high", "memory_ok"}, {"cpu_high", "cpu_ok"}, {"fds_high", "fds_ok"}, {"custom", "custom_ok"}} {
		if typ == p[0] || typ == p[1] {
			return p[0], p[1]
		}
	}
	return "", ""
}

func cond(d map[string]any) string {
	for _, k := range []string{"condition", "name"} {
		if v, ok := d[k].(string); ok {
			return v
		}
	}
	return ""
}

func lines(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// splitArgs splits a flag line as a shell would, for single and double
// quotes (enough for CASE.args).
func splitArgs(t *testing.T, s string) []string {
	t.Helper()
	var args []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				args = append(args, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if in {
		args = append(args, cur.String())
	}
	return slices.Clip(args)
}

func readGoldenInput(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(goldenDir, name+".in.ndjson"))
}

// TestDisable: turning a detector off removes its events and nothing else,
// ids included, on every golden stream.
func TestDisable(t *testing.T) {
	types := map[string][]string{
		"crash": {"crash"}, "started": {"started"}, "recovered": {"recovered"}, "restarted": {"restarted"},
		"absent": {"absent"}, "memory": {"memory_high", "memory_ok"}, "leak": {"leak_suspected"},
		"threads": {"threads_changed"}, "fds": {"fds_high", "fds_ok"}, "cpu": {"cpu_high", "cpu_ok"},
		"oom": {"oom_kill", detect.NoticeHostOOMKill}, "custom": {"custom", "custom_ok"},
		"unhealthy": {"unhealthy"}, "flapping": {"flapping"},
	}
	cases, _ := filepath.Glob(filepath.Join(goldenDir, "*.args"))
	for _, c := range cases {
		name := strings.TrimSuffix(filepath.Base(c), ".args")
		argLine, _ := os.ReadFile(c)
		args := splitArgs(t, strings.TrimSpace(string(argLine)))
		in, err := readGoldenInput(name)
		if err != nil {
			t.Fatal(err)
		}
		all, _, err := run(t, in, args...)
		if err != nil {
			t.Fatal(err)
		}
		for det, ts := range types {
			got, _, err := run(t, in, append(args, "--disable", det)...)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, l := range lines(all) {
				var h struct{ Type, Code, Src string }
				_ = json.Unmarshal([]byte(l), &h)
				if h.Src != "sre-detect" || !slices.Contains(ts, h.Type+h.Code) {
					want = append(want, l)
				}
			}
			if d := cmp.Diff(want, lines(got)); d != "" {
				t.Errorf("%s --disable %s (-want +got):\n%s", name, det, d)
			}
		}
	}
}
