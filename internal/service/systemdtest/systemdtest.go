// Package systemdtest is the tests' way to a real systemd: a container on
// the private Docker daemon of scripts/dockerd-test.sh (DOCKER_HOST) whose
// PID 1 is systemd 252 from Debian bookworm, with journald, logind and
// D-Bus, built by scripts/systemd-test-image.sh. The host's PID 1 is not
// systemd, so this is where units are installed, started, watched by the
// watchdog and read back from the journal.
//
// A test that needs one and finds no daemon or no image skips, saying how
// to get them; under CI (CI=true), which builds both, it fails.
//
// A machine boots in 2 to 5 s here (docker run to "running"); a test with
// several cases starts one and runs its cases as subtests in it, giving
// units names of their own.
//
//	m := systemdtest.Start(t)
//	m.CopyTree(t, destdir, "/")                    // a make install DESTDIR tree
//	m.Exec(t, "systemctl", "daemon-reload")
//	m.Exec(t, "systemctl", "enable", "--now", "sre-agent@demo")
//	m.WaitUnit(t, "sre-agent@demo.service", "active", time.Minute)
//	crashes := m.WaitJournal(t, time.Minute, "SRE_EVENT_TYPE=crash")
//
//	m.Linger(t, systemdtest.User)                  // the user's own manager runs
//	m.ExecAsUser(t, systemdtest.User, "systemctl", "--user", "enable", "--now", "sre-agent")
package systemdtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Image is the image scripts/systemd-test-image.sh builds.
const Image = "sre-systemd:local"

// ArtifactEnv names the directory where the journal of a failed test's
// machine is kept (CI keeps it); when unset, nothing is kept.
const ArtifactEnv = "SRE_ARTIFACT_DIR"

// BootTimeout is the ceiling for systemd to finish booting: it takes 2 to
// 6 s here, much more on a loaded 2-core machine.
const BootTimeout = 2 * time.Minute

// CommandTimeout is the ceiling of one command run in the machine.
const CommandTimeout = 2 * time.Minute

// RunArgs are the arguments of docker run besides the name and the image.
// No --privileged: runc refuses it here ("unable to apply caps"), and a
// systemd PID 1 does not need it. What it needs:
//   - no network: the tests talk to it through docker exec only;
//   - /run and /run/lock as tmpfs, as on a booted host;
//   - the host's cgroup file system, writable, for systemd to place units
//     in cgroups: it works in the container's own part of each hierarchy
//     (/docker/ID/…, removed with the container), and at its first boot
//     leaves a few empty directories and links (cpu,cpuacct, perf_event,
//     …) in the host's /sys/fs/cgroup tmpfs. Seen on this hybrid (v1 with
//     a unified v2) host; a v2-only host may want --cgroupns and a
//     different mount;
//   - CAP_SYS_ADMIN: without it every unit with a sandboxing directive
//     (PrivateTmp=, ProtectSystem=, ProtectHome=, DynamicUser=, …) fails
//     at exec with 226/NAMESPACE, since systemd cannot build its mount
//     namespace; a host's PID 1 has every capability;
//   - CAP_NET_ADMIN: PrivateNetwork= brings up a loopback device;
//   - no seccomp profile of Docker's own: its default one refuses the user
//     namespace of PrivateUsers= (217/USER); systemd installs the unit's
//     own SystemCallFilter= as on a host.
var RunArgs = []string{
	"--network", "none",
	"--tmpfs", "/run", "--tmpfs", "/run/lock",
	"-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
	"--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN",
	"--security-opt", "seccomp=unconfined",
}

// RunEnv, set to 1, lets Start run machines. `make test-systemd` sets it
// and runs the tests that use them alone, after the others: a container
// whose systemd mounts the host's cgroup hierarchy keeps the Docker daemon
// beside it from seeing its containers' OOM kills (seen on this cgroup v1
// host: OOMKilled false for a container the kernel OOM-killed, until the
// machine is removed).
const RunEnv = "SRE_SYSTEMD_TESTS"

// Need skips the test, saying why and how to get a daemon and the image;
// under CI it fails instead.
func Need(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) +
		`; start a daemon and build the image with: eval "$(scripts/dockerd-test.sh)" && scripts/systemd-test-image.sh`
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Machine is one running container with systemd as PID 1.
type Machine struct {
	// Name is the container's name, for docker commands of one's own.
	Name string
	// State is what systemctl is-system-running said once booted:
	// "running", or "degraded" with the units in Failed.
	State  string
	Failed []string
	// Boot is how long systemd took from docker run to State.
	Boot time.Duration

	mu   sync.Mutex
	uids map[string]int
}

// Start runs a machine from Image, waits until systemd has booted, and
// removes it when the test ends, keeping its journal (journalctl -b) in
// $SRE_ARTIFACT_DIR when the test failed. extra is added to RunArgs
// (a bind mount, say).
func Start(t testing.TB, extra ...string) *Machine {
	t.Helper()
	if os.Getenv(RunEnv) != "1" {
		// Not an outside component missing: a step of its own runs these.
		t.Skipf("systemd machines run in a step of their own (make test-systemd, which sets %s=1): "+
			"while one runs, Docker on the same host stops telling OOM kills (cgroup v1), which other tests check", RunEnv)
	}
	if os.Getenv("DOCKER_HOST") == "" {
		Need(t, "DOCKER_HOST is not set")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		Need(t, "no docker CLI on PATH")
	}
	if out, err := docker(context.Background(), 30*time.Second, "version", "--format", "{{.Server.Version}}"); err != nil {
		Need(t, "the daemon on %s does not answer: %v: %s", os.Getenv("DOCKER_HOST"), err, out)
	}
	if out, err := docker(context.Background(), 30*time.Second, "image", "inspect", "--format", "{{.Id}}", Image); err != nil {
		Need(t, "no image %s: %v: %s", Image, err, out)
	}

	m := &Machine{
		Name: fmt.Sprintf("sre-systemd-%d-%d", os.Getpid(), time.Now().UnixNano()%1_000_000_000),
		uids: map[string]int{},
	}
	t.Cleanup(func() { m.stop(t) })
	began := time.Now()
	args := append([]string{"run", "-d", "--name", m.Name}, RunArgs...)
	args = append(args, extra...)
	args = append(args, Image, "/lib/systemd/systemd")
	if out, err := docker(context.Background(), CommandTimeout, args...); err != nil {
		t.Fatalf("systemdtest: docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	m.boot(t)
	m.Boot = time.Since(began)
	t.Logf("systemdtest: %s is %s after %s", m.Name, m.State, m.Boot.Round(time.Millisecond))
	return m
}

// boot waits for systemctl is-system-running to say running or degraded.
func (m *Machine) boot(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(BootTimeout)
	var last string
	for {
		out, _ := m.Run("systemctl", "is-system-running")
		last = out
		switch out {
		case "running":
			m.State = out
			return
		case "degraded":
			m.State = out
			failed, _ := m.Run("systemctl", "list-units", "--failed", "--plain", "--no-legend", "--no-pager")
			for _, line := range strings.Split(failed, "\n") {
				if f := strings.Fields(line); len(f) > 0 {
					m.Failed = append(m.Failed, f[0])
				}
			}
			t.Logf("systemdtest: %s booted degraded; failed units: %s", m.Name, strings.Join(m.Failed, ", "))
			return
		}
		if st, err := docker(context.Background(), 30*time.Second, "inspect", "-f", "{{.State.Status}}", m.Name); err == nil && st != "running" {
			logs, _ := docker(context.Background(), 30*time.Second, "logs", "--tail", "40", m.Name)
			t.Fatalf("systemdtest: container %s is %s before systemd booted; its output:\n%s", m.Name, st, logs)
		}
		if time.Now().After(deadline) {
			jobs, _ := m.Run("systemctl", "list-jobs", "--no-pager")
			t.Fatalf("systemdtest: systemd in %s is %q, not running, after %s; pending jobs:\n%s", m.Name, last, BootTimeout, jobs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop keeps the journal when the test failed, then removes the container.
func (m *Machine) stop(t testing.TB) {
	if t.Failed() {
		if dir := os.Getenv(ArtifactEnv); dir != "" {
			out, _, _ := m.exec(nil, "journalctl", "-b", "--no-pager", "-o", "short-precise")
			path := filepath.Join(dir, fileName(t.Name())+"-journal.txt")
			if err := os.MkdirAll(dir, 0o755); err == nil {
				if err := os.WriteFile(path, []byte(out), 0o644); err == nil {
					t.Logf("systemdtest: the machine's journal is in %s", path)
				}
			}
		}
	}
	if out, err := docker(context.Background(), CommandTimeout, "rm", "-f", m.Name); err != nil {
		t.Errorf("systemdtest: removing %s: %v: %s", m.Name, err, out)
	}
}

// Run runs argv in the machine (as root) and returns its output, stdout
// and stderr together, trimmed, and its exit status (-1 when it could not
// be run at all, with the reason in the output).
func (m *Machine) Run(argv ...string) (out string, code int) {
	stdout, stderr, code := m.exec(nil, argv...)
	return strings.TrimSpace(stdout + stderr), code
}

// Exec runs argv in the machine (as root) and returns its stdout,
// trimmed; a non-zero exit fails the test with the output.
func (m *Machine) Exec(t testing.TB, argv ...string) string {
	t.Helper()
	stdout, stderr, code := m.exec(nil, argv...)
	if code != 0 {
		t.Fatalf("systemdtest: %s: exit %d:\n%s%s", strings.Join(argv, " "), code, stdout, stderr)
	}
	return strings.TrimSpace(stdout)
}

// exec runs argv in the machine with stdin (when not nil) and returns
// its stdout, stderr and exit status.
func (m *Machine) exec(stdin []byte, argv ...string) (stdout, stderr string, code int) {
	args := []string{"exec"}
	if stdin != nil {
		args = append(args, "-i")
	}
	args = append(append(args, m.Name), argv...)
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return o.String(), e.String(), 0
	case ctx.Err() != nil:
		return o.String(), e.String() + fmt.Sprintf("\nsystemdtest: timed out after %s", CommandTimeout), -1
	case errors.As(err, &ee):
		return o.String(), e.String(), ee.ExitCode()
	default:
		return o.String(), e.String() + "\nsystemdtest: " + err.Error(), -1
	}
}

// CopyIn copies the host's file or directory hostPath to containerPath
// (docker cp: a directory lands as containerPath).
func (m *Machine) CopyIn(t testing.TB, hostPath, containerPath string) {
	t.Helper()
	if out, err := docker(context.Background(), CommandTimeout, "cp", hostPath, m.Name+":"+containerPath); err != nil {
		t.Fatalf("systemdtest: docker cp %s %s:%s: %v: %s", hostPath, m.Name, containerPath, err, out)
	}
}

// CopyTree copies the contents of the host's directory hostDir into
// containerDir, merging with what is there, owned by root: the way to
// install a `make install DESTDIR=hostDir` tree with containerDir "/".
// It keeps the machine's symbolic links to directories (/lib is one to
// usr/lib on bookworm) and copies through them, where docker cp refuses
// ("cannot overwrite non-directory /lib with directory").
func (m *Machine) CopyTree(t testing.TB, hostDir, containerDir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	tarball, err := exec.CommandContext(ctx, "tar", "-C", hostDir, "--owner=0", "--group=0", "--numeric-owner", "-c", ".").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		t.Fatalf("systemdtest: tar of %s: %v", hostDir, err)
	}
	stdout, stderr, code := m.exec(tarball, "tar", "-C", containerDir, "--keep-directory-symlink", "--no-overwrite-dir", "-x")
	if code != 0 {
		t.Fatalf("systemdtest: unpacking %s into %s:%s: exit %d:\n%s%s", hostDir, m.Name, containerDir, code, stdout, stderr)
	}
}

// Journal returns the entries of this boot's journal that match every
// field match given (journalctl FIELD=VALUE …, as in journalctl(1): the
// same field twice means either value), oldest first, each as journalctl
// -o json writes it: values are strings, or arrays for repeated or binary
// fields. Entries are written asynchronously: a test waiting for one uses
// WaitJournal.
func (m *Machine) Journal(t testing.TB, matches ...string) []map[string]any {
	t.Helper()
	argv := append([]string{"journalctl", "-b", "-q", "--no-pager", "-o", "json"}, matches...)
	stdout, stderr, code := m.exec(nil, argv...)
	if code != 0 {
		t.Fatalf("systemdtest: %s: exit %d:\n%s", strings.Join(argv, " "), code, stderr)
	}
	entries, err := parseJournal([]byte(stdout))
	if err != nil {
		t.Fatalf("systemdtest: %s: %v", strings.Join(argv, " "), err)
	}
	return entries
}

// WaitJournal waits up to timeout for at least one entry matching
// matches, and returns all that match then.
func (m *Machine) WaitJournal(t testing.TB, timeout time.Duration, matches ...string) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if entries := m.Journal(t, matches...); len(entries) > 0 {
			return entries
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemdtest: no journal entry matches %s after %s", strings.Join(matches, " "), timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// parseJournal parses journalctl -o json output: one object a line.
func parseJournal(b []byte) ([]map[string]any, error) {
	var entries []map[string]any
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("journal line %d: %w", i+1, err)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// Unit is what systemctl show says of a unit.
type Unit struct {
	Name        string
	LoadState   string // loaded, not-found, bad-setting, …
	ActiveState string // active, activating, deactivating, inactive, failed, reloading
	SubState    string // running, dead, exited, auto-restart, …
	Result      string // success, exit-code, signal, watchdog, timeout, …
	MainPID     int
	NRestarts   int
	StatusText  string // the last STATUS= the service sent
}

// unitProps are the properties Unit holds, for systemctl show -p.
const unitProps = "LoadState,ActiveState,SubState,Result,MainPID,NRestarts,StatusText"

// String is the unit as a test failure shows it.
func (u Unit) String() string {
	return fmt.Sprintf("%s: %s %s/%s result=%s MainPID=%d NRestarts=%d status=%q",
		u.Name, u.LoadState, u.ActiveState, u.SubState, u.Result, u.MainPID, u.NRestarts, u.StatusText)
}

// Show returns the state of a system unit now.
func (m *Machine) Show(t testing.TB, unit string) Unit {
	t.Helper()
	u, err := parseShow(unit, m.Exec(t, "systemctl", "show", "-p", unitProps, unit))
	if err != nil {
		t.Fatalf("systemdtest: %v", err)
	}
	return u
}

// parseShow parses systemctl show's KEY=VALUE lines into a Unit.
func parseShow(unit, out string) (Unit, error) {
	u := Unit{Name: unit}
	for _, line := range strings.Split(out, "\n") {
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		var err error
		switch key {
		case "LoadState":
			u.LoadState = value
		case "ActiveState":
			u.ActiveState = value
		case "SubState":
			u.SubState = value
		case "Result":
			u.Result = value
		case "StatusText":
			u.StatusText = value
		case "MainPID":
			u.MainPID, err = strconv.Atoi(value)
		case "NRestarts":
			u.NRestarts, err = strconv.Atoi(value)
		}
		if err != nil {
			return u, fmt.Errorf("systemctl show %s: %s: %w", unit, key, err)
		}
	}
	if u.ActiveState == "" {
		return u, fmt.Errorf("systemctl show %s: no ActiveState in %q", unit, out)
	}
	return u, nil
}

// WaitUnit waits up to timeout for a system unit's state to be state:
// an ActiveState ("active", "failed", "inactive"), or ActiveState/SubState
// ("active/running", "activating/auto-restart"). It returns the unit then;
// on timeout it fails the test with the unit's state and journal. A unit
// found failed with no job queued for it stays so (a restart by Restart=
// passes through activating/auto-restart, not failed), so unless failed
// is what is awaited, that fails the test at once.
func (m *Machine) WaitUnit(t testing.TB, unit, state string, timeout time.Duration) Unit {
	t.Helper()
	active, sub, hasSub := strings.Cut(state, "/")
	return m.waitUnit(t, unit, state, timeout, func(u Unit) bool {
		return u.ActiveState == active && (!hasSub || u.SubState == sub)
	}, active != "failed")
}

// WaitUnitFunc waits up to timeout for ok to hold of a system unit's
// state; what says what is awaited, for the failure message.
func (m *Machine) WaitUnitFunc(t testing.TB, unit, what string, timeout time.Duration, ok func(Unit) bool) Unit {
	t.Helper()
	return m.waitUnit(t, unit, what, timeout, ok, false)
}

func (m *Machine) waitUnit(t testing.TB, unit, what string, timeout time.Duration, ok func(Unit) bool, failFast bool) Unit {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		u := m.Show(t, unit)
		if ok(u) {
			return u
		}
		over := time.Now().After(deadline)
		if !over && failFast && u.ActiveState == "failed" {
			// A job queued for it (start --no-block) may still change it.
			jobs, _ := m.Run("systemctl", "list-jobs", "--no-legend", "--plain", unit)
			over = strings.TrimSpace(jobs) == "" && m.Show(t, unit).ActiveState == "failed"
		}
		if over {
			journal, _ := m.Run("journalctl", "-b", "--no-pager", "-n", "40", "-u", unit)
			t.Fatalf("systemdtest: %s is not %s (waited up to %s): %s\n%s", unit, what, timeout, u, journal)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// MainPID returns the main process of a system unit, as PID 1 of the
// machine sees it (0 when it has none).
func (m *Machine) MainPID(t testing.TB, unit string) int {
	t.Helper()
	return m.Show(t, unit).MainPID
}

// UID returns the user's id in the machine.
func (m *Machine) UID(t testing.TB, user string) int {
	t.Helper()
	m.mu.Lock()
	uid, ok := m.uids[user]
	m.mu.Unlock()
	if ok {
		return uid
	}
	out := m.Exec(t, "id", "-u", user)
	uid, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("systemdtest: id -u %s: %q", user, out)
	}
	m.mu.Lock()
	m.uids[user] = uid
	m.mu.Unlock()
	return uid
}

// User is the unprivileged user of the image, with a home directory.
const User = "sre"

// Linger enables lingering for user (loginctl enable-linger, as root) and
// waits until the user's own service manager (user@UID.service) runs, so
// that AsUser can drive systemctl --user without a login session.
func (m *Machine) Linger(t testing.TB, user string) {
	t.Helper()
	uid := m.UID(t, user)
	m.Exec(t, "loginctl", "enable-linger", user)
	m.WaitUnit(t, fmt.Sprintf("user@%d.service", uid), "active", BootTimeout)
	deadline := time.Now().Add(BootTimeout)
	for {
		out, _ := m.AsUser(t, user, "systemctl", "--user", "is-system-running")
		if out == "running" || out == "degraded" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemdtest: the service manager of %s is %q after %s", user, out, BootTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// AsUser runs argv in the machine as user, in the environment of that
// user's service manager (XDG_RUNTIME_DIR=/run/user/UID, where systemctl
// --user and systemd-run --user find its socket), and returns its output,
// stdout and stderr together, trimmed, and its exit status. The user's
// manager runs once Linger has been called (or the user is logged in).
func (m *Machine) AsUser(t testing.TB, user string, argv ...string) (out string, code int) {
	t.Helper()
	uid := m.UID(t, user)
	full := append([]string{"runuser", "-u", user, "--", "env", fmt.Sprintf("XDG_RUNTIME_DIR=/run/user/%d", uid)}, argv...)
	return m.Run(full...)
}

// ExecAsUser is AsUser failing the test on a non-zero exit.
func (m *Machine) ExecAsUser(t testing.TB, user string, argv ...string) string {
	t.Helper()
	out, code := m.AsUser(t, user, argv...)
	if code != 0 {
		t.Fatalf("systemdtest: as %s: %s: exit %d:\n%s", user, strings.Join(argv, " "), code, out)
	}
	return out
}

// docker runs the docker CLI for at most timeout and returns its output,
// trimmed.
func docker(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// fileName makes s safe as a file name: letters, digits, '.', '_' and
// '-' stay, anything else becomes '_'.
func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, s)
}
