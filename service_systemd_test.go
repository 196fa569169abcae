package sreagent_test

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/localsre/sre-agent/internal/service/systemdtest"
)

// installed returns a `make install DESTDIR=…` tree of this clone, made
// once per test binary.
func installed(t *testing.T) string {
	t.Helper()
	dest := t.TempDir()
	cmd := exec.Command("make", "-s", "install", "DESTDIR="+dest, "PREFIX=/usr/local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	return dest
}

// serviceBlock is README's "Run it as a service" block.
func serviceBlock(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, blk := range readmeBlocks(t, string(b)) {
		if blk.systemd {
			var cmds []string
			for _, l := range strings.Split(strings.TrimSpace(blk.text), "\n") {
				if i := strings.Index(l, "  #"); i >= 0 {
					l = l[:i]
				}
				if l = strings.TrimSpace(l); l != "" {
					cmds = append(cmds, l)
				}
			}
			return cmds
		}
	}
	t.Fatal("README.md: no block marked <!-- README test: run, systemd -->")
	return nil
}

// TestServiceInSystemd: the service under a real systemd (PID 1 in a
// container, internal/service/systemdtest), installed by make install and
// enabled as the README says. It starts with READY and its first event in
// the journal; a SIGKILL of the watched service leaves a report and a crash
// in the journal with its fields at priority 2 (crit); a stage stopped
// with SIGSTOP gets the service restarted by the watchdog; systemctl stop
// loses no event; a user's own unit runs with lingering; and
// systemd-analyze verify and security judge the installed unit.
func TestServiceInSystemd(t *testing.T) {
	if testing.Short() {
		t.Skip("boots systemd in a container")
	}
	m := systemdtest.Start(t)
	dest := installed(t)

	// README's block: make install (here: into DESTDIR, copied into the
	// machine, as the machine has no Go), then its other lines as written.
	cmds := serviceBlock(t)
	if len(cmds) != 3 || cmds[0] != "make install" {
		t.Fatalf("README's service block: %q; want make install and two more", cmds)
	}
	m.CopyTree(t, dest, "/")
	m.Exec(t, "systemctl", "daemon-reload")
	m.Exec(t, "cp", "-r", "/usr/local/share/doc/sre-agent/examples", "/root/deploy-systemd") // the clone's deploy/systemd
	m.Exec(t, "mkdir", "-p", "/root/deploy")
	m.Exec(t, "ln", "-sfn", "/root/deploy-systemd", "/root/deploy/systemd")
	for _, c := range cmds[1:] {
		cmd := strings.ReplaceAll(c, "journalctl -u sre-agent@demo", "journalctl --no-pager -u sre-agent@demo")
		if out, code := m.Run("sh", "-c", "cd /root && "+cmd); code != 0 {
			t.Fatalf("README: %s: exit %d\n%s", c, code, out)
		}
	}
	u := m.WaitUnit(t, "sre-agent@demo.service", "active/running", 2*time.Minute)
	if !strings.Contains(u.StatusText, "watching myapp every 1s") {
		t.Errorf("status %q", u.StatusText)
	}
	// The example watches myapp, which is not running: its first event is
	// absent, in the journal with its fields.
	first := m.WaitJournal(t, 2*time.Minute, "SRE_EVENT_TYPE=absent")
	if f := first[0]; f["SRE_TARGET"] != "myapp" || f["_SYSTEMD_UNIT"] != "sre-agent@demo.service" || f["SRE_WATCH"] != "demo" {
		t.Errorf("the first event's entry: %v", f)
	}

	// A real service to watch, and the watch pointed at it.
	m.Exec(t, "cp", "/bin/sleep", "/usr/local/bin/sre-victim")
	m.Exec(t, "systemd-run", "--unit", "victim", "--property", "Restart=no", "/usr/local/bin/sre-victim", "3600")
	m.WaitUnit(t, "victim.service", "active", time.Minute)
	m.Exec(t, "sh", "-c", `printf 'watch:\n  name: sre-victim\ninterval: 200ms\ndetect:\n  absent_after: 0s\n' > /etc/sre-agent/demo.yaml`)
	m.Exec(t, "systemctl", "restart", "sre-agent@demo")
	m.WaitUnit(t, "sre-agent@demo.service", "active/running", 2*time.Minute)
	m.WaitJournal(t, time.Minute, "SRE_EVENT_TYPE=started", "SRE_TARGET=sre-victim")

	// SIGKILL: a report, and the crash in the journal at priority 2.
	vpid := m.MainPID(t, "victim.service")
	m.Exec(t, "kill", "-KILL", strconv.Itoa(vpid))
	crash := m.WaitJournal(t, time.Minute, "SRE_EVENT_TYPE=crash")[0]
	rep, _ := crash["SRE_REPORT"].(string)
	// The unit's own user may not read root's exit status: the message
	// says so, and never makes one up (the kernel shows it as 0).
	if crash["PRIORITY"] != "2" || crash["SRE_TARGET"] != "sre-victim" || crash["SRE_PID"] != strconv.Itoa(vpid) ||
		crash["SRE_EVENT_ID"] == nil || !strings.Contains(fmt.Sprint(crash["MESSAGE"]), "is gone (exit status unknown)") || crash["SYSLOG_IDENTIFIER"] != "sre-agent" {
		t.Errorf("the crash's journal entry: %v", crash)
	}
	if !strings.HasPrefix(rep, "/var/lib/sre-agent/demo/") {
		t.Errorf("SRE_REPORT %q: not in the unit's state directory", rep)
	} else if out, code := m.Run("test", "-s", rep); code != 0 {
		t.Errorf("the report %s is not there: %s", rep, out)
	}

	// SIGSTOP of a stage: the pings stop and systemd's watchdog restarts
	// the service (WatchdogSec=15s, after 5 s without a record).
	before := m.Show(t, "sre-agent@demo.service")
	stage := strings.TrimSpace(m.Exec(t, "pgrep", "-o", "-f", "sre-report --dir /var/lib/sre-agent/demo"))
	m.Exec(t, "kill", "-STOP", stage)
	stopped := time.Now()
	after := m.WaitUnitFunc(t, "sre-agent@demo.service", "restarted by the watchdog", 2*time.Minute, func(u systemdtest.Unit) bool {
		return u.NRestarts > before.NRestarts && u.ActiveState == "active" && u.SubState == "running"
	})
	took := time.Since(stopped)
	t.Logf("a stage stopped at +0: the service restarted and ready again after %s (WatchdogSec=15s)", took.Round(time.Second))
	if after.MainPID == before.MainPID {
		t.Error("the same main process after the restart")
	}
	if len(m.Journal(t, "_SYSTEMD_UNIT=init.scope", "UNIT=sre-agent@demo.service")) == 0 &&
		!strings.Contains(m.Exec(t, "journalctl", "--no-pager", "-u", "sre-agent@demo"), "Watchdog timeout") {
		t.Error("the journal does not say the watchdog restarted it")
	}
	if took > 60*time.Second {
		t.Errorf("restarted %s after the stage stopped; want within 5 s + WatchdogSec (15 s) + a restart", took)
	}

	// systemctl stop loses no event: each one the journal has is in the
	// archive once the unit is inactive, the stop was clean.
	m.Exec(t, "systemd-run", "--unit", "victim2", "--property", "Restart=no", "/usr/local/bin/sre-victim", "3600")
	m.WaitJournal(t, time.Minute, "SRE_EVENT_TYPE=started", "SRE_TARGET=sre-victim", fmt.Sprintf("_PID=%d", after.MainPID))
	m.Exec(t, "systemctl", "stop", "sre-agent@demo")
	st := m.Show(t, "sre-agent@demo.service")
	if st.ActiveState != "inactive" || st.Result != "success" {
		t.Errorf("after stop: %+v", st)
	}
	archive := m.Exec(t, "cat", "/var/lib/sre-agent/demo/events.ndjson")
	for _, e := range m.Journal(t, "SYSLOG_IDENTIFIER=sre-agent", "SRE_WATCH=demo") {
		if id, _ := e["SRE_EVENT_ID"].(string); id != "" && !strings.Contains(archive, `"id":"`+id+`"`) {
			t.Errorf("event %s (%v) is in the journal, not in the archive", id, e["SRE_EVENT_TYPE"])
		}
	}
	if !strings.Contains(m.Exec(t, "journalctl", "--no-pager", "-u", "sre-agent@demo"), "stopped; every stage flushed and exited") {
		t.Error("the stop did not say every stage flushed")
	}

	// systemd-analyze, on the unit as installed.
	if out := strings.TrimSpace(m.Exec(t, "systemd-analyze", "verify", "sre-agent@demo.service")); out != "" {
		t.Errorf("systemd-analyze verify: %s", out)
	}
	sec := m.Exec(t, "systemd-analyze", "security", "--no-pager", "sre-agent@demo.service")
	if mm := regexp.MustCompile(`Overall exposure level for sre-agent@demo.service: ([0-9.]+) (\w+)`).FindStringSubmatch(sec); mm == nil {
		t.Errorf("no exposure level:\n%s", sec)
	} else {
		t.Logf("systemd-analyze security sre-agent@demo.service (under systemd 252): %s %s", mm[1], mm[2])
		if v, _ := strconv.ParseFloat(mm[1], 64); v > 2.0 {
			t.Errorf("exposure %s; want 2.0 or better", mm[1])
		}
	}

	// A user's own watch, kept running by lingering.
	user := systemdtest.User
	m.Linger(t, user)
	m.Exec(t, "runuser", "-u", user, "--", "sh", "-c",
		`mkdir -p ~/.config/sre-agent && printf 'watch:\n  name: sre-uvictim\ninterval: 200ms\n' > ~/.config/sre-agent/mine.yaml && cp /bin/sleep ~/sre-uvictim`)
	m.Exec(t, "runuser", "-u", user, "--", "sh", "-c", "setsid ~/sre-uvictim 3600 >/dev/null 2>&1 < /dev/null &")
	m.ExecAsUser(t, user, "systemctl", "--user", "enable", "--now", "sre-agent@mine")
	uid := m.UID(t, user)
	m.WaitJournal(t, 2*time.Minute, "SRE_EVENT_TYPE=started", "SRE_TARGET=sre-uvictim", fmt.Sprintf("_UID=%d", uid))
	m.Exec(t, "pkill", "-KILL", "-x", "sre-uvictim")
	m.WaitJournal(t, time.Minute, "SRE_EVENT_TYPE=crash", "SRE_TARGET=sre-uvictim", fmt.Sprintf("_UID=%d", uid))
	// The user's state directory: ~/.local/state on systemd 254 and later,
	// ~/.config on 252 (this machine's).
	if out, code := m.AsUser(t, user, "sh", "-c", "cat ~/.local/state/sre-agent/mine/events.ndjson ~/.config/sre-agent/mine/events.ndjson 2>/dev/null | grep -c '\"type\":\"crash\"'"); code != 0 || strings.TrimSpace(out) != "1" {
		found, _ := m.AsUser(t, user, "sh", "-c", "find ~ -name events.ndjson")
		t.Errorf("the user's archive: %q (exit %d); archives: %s", out, code, found)
	}
}
