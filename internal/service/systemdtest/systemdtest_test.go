package systemdtest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// wait is the ceiling of each awaited change: generous, for a loaded
// 2-core machine; a change that comes returns at once.
const wait = time.Minute

// TestMachine boots one machine and checks, in it, each thing the service's
// tests rely on: that systemd is PID 1 and booted clean, that Type=notify
// waits for READY=1 and takes STATUS=, that the watchdog restarts a
// service that stops pinging, that the journal keeps priorities and
// structured fields, that a hardened unit runs, that a DESTDIR tree
// installs, and that an unprivileged user's units run with lingering.
func TestMachine(t *testing.T) {
	m := Start(t)

	t.Run("booted", func(t *testing.T) {
		if m.State != "running" {
			t.Errorf("systemd is %s, not running; failed units: %v", m.State, m.Failed)
		}
		if got := m.Exec(t, "cat", "/proc/1/comm"); got != "systemd" {
			t.Errorf("PID 1 is %q, not systemd", got)
		}
		for _, unit := range []string{"systemd-journald.service", "systemd-logind.service", "dbus.service"} {
			if u := m.Show(t, unit); u.ActiveState != "active" {
				t.Errorf("%s", u)
			}
		}
	})

	t.Run("notify", func(t *testing.T) {
		// Ready only once /run/sre-go exists: until then systemd must hold
		// the unit in activating, as it would not for Type=simple.
		m.Exec(t, "systemd-run", "--no-block", "--unit", "sre-probe",
			"--property", "Type=notify", "--property", "NotifyAccess=all",
			"/bin/sh", "-c", `while [ ! -e /run/sre-go ]; do sleep 0.05; done
systemd-notify --ready --status="watching demo"
exec sleep infinity`)
		u := m.WaitUnit(t, "sre-probe.service", "activating/start", wait)
		if u.MainPID == 0 {
			t.Errorf("activating without a main process: %s", u)
		}
		m.Exec(t, "touch", "/run/sre-go")
		u = m.WaitUnit(t, "sre-probe.service", "active/running", wait)
		if u.StatusText != "watching demo" {
			t.Errorf("STATUS= not taken: %s", u)
		}
		if got := m.MainPID(t, "sre-probe.service"); got != u.MainPID || got == 0 {
			t.Errorf("MainPID %d, show said %d", got, u.MainPID)
		}
	})

	t.Run("notify-timeout", func(t *testing.T) {
		// A service that never says READY=1 fails its start.
		m.Exec(t, "systemd-run", "--no-block", "--unit", "sre-mute",
			"--property", "Type=notify", "--property", "TimeoutStartSec=2",
			"sleep", "infinity")
		u := m.WaitUnit(t, "sre-mute.service", "failed", wait)
		if u.Result != "timeout" {
			t.Errorf("result %q, not timeout: %s", u.Result, u)
		}
	})

	t.Run("watchdog", func(t *testing.T) {
		// Two services with WatchdogSec=2 and Restart=on-watchdog: one
		// says READY=1 and then never pings, one pings every 200 ms.
		for _, s := range []struct{ unit, script string }{
			{"sre-hung", "systemd-notify --ready; exec sleep infinity"},
			{"sre-alive", "systemd-notify --ready; while :; do systemd-notify WATCHDOG=1; sleep 0.2; done"},
		} {
			m.Exec(t, "systemd-run", "--no-block", "--unit", s.unit,
				"--property", "Type=notify", "--property", "NotifyAccess=all",
				"--property", "WatchdogSec=2", "--property", "Restart=on-watchdog",
				"--property", "RestartSec=100ms", "/bin/sh", "-c", s.script)
		}
		first := m.WaitUnit(t, "sre-hung.service", "active", wait).MainPID
		u := m.WaitUnitFunc(t, "sre-hung.service", "restarted twice by the watchdog", wait, func(u Unit) bool {
			return u.NRestarts >= 2
		})
		u = m.WaitUnit(t, "sre-hung.service", "active", wait)
		if u.MainPID == first {
			t.Errorf("still the first process %d after %d restarts", first, u.NRestarts)
		}
		got := m.Journal(t, "_PID=1", "UNIT=sre-hung.service")
		for _, msg := range []string{"Watchdog timeout", "Failed with result 'watchdog'"} {
			if !anyMessage(got, msg) {
				t.Errorf("no %q from systemd about sre-hung among %d entries", msg, len(got))
			}
		}
		// Over the same 4 s and more, the one that pings was left alone.
		if alive := m.Show(t, "sre-alive.service"); alive.NRestarts != 0 || alive.ActiveState != "active" {
			t.Errorf("a service that pings was restarted: %s", alive)
		}
	})

	t.Run("wait-failed", func(t *testing.T) {
		// Waiting for active on a unit that failed for good ends at once,
		// with the reason, not after the whole ceiling.
		m.Exec(t, "systemd-run", "--no-block", "--unit", "sre-broken", "/bin/false")
		m.WaitUnit(t, "sre-broken.service", "failed", wait)
		began := time.Now()
		msg := fatal(t, func(t testing.TB) { m.WaitUnit(t, "sre-broken.service", "active", wait) })
		if took := time.Since(began); took > wait/2 {
			t.Errorf("WaitUnit took %s to give up on a failed unit", took)
		}
		if !strings.Contains(msg, "sre-broken.service is not active") || !strings.Contains(msg, "result=exit-code") {
			t.Errorf("WaitUnit's failure says: %s", msg)
		}
		// A failed unit with a start queued is awaited, not given up on:
		// this one fails its first start and comes up on its second.
		m.Exec(t, "systemd-run", "--no-block", "--unit", "sre-second", "--property", "Type=notify",
			"--property", "NotifyAccess=all", "/bin/sh", "-c",
			`[ -e /run/sre-second ] || { touch /run/sre-second; exit 1; }
systemd-notify --ready; exec sleep infinity`)
		m.WaitUnit(t, "sre-second.service", "failed", wait)
		m.Exec(t, "systemctl", "start", "--no-block", "sre-second.service")
		m.WaitUnit(t, "sre-second.service", "active", wait)
	})

	t.Run("journal", func(t *testing.T) {
		m.Exec(t, "systemd-cat", "-t", "sre-tag", "-p", "crit", "echo", "a crash")
		entries := m.WaitJournal(t, wait, "SYSLOG_IDENTIFIER=sre-tag")
		want := map[string]any{"MESSAGE": "a crash", "PRIORITY": "2", "SYSLOG_IDENTIFIER": "sre-tag"}
		if diff := cmp.Diff(want, pick(entries[0], want)); diff != "" {
			t.Errorf("systemd-cat's entry (-want +got):\n%s", diff)
		}
		// Fields of one's own, sent by the native protocol, can be matched.
		out, code := m.Run("sh", "-c", `printf 'MESSAGE=crash of demo\nPRIORITY=2\nSRE_EVENT_TYPE=crash\nSRE_TARGET=demo\n' | logger --journald`)
		if code != 0 {
			t.Fatalf("logger --journald: exit %d: %s", code, out)
		}
		entries = m.WaitJournal(t, wait, "SRE_EVENT_TYPE=crash", "SRE_TARGET=demo")
		want = map[string]any{"MESSAGE": "crash of demo", "PRIORITY": "2", "SRE_EVENT_TYPE": "crash", "SRE_TARGET": "demo"}
		if diff := cmp.Diff(want, pick(entries[0], want)); diff != "" {
			t.Errorf("native entry (-want +got):\n%s", diff)
		}
		if got := m.Journal(t, "SRE_EVENT_TYPE=no-such-type"); len(got) != 0 {
			t.Errorf("a match on an absent value found %d entries", len(got))
		}
	})

	t.Run("hardened", func(t *testing.T) {
		// The sandboxing the agent's units use: each of these needs what
		// RunArgs grants (mount and user namespaces, a loopback device).
		common := []string{
			"DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
			"PrivateTmp=yes", "PrivateDevices=yes", "PrivateNetwork=yes",
			"CapabilityBoundingSet=", "RestrictAddressFamilies=AF_UNIX", "SystemCallFilter=@system-service",
			"SystemCallArchitectures=native", "ProtectKernelTunables=yes", "ProtectKernelModules=yes",
			"ProtectKernelLogs=yes", "ProtectControlGroups=yes", "ProtectClock=yes", "ProtectHostname=yes",
			"RestrictNamespaces=yes", "LockPersonality=yes", "MemoryDenyWriteExecute=yes",
			"RestrictRealtime=yes", "RestrictSUIDSGID=yes", "UMask=0077", "Type=notify", "NotifyAccess=all",
		}
		// In a container, DynamicUser=, PrivateUsers= and ProtectProc=
		// together fail at exec with 217/USER (systemd issue 29656), so
		// the last two are tried in separate units.
		for _, s := range []struct{ unit, extra string }{
			{"sre-hardened-users", "PrivateUsers=yes"},
			{"sre-hardened-proc", "ProtectProc=invisible"},
		} {
			argv := []string{"systemd-run", "--no-block", "--unit", s.unit, "--property", s.extra,
				"--property", "StateDirectory=" + s.unit}
			for _, p := range common {
				argv = append(argv, "--property", p)
			}
			argv = append(argv, "/bin/sh", "-c", `echo ok > "$STATE_DIRECTORY/proof" && systemd-notify --ready && exec sleep infinity`)
			m.Exec(t, argv...)
			u := m.WaitUnit(t, s.unit+".service", "active", wait)
			if uid := m.Exec(t, "ps", "-o", "uid=", "-p", strconv.Itoa(u.MainPID)); uid == "0" {
				t.Errorf("%s: a DynamicUser= service runs as root", s.unit)
			}
			if got := m.Exec(t, "cat", "/var/lib/"+s.unit+"/proof"); got != "ok" {
				t.Errorf("%s: the state directory holds %q", s.unit, got)
			}
		}
	})

	t.Run("copy", func(t *testing.T) {
		// A tree as make install DESTDIR=… lays it out: a unit under
		// lib/, where the machine's /lib is a link to usr/lib.
		dest := t.TempDir()
		unit := filepath.Join(dest, "lib/systemd/system/sre-copied.service")
		bin := filepath.Join(dest, "usr/local/bin/sre-copied")
		for _, f := range []struct {
			path, text string
			mode       os.FileMode
		}{
			{unit, "[Service]\nExecStart=/usr/local/bin/sre-copied\n[Install]\nWantedBy=multi-user.target\n", 0o644},
			{bin, "#!/bin/sh\nexec sleep infinity\n", 0o755},
		} {
			if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f.path, []byte(f.text), f.mode); err != nil {
				t.Fatal(err)
			}
		}
		m.CopyTree(t, dest, "/")
		if got := m.Exec(t, "readlink", "/lib"); got != "usr/lib" {
			t.Fatalf("/lib is no longer the link to usr/lib: readlink says %q", got)
		}
		m.Exec(t, "systemctl", "daemon-reload")
		m.Exec(t, "systemctl", "enable", "--now", "sre-copied.service")
		m.WaitUnit(t, "sre-copied.service", "active/running", wait)
		if got := m.Exec(t, "stat", "-c", "%U", "/usr/local/bin/sre-copied"); got != "root" {
			t.Errorf("installed file owned by %s, not root", got)
		}

		conf := filepath.Join(t.TempDir(), "demo.yaml")
		if err := os.WriteFile(conf, []byte("target: demo\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		m.Exec(t, "mkdir", "-p", "/etc/sre-agent")
		m.CopyIn(t, conf, "/etc/sre-agent/demo.yaml")
		if got := m.Exec(t, "cat", "/etc/sre-agent/demo.yaml"); got != "target: demo" {
			t.Errorf("copied file holds %q", got)
		}
	})

	t.Run("analyze", func(t *testing.T) {
		// systemd-analyze checks units in the machine as the manager loads
		// them. verify exits 0 on a setting it ignores, so what counts is
		// that it prints nothing.
		m.Exec(t, "sh", "-c", `printf '[Service]\nType=notify\nExecStart=/bin/sleep infinity\nDynamicUser=yes\n' >/etc/systemd/system/sre-good@.service
printf '[Service]\nType=notifyy\nExecStart=/bin/sleep infinity\n' >/etc/systemd/system/sre-bad.service
systemctl daemon-reload`)
		if out, code := m.Run("systemd-analyze", "verify", "sre-good@demo.service"); code != 0 || out != "" {
			t.Errorf("verify of a good unit: exit %d: %q", code, out)
		}
		if out, _ := m.Run("systemd-analyze", "verify", "sre-bad.service"); !strings.Contains(out, "Failed to parse service type") {
			t.Errorf("verify of a bad unit says nothing of its type: %q", out)
		}
		out := m.Exec(t, "systemd-analyze", "security", "--no-pager", "sre-good@demo.service")
		if !strings.Contains(out, "Overall exposure level for sre-good@demo.service:") {
			t.Errorf("security gives no figure:\n%s", out)
		}
	})

	t.Run("user", func(t *testing.T) {
		// An unprivileged user's units, with no login session: lingering
		// starts that user's service manager at boot (here: at once).
		m.Linger(t, User)
		m.ExecAsUser(t, User, "systemd-run", "--user", "--unit", "sre-user", "sleep", "infinity")
		pid := m.ExecAsUser(t, User, "systemctl", "--user", "show", "-p", "MainPID", "--value", "sre-user.service")
		if pid == "0" || pid == "" {
			t.Fatalf("the user unit has no main process: %q", pid)
		}
		if owner := m.Exec(t, "ps", "-o", "user=", "-p", pid); owner != User {
			t.Errorf("the user unit's process %s runs as %q, not %s", pid, owner, User)
		}
		if got, _ := m.AsUser(t, User, "systemctl", "--user", "is-active", "sre-user.service"); got != "active" {
			t.Errorf("systemctl --user is-active says %q", got)
		}
		if _, code := m.Run("test", "-e", "/var/lib/systemd/linger/"+User); code != 0 {
			t.Errorf("no linger file for %s", User)
		}
	})
}

// TestJournalKeptOnFailure checks that a failed test leaves its machine's
// journal in $SRE_ARTIFACT_DIR, and that the machine is removed after.
func TestJournalKeptOnFailure(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(ArtifactEnv, dir)
	var name string
	t.Run("machine", func(t *testing.T) {
		m := Start(failing{t})
		name = m.Name
		m.Exec(t, "systemd-cat", "-t", "sre-marker", "echo", "kept")
		m.WaitJournal(t, wait, "SYSLOG_IDENTIFIER=sre-marker")
	})
	if name == "" {
		t.Skip("no machine started; the subtest says why")
	}
	b, err := os.ReadFile(filepath.Join(dir, "TestJournalKeptOnFailure_machine-journal.txt"))
	if err != nil {
		t.Fatalf("no journal kept: %v", err)
	}
	if !strings.Contains(string(b), "sre-marker") || !strings.Contains(string(b), "kept") {
		t.Errorf("the kept journal lacks the test's entry:\n%s", b)
	}
	if out, err := docker(t.Context(), time.Minute, "ps", "-aq", "--filter", "name=^"+name+"$"); err != nil || out != "" {
		t.Errorf("container %s still there (%v): %q", name, err, out)
	}
}

// fatal runs f with a test of its own and returns the message f failed
// with; it fails t when f did not fail.
func fatal(t *testing.T, f func(testing.TB)) string {
	t.Helper()
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	if r.msg == "" {
		t.Fatal("did not fail")
	}
	return r.msg
}

// recorder is a test whose Fatalf records the message and ends the
// goroutine, as testing's does.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// failing is a test that reports itself failed, to its cleanups.
type failing struct{ testing.TB }

func (failing) Failed() bool { return true }

func TestParseShow(t *testing.T) {
	tests := []struct {
		name, out string
		want      Unit
		wantErr   bool
	}{
		{
			name: "running",
			out:  "LoadState=loaded\nActiveState=active\nSubState=running\nResult=success\nMainPID=42\nNRestarts=3\nStatusText=watching demo, last event crash\n",
			want: Unit{Name: "u", LoadState: "loaded", ActiveState: "active", SubState: "running", Result: "success",
				MainPID: 42, NRestarts: 3, StatusText: "watching demo, last event crash"},
		},
		{
			name: "status with =",
			out:  "ActiveState=active\nStatusText=a=b\n",
			want: Unit{Name: "u", ActiveState: "active", StatusText: "a=b"},
		},
		{name: "bad pid", out: "ActiveState=active\nMainPID=x\n", wantErr: true},
		{name: "empty", out: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseShow("u", tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseJournal(t *testing.T) {
	got, err := parseJournal([]byte(`{"MESSAGE":"a","PRIORITY":"2"}
{"MESSAGE":[104,105],"SRE_PID":"7"}

`))
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"MESSAGE": "a", "PRIORITY": "2"},
		{"MESSAGE": []any{104.0, 105.0}, "SRE_PID": "7"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := parseJournal([]byte("{\"MESSAGE\":\"a\"}\nnot json\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: err %v, want one naming line 2", err)
	}
}

// pick returns the fields of e named in want.
func pick(e, want map[string]any) map[string]any {
	got := map[string]any{}
	for k := range want {
		if v, ok := e[k]; ok {
			got[k] = v
		}
	}
	return got
}

// anyMessage says whether an entry's MESSAGE contains s.
func anyMessage(entries []map[string]any, s string) bool {
	for _, e := range entries {
		if msg, ok := e["MESSAGE"].(string); ok && strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
