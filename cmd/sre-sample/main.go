// Command sre-sample samples processes and the host as NDJSON records.
package main

import (
	"os"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/samplecmd"
)

func main() { os.Exit(cli.Main("sre-sample", samplecmd.Run)) }
