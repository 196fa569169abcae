// Command sre-heal acts on events by declarative rules, dry-run by default.
package main

import (
	"os"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/healcmd"
)

func main() { os.Exit(cli.Main("sre-heal", healcmd.Run)) }
