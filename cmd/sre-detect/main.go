// Command sre-detect turns samples into events: crashes, recoveries,
// memory pressure, leaks, thread and fd trouble, custom jq conditions.
package main

import (
	"os"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/detectcmd"
)

func main() { os.Exit(cli.Main("sre-detect", detectcmd.Run)) }
