// Command sre-score scores the stability of each target from the event archive.
package main

import (
	"os"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/scorecmd"
)

func main() { os.Exit(cli.Main("sre-score", scorecmd.Run)) }
