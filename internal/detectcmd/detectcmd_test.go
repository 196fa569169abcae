package detectcmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/cli"
)

const sampleLine = `{"v":1,"kind":"sample","ts":"2026-01-01T00:00:00.000000000Z","host":"h","src":"sre-sample","target":"t","seq":1,"up":true,"matches":1,"process":{"pid":42,"ppid":1,"start":"2026-01-01T00:00:00.000000000Z","start_ticks":7,"name":"t","state":"S","cpu_time_s":0,"rss_bytes":1000,"vms_bytes":2000,"threads":1}}`

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		err  string // in the one-line message
	}{
		{"size", []string{"--mem-max", "lots"}, cli.ExitUsage, `"--mem-max"`},
		{"pct over 100", []string{"--host-mem-min", "120%"}, cli.ExitUsage, `"--host-mem-min"`},
		{"duration", []string{"--cpu-for", "-5s"}, cli.ExitUsage, `"--cpu-for"`},
		{"rate", []string{"--leak-rate", "1MiB/week"}, cli.ExitUsage, `"--leak-rate"`},
		{"delta", []string{"--threads-delta", "1.5"}, cli.ExitUsage, `"--threads-delta"`},
		{"hysteresis", []string{"--hysteresis", "100%"}, cli.ExitUsage, `--hysteresis`},
		{"r2", []string{"--leak-r2", "2"}, cli.ExitUsage, `--leak-r2`},
		{"disable", []string{"--disable", "crash,nope"}, cli.ExitUsage, `--disable nope`},
		{"when form", []string{"--when", "novalue"}, cli.ExitUsage, `--when "novalue"`},
		{"when twice", []string{"--when", "a=.x", "--when", "a=.y"}, cli.ExitUsage, `--when a: given twice`},
		{"when severity", []string{"--when", "a=.x", "--when-severity", "a=loud"}, cli.ExitUsage, `--when-severity a=loud`},
		{"when compile", []string{"--when", "a=.x | "}, cli.ExitUsage, `--when a=".x | "`},
		{"when unknown function", []string{"--when", "a=nosuch(1)"}, cli.ExitUsage, `nosuch`},
		{"argument", []string{"file.ndjson"}, cli.ExitUsage, `unexpected argument`},
		{"fine", []string{"--mem-max", "80%", "--leak-rate", "5MiB/h", "--when", "a=.up", "--when-for", "a=1m", "--disable", "threads"}, cli.ExitOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := run(t, nil, tc.args...)
			if got := cli.ExitCode(err); got != tc.code {
				t.Fatalf("exit %d (%v), want %d", got, err, tc.code)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("error %q does not name %s", err, tc.err)
			}
			if tc.err != "" && !strings.Contains(tc.name, "compile") && strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: more than one line", err)
			}
		})
	}
}

// blockingReader hands out its data, then blocks like an idle pipe.
type blockingReader struct {
	data []byte
	gone chan struct{}
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	<-r.gone
	return 0, io.EOF
}

// syncBuffer is a bytes.Buffer safe to read while Run writes.
type syncBuffer struct {
	mu chan struct{}
	b  bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{mu: make(chan struct{}, 1)} }
func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.String()
}

// TestStop: a stop request (SIGINT/SIGTERM in Main) while the input is
// still open flushes the summary in progress and returns nil (exit 0).
func TestStop(t *testing.T) {
	in := &blockingReader{data: []byte(sampleLine + "\n"), gone: make(chan struct{})}
	defer close(in.gone)
	out := newSyncBuffer()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cli.IO{In: in, Out: out, Err: io.Discard, Getenv: func(string) string { return "" }, Now: time.Now}, nil)
	}()
	for !strings.Contains(out.String(), `"type":"started"`) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after a stop request: %v", err)
	}
	if got := strings.Count(out.String(), `"kind":"summary"`); got != 1 {
		t.Errorf("%d summary records after the stop, want the one in progress:\n%s", got, out.String())
	}
}

type closedWriter struct{}

func (closedWriter) Write([]byte) (int, error) { return 0, syscall.EPIPE }

// TestClosedOutput: a reader that went away ends the run quietly.
func TestClosedOutput(t *testing.T) {
	var errb bytes.Buffer
	err := Run(context.Background(), cli.IO{In: strings.NewReader(sampleLine + "\n"), Out: closedWriter{}, Err: &errb, Getenv: func(string) string { return "" }, Now: time.Now}, nil)
	if err != nil || errb.Len() > 0 {
		t.Errorf("Run to a closed output: %v, stderr %q; want nil and nothing", err, errb.String())
	}
}

// TestStrict: skipped lines fail the run only under --strict.
func TestStrict(t *testing.T) {
	in := []byte("garbage\n" + sampleLine + "\n" + sampleLine + "\n")
	if _, _, err := run(t, in); err != nil {
		t.Errorf("without --strict: %v", err)
	}
	_, stderr, err := run(t, in, "--strict")
	if cli.ExitCode(err) != cli.ExitFailure {
		t.Errorf("--strict: exit %d (%v), want 1", cli.ExitCode(err), err)
	}
	for _, want := range []string{"line 1 skipped (bad_json)", "line 3 skipped (duplicate)", "1 samples skipped (duplicate=1)"} {
		if !strings.Contains(string(stderr), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// TestPass: with --pass the output minus sre-detect's own records is the
// input, byte for byte.
func TestPass(t *testing.T) {
	in, err := readGoldenInput("multi")
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, in, "--pass")
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range lines(out) {
		if !strings.Contains(l, `"src":"sre-detect"`) {
			kept = append(kept, l)
		}
	}
	if got, want := strings.Join(kept, "\n"), strings.Join(lines(in), "\n"); got != want {
		t.Errorf("--pass changed the samples")
	}
}

// Records sre-detect does not consume, and with --pass the samples it
// does, leave byte for byte: fields it does not know (at the top level,
// inside process), unicode escapes and spacing stay, and a sample with
// them is still used (its started event comes, nothing is skipped).
func TestPassKeepsUnknownFields(t *testing.T) {
	sample := func(seq int, extra string) string {
		l := strings.Replace(sampleLine, `"seq":1,`, fmt.Sprintf(`"seq":%d,`, seq), 1)
		l = strings.Replace(l, `"ts":"2026-01-01T00:00:00.`, fmt.Sprintf(`"ts":"2026-01-01T00:00:0%d.`, seq-1), 1)
		return l[:len(l)-2] + extra
	}
	in := []string{
		sample(1, `},"team":"payments","labels":{"env":"prod"}}`),
		sample(2, `,"team":"x","container":{"labels":{"a":"b"}}},"note":"caf\u00e9 \u2028 \ud83d\ude00 ü"}`),
		`{"v":1,"kind":"notice","ts":"2026-01-01T00:00:01.000000000Z","host":"h","src":"x","code":"c","msg":"J\u00fcrgen","labels":{"env":"prod"}}`,
		`{ "v" : 1, "kind" : "event", "ts":"2026-01-01T00:00:01.000000000Z","host":"h","src":"other","id":"e9","type":"custom","severity":"info","target":"t","msg":"m","report":"r.txt","team":"payments" }`,
		`{"v":1,"kind":"summary","ts":"2026-01-01T00:00:01.000000000Z","host":"h","src":"other","target":"t","samples":1,"extra":{"n":[1,2]}}`,
	}
	input := []byte(strings.Join(in, "\n") + "\n")
	for _, pass := range []bool{false, true} {
		var args []string
		want := in[2:]
		if pass {
			args, want = []string{"--pass"}, in
		}
		out, stderr, err := run(t, input, args...)
		if err != nil || len(stderr) > 0 {
			t.Fatalf("--pass=%v: %v, stderr %s", pass, err, stderr)
		}
		var kept []string
		started := false
		for _, l := range lines(out) {
			if strings.Contains(l, `"src":"sre-detect"`) {
				started = started || strings.Contains(l, `"type":"started"`)
				continue
			}
			kept = append(kept, l)
		}
		if diff := cmp.Diff(want, kept); diff != "" {
			t.Errorf("--pass=%v (-want +got):\n%s", pass, diff)
		}
		if !started {
			t.Errorf("--pass=%v: no started event: the samples were not used\n%s", pass, out)
		}
	}
}
