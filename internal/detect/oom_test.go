package detect

import (
	"fmt"
	"testing"
)

// Two processes of one target share a memory cgroup, and the kernel's OOM
// killer ends one: its exit sample holds the cgroup's counter as last seen
// (it was read before the kill), the kernel's log names it, and the next
// sample of the other shows the counter risen. That is one OOM kill: the
// crash's (oom_killed), not an oom_kill of the survivor as well, which
// sre-score would count a second time. A later kill in the cgroup that no
// crash told is an oom_kill again.
func TestOOMKillOfOneOfTwoCountedOnce(t *testing.T) {
	e, got := eventsOf(t)
	line := func(sec string, pid int, up bool, kills int, exit string) {
		t.Helper()
		l := fmt.Sprintf(`{"v":1,"kind":"sample","ts":"2026-01-01T00:00:%sZ","host":"h","src":"sre-sample","target":"api","seq":1,"up":%t,"matches":2,`+
			`"process":{"pid":%d,"ppid":1,"start":"2026-01-01T00:00:00Z","start_ticks":%d,"name":"api","state":"S","cpu_time_s":1,"rss_bytes":1000,"vms_bytes":2000,"threads":1,"cgroup":"/api","cgroup_oom_kills":%d}%s}`,
			sec, up, pid, pid, kills, exit)
		if err := e.Sample([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	line("01", 10, true, 0, "")
	line("01", 11, true, 0, "")
	line("02", 10, true, 0, "")
	line("02", 11, true, 0, "")
	// pid 10 is the victim: its exit as last seen, the log naming it
	line("02.5", 10, false, 0, `,"exit":{"pid":10,"noticed":"pidfd","signal":"SIGKILL","signal_num":9,"uptime_s":2.5,"oom_killed":true}`)
	line("03", 11, true, 1, "")
	// a later kill in the cgroup that no crash told
	line("04", 11, true, 2, "")
	var crashes, ooms int
	for _, ev := range *got {
		switch ev.Type {
		case "crash":
			crashes++
			if ev.Detail["oom_killed"] != true {
				t.Errorf("crash without oom_killed: %v", ev.Detail)
			}
		case "oom_kill":
			ooms++
			if ev.Detail["kills"] != uint64(1) {
				t.Errorf("oom_kill of %v kills, want the one no crash told", ev.Detail["kills"])
			}
		}
	}
	if crashes != 1 || ooms != 1 {
		t.Errorf("%d crashes and %d oom_kill events; want 1 crash (the victim's own kill) and 1 oom_kill (the later one)", crashes, ooms)
	}
}
