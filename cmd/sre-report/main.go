// Command sre-report writes forensic reports and the event archive.
package main

import (
	"os"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/reportcmd"
)

func main() { os.Exit(cli.Main("sre-report", reportcmd.Run)) }
