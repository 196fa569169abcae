// Command sre-sample samples processes and the host as NDJSON records.
package main

import (
	"os"
	"runtime"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/samplecmd"
)

func main() {
	// One sampling loop needs one processor. With more, each tick's wake-up
	// also wakes an idle thread to look for work (bench/README.md); a
	// GOMAXPROCS from the environment still wins.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	os.Exit(cli.Main("sre-sample", samplecmd.Run))
}
