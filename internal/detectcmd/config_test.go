package detectcmd

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/localsre/sre-agent/internal/cli"
)

// sampleAt is a sample of pid 42 with RSS rss (and a cgroup limit when
// cgroupMax > 0), its seq and ts seconds after 00:00.
func sampleAt(seq, sec int, rss, cgroupMax uint64) string {
	line := strings.Replace(sampleLine, `"seq":1`, `"seq":`+itoa(uint64(seq)), 1)
	line = strings.Replace(line, `"ts":"2026-01-01T00:00:00.000000000Z"`, `"ts":"2026-01-01T00:00:`+pad(sec)+`.000000000Z"`, 1)
	proc := `"rss_bytes":` + itoa(rss)
	if cgroupMax > 0 {
		proc += `,"cgroup_mem_max_bytes":` + itoa(cgroupMax)
	}
	return strings.Replace(line, `"rss_bytes":1000`, proc, 1) + "\n"
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

func pad(sec int) string { return fmt.Sprintf("%02d", sec) }

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "detect.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       string // after "FILE:"
	}{
		{"unknown key", "mem_max: 1GiB\nbogus: 3\n", `2: unknown key "bogus"`},
		{"not yaml", "mem_max: [\n", "1: not YAML"},
		{"bad size", "leak_rate: 1MiB/h\nmem_max: lots\n", `2: mem_max: "lots" is not a size`},
		{"bad duration", "leak_window: soon\n", "1: leak_window:"},
		{"no value", "mem_max:\n", "1: mem_max: want a value"},
		{"list for one value", "leak_window: [1m, 2m]\n", "1: leak_window: takes one value, not a list"},
		{"not a mapping", "- mem_max\n", "1: want a mapping"},
		{"twice", "mem_max: 1G\nmem-max: 2G\n", "2: mem-max: given twice (first on line 1)"},
		{"config in config", "config: other.yaml\n", `1: unknown key "config"`},
		{"two documents", "mem_max: 1G\n---\nmem_max: 2G\n", "1: more than one YAML document"},
		{"bad when", "when: ['a=.x | ']\n", "--when a="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfig(t, tt.body)
			_, _, err := run(t, nil, "--config", p)
			if got := cli.ExitCode(err); got != cli.ExitUsage {
				t.Fatalf("exit %d (%v), want %d", got, err, cli.ExitUsage)
			}
			msg := err.Error()
			if tt.name != "bad when" {
				if !strings.HasPrefix(msg, p+":") || !strings.Contains(msg, tt.want) {
					t.Errorf("error %q, want %q", msg, p+":"+tt.want)
				}
				if strings.Contains(msg, "\n") {
					t.Errorf("error %q: more than one line", msg)
				}
			} else if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q, want %q", msg, tt.want)
			}
		})
	}
	_, _, err := run(t, nil, "--config", "/no/such/detect.yaml")
	if cli.ExitCode(err) != cli.ExitUsage || err.Error() != "--config /no/such/detect.yaml: no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
}

// The file sets what the command line does not; a flag given wins.
func TestConfigSetsFlags(t *testing.T) {
	in := sampleAt(1, 0, 5000, 0) + sampleAt(2, 1, 5000, 0) + sampleAt(3, 2, 5000, 0)
	p := writeConfig(t, "# the seed's memory alarm\nmem_max: 4KiB\nmem_for: 1s\nsummary: 0\n")
	tests := []struct {
		name string
		args []string
		want int // memory_high events
	}{
		{"defaults", []string{"--summary", "0"}, 0},
		{"file", []string{"--config", p}, 1},
		{"flag wins", []string{"--config", p, "--mem-max", "1MiB"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, err := run(t, []byte(in), tt.args...)
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, errOut)
			}
			if got := strings.Count(string(out), `"type":"memory_high"`); got != tt.want {
				t.Errorf("%d memory_high events, want %d:\n%s", got, tt.want, out)
			}
			if tt.want > 0 && strings.Contains(string(out), `"kind":"summary"`) {
				t.Errorf("summary: 0 from the file not applied:\n%s", out)
			}
		})
	}
}

// By default a process near its cgroup's memory limit (90%) is told, in
// terms of that limit; one far below it is not.
func TestMemMaxDefaultOfCgroupLimit(t *testing.T) {
	const limit = 512 << 20
	var near, far strings.Builder
	for i := range 15 {
		near.WriteString(sampleAt(i+1, i, 470<<20, limit))
		far.WriteString(sampleAt(i+1, i, 100<<20, limit))
	}
	out, errOut, err := run(t, []byte(near.String()), "--summary", "0")
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, errOut)
	}
	if !strings.Contains(string(out), `"type":"memory_high"`) || !strings.Contains(string(out), `"threshold_of":"cgroup"`) ||
		!strings.Contains(string(out), "90% of its cgroup's memory limit") {
		t.Errorf("no memory_high against the cgroup limit:\n%s", out)
	}
	out, _, err = run(t, []byte(far.String()), "--summary", "0")
	if err != nil || strings.Contains(string(out), "memory_high") {
		t.Errorf("far below the limit: %v\n%s", err, out)
	}
}

// FuzzConfig: whatever a config file holds, reading it ends in settings or
// in one line naming the line, never a panic or a message over several
// lines.
func FuzzConfig(f *testing.F) {
	for _, s := range []string{
		"mem_max: 80%\nleak_window: 30m\n",
		"when: ['a=.up']\nwhen_for: [a=1m]\n",
		"mem_max: [\n",
		"- a\n- b\n",
		"a: &x 1\nb: *x\n",
		"mem_max: !!binary aGVsbG8=\n",
		"{mem_max: 1G, history: 3}\n",
		"---\n---\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var one string
		var many []string
		fs := cli.NewFlagSet(tool, usage, io.Discard)
		fs.StringVar(&one, "mem-max", "", "")
		fs.StringArrayVar(&many, "when", nil, "")
		_, err := parseConfig(data, fs)
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("error over several lines: %q", err)
		}
	})
}
