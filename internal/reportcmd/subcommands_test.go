package reportcmd

import (
	"strings"
	"testing"
)

// TestSubcommandTable: every subcommand in the table is reached through
// Run (its own --help answers), and sre-report's usage names it on a line
// of its own with its one-line summary.
func TestSubcommandTable(t *testing.T) {
	code, top, _ := run(t, nil, "", "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, s := range subcommands {
		code, out, errOut := run(t, nil, "", s.name, "--help")
		if code != 0 || !strings.HasPrefix(out, "sre-report "+s.name+" — ") {
			t.Errorf("%s --help: exit %d, stdout %.60q, stderr %q", s.name, code, out, errOut)
		}
		line := strings.TrimSpace(usageLine(strings.TrimSpace("sre-report "+s.name+" "+s.args), s.summary))
		if !strings.Contains(top, "\n  "+line+"\n") {
			t.Errorf("usage has no line %q:\n%s", line, top)
		}
	}
	_, _, errOut := run(t, nil, "", "nonesuch")
	if want := `(subcommands: list, show, verify, prune, ecs, serve)`; !strings.Contains(errOut, want) {
		t.Errorf("unknown argument: stderr %q does not name the subcommands %s", errOut, want)
	}
}
