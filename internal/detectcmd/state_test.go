package detectcmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/localsre/sre-agent/internal/cli"
)

// TestState: --state keeps each target's last sighting, and a second run
// on it tells what happened meanwhile; a file that is not one is refused,
// naming it.
func TestState(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "detect.state")
	proc := `"process":{"pid":42,"ppid":1,"start":"2026-01-01T00:00:00.000000000Z","start_ticks":7,"name":"api","state":"S","cpu_time_s":0,"rss_bytes":1000,"vms_bytes":2000,"threads":1}`
	up := `{"v":1,"kind":"sample","ts":"2026-01-01T00:00:10Z","host":"h","src":"sre-sample","target":"api","seq":1,"up":true,"matches":1,` + proc + "}\n"
	if _, stderr, err := run(t, []byte(up), "--state", state); err != nil {
		t.Fatalf("first run: %v\n%s", err, stderr)
	}
	var sf stateFile
	b, _ := os.ReadFile(state)
	if json.Unmarshal(b, &sf) != nil || sf.V != 1 || len(sf.Targets) != 1 || sf.Targets[0].PID != 42 || !sf.Targets[0].Up {
		t.Fatalf("state file: %s", b)
	}
	down := `{"v":1,"kind":"sample","ts":"2026-01-01T00:05:00Z","host":"h","src":"sre-sample","target":"api","seq":1,"up":false,"matches":0}` + "\n"
	out, stderr, err := run(t, []byte(down), "--state", state)
	if err != nil || !strings.Contains(string(out), `"type":"crash"`) || !strings.Contains(string(out), `"unwatched":true`) {
		t.Fatalf("second run: %v\n%s\n%s", err, out, stderr)
	}
	os.WriteFile(state, []byte("garbage"), 0o644)
	_, _, err = run(t, []byte(down), "--state", state)
	if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), "--state "+state+": not a state file") {
		t.Errorf("a bad state file: %v", err)
	}
	// A directory it cannot write into: said once, the stream goes on.
	_, stderr, err = run(t, []byte(up+strings.Replace(up, "00:00:10", "00:00:13", 1)), "--state", filepath.Join(dir, "none", "x.state"))
	if err != nil || strings.Count(string(stderr), "a restart will not know") != 1 {
		t.Errorf("an unwritable state file: %v\n%s", err, stderr)
	}
}
