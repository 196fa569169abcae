package sampler

import (
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A watcher script's --match pattern is in its own command line, in its
// subshells' (bash forks one per pipeline stage, with the same argv) and in
// the sudo that launched it. None of them is the target; the real worker,
// and an ancestor that merely runs the watcher (a login shell whose name
// matches), are.
func TestRunExcludeTree(t *testing.T) {
	proc := func(pid, ppid int, start uint64, args ...string) fproc {
		p := worker(pid, start)
		p.PPID, p.Args, p.Comm = ppid, args, "x"
		p.Exe = ""
		return p
	}
	watch := []string{"bash", "/usr/local/bin/sre-watch", "--match", "worker --id"}
	f := newFixture(t)
	f.add(worker(300, 4000))                                                                     // the target
	f.add(proc(497, 1, 4100, "login: worker --id shell"))                                        // an ancestor, not a launcher
	f.add(proc(498, 497, 4200, "sudo", "sre-watch", "--match", "worker --id"))                   // launcher
	f.add(proc(499, 498, 4300, "sudo", "sre-watch", "--match", "worker --id"))                   // sudo's pty child, a launcher too
	f.add(proc(500, 499, 4400, watch...))                                                        // the watcher
	f.add(proc(501, 500, 4500, watch...))                                                        // a pipeline stage's subshell
	f.add(proc(502, 501, 4600, "jq", "-r", "select(.msg | test(\"worker --id\"))"))              // a tool in the pipeline
	f.add(proc(503, 500, 4700, "sre-sample", "--exclude-tree", "500", "--match", "worker --id")) // the sampler
	target := Target{Label: "match", Kind: ByMatch, Match: regexp.MustCompile(`worker --id`)}
	r := f.run(1, []Target{target}, func(c *Config) { c.Exclude = []int{500} }, nil)
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	want := []brief{
		{Target: "match", Up: true, Matches: 2, PID: 300, StartTicks: 4000},
		{Target: "match", Up: true, Matches: 2, PID: 497, StartTicks: 4100},
	}
	if diff := cmp.Diff(want, briefs(t, r.samples)); diff != "" {
		t.Errorf("samples (-want +got):\n%s", diff)
	}
}

func TestLaunched(t *testing.T) {
	tests := []struct {
		name         string
		outer, inner []string
		want         bool
	}{
		{"sudo of a binary", []string{"sudo", "sre-sample", "--match", "api"}, []string{"sre-sample", "--match", "api"}, true},
		{"sudo of a script by path", []string{"sudo", "./scripts/sre-watch", "--match", "api"}, []string{"bash", "/src/scripts/sre-watch", "--match", "api"}, true},
		{"timeout", []string{"timeout", "1h", "sre-watch", "api"}, []string{"/bin/bash", "/usr/bin/sre-watch", "api"}, true},
		{"other arguments", []string{"sudo", "sre-watch", "--match", "db"}, []string{"bash", "sre-watch", "--match", "api"}, false},
		{"a shell", []string{"bash"}, []string{"bash", "sre-watch", "api"}, false},
		{"the same program is not its own launcher", []string{"sre-watch", "api"}, []string{"sre-watch", "api"}, false},
		{"empty", nil, []string{"sre-watch", "api"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := launched(tt.outer, tt.inner); got != tt.want {
				t.Errorf("launched(%q, %q) = %v, want %v", tt.outer, tt.inner, got, tt.want)
			}
		})
	}
}
