// Command sre-agent runs one watch as a long-running service.
package main

import (
	"os"

	"github.com/localsre/sre-agent/internal/agentcmd"
	"github.com/localsre/sre-agent/internal/cli"
)

func main() { os.Exit(cli.Main("sre-agent", agentcmd.Run)) }
