package report

import (
	"strings"
	"testing"
	"time"
)

// A crash whose process was caught being torn down: "Process at last
// sight" is the live reading with the time it was taken, and the teardown
// reading (RSS 0, 1 thread) is shown apart, labelled, never as the
// process's figures.
func TestRenderTeardownGolden(t *testing.T) {
	ev := fixtureEvent()
	ev.Detail["last_sight"] = "2026-11-27T03:41:10.000000000Z"
	ev.Detail["teardown"] = map[string]any{"ts": "2026-11-27T03:41:11.200000000Z", "rss_bytes": 0.0, "threads": 1.0, "state": "R"}
	r := &Report{Event: ev, ShortID: "3f9a1c2e", Name: "x.txt",
		WrittenAt: time.Date(2026, 11, 27, 3, 41, 11, 300000000, time.UTC), Local: time.FixedZone("CET", 3600)}
	got := Render(r)
	checkGolden(t, "teardown.golden.txt", got)
	section := string(got)
	section = section[strings.Index(section, "== Process at last sight =="):]
	section = section[:strings.Index(section, "\n== Run-up")]
	for _, line := range []string{
		"RSS:             512.0 MiB (536870912 bytes)",
		"Threads:         12",
		"Read-At:         2026-11-27T03:41:10.000000000Z (the last reading of the live process)",
		"Teardown:        RSS 0 B, threads 1, state R, at 2026-11-27T03:41:11.200000000Z (read while the kernel was ending the process, not its last live state)",
	} {
		if !strings.Contains(section, line+"\n") {
			t.Errorf("process section lacks %q:\n%s", line, section)
		}
	}
	if strings.Contains(string(got), "last_sight:") || strings.Contains(string(got), "teardown:") {
		t.Errorf("teardown repeated in the event detail:\n%s", got)
	}
}
