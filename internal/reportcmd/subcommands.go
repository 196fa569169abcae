package reportcmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/localsre/sre-agent/internal/cli"
)

// subcommand is one of sre-report's readers of the archive: its name, the
// function that runs it, and its line in the usage text.
type subcommand struct {
	name    string
	run     func(ctx context.Context, std cli.IO, args []string) error
	args    string // after "sre-report NAME" in the usage line
	summary string
}

// subcommands are sre-report's subcommands, in the order the usage lists
// them; each lives in a file of its name.
var subcommands = []subcommand{
	{"list", runList, "[flags]", "the incidents in the archive"},
	{"show", runShow, "ID", "print one report (event id or report id)"},
	{"verify", runVerify, "", "prove no report was altered, removed or inserted"},
	{"prune", runPrune, "[policy flags]", "remove old incidents, rotate the archive, by policy"},
	{"ecs", runECS, "[--follow] [FILE...]", "the archive as ECS documents, for Elasticsearch"},
	{"serve", runServe, "[flags]", "the read-only dashboard, in a browser (127.0.0.1:9479)"},
}

// findSubcommand returns the subcommand called name, or nil.
func findSubcommand(name string) *subcommand {
	for i := range subcommands {
		if subcommands[i].name == name {
			return &subcommands[i]
		}
	}
	return nil
}

// usageLine is one line of the usage's synopsis: the command, and after
// it, aligned, what it does.
func usageLine(cmd, summary string) string {
	return fmt.Sprintf("  %-40s %s\n", cmd, summary)
}

// subcommandUsage is the synopsis lines of the subcommands.
func subcommandUsage() string {
	var b strings.Builder
	for _, s := range subcommands {
		b.WriteString(usageLine(strings.TrimSpace("sre-report "+s.name+" "+s.args), s.summary))
	}
	return b.String()
}

// subcommandNames is the subcommands' names, as "list, show, …".
func subcommandNames() string {
	names := make([]string, len(subcommands))
	for i, s := range subcommands {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}
