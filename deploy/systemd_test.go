package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/localsre/sre-agent/internal/service"
)

// TestUnitsVerify: systemd-analyze verify finds nothing to say of the
// units (their ExecStart pointed at a built sre-agent, since the installed
// path does not exist here), and the example config is one sre-agent takes.
func TestUnitsVerify(t *testing.T) {
	sa := tool(t, "systemd-analyze", "systemd")
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", bin+"/", "../cmd/sre-agent").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	for _, u := range []string{"systemd/sre-agent@.service", "systemd/user/sre-agent@.service"} {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "ExecStart=/usr/local/bin/sre-agent ") {
			t.Errorf("%s: ExecStart is not /usr/local/bin/sre-agent (make install rewrites that path)", u)
		}
		unit := filepath.Join(dir, "sre-agent@demo.service")
		os.WriteFile(unit, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/sre-agent", filepath.Join(bin, "sre-agent"))), 0o644)
		args := []string{"verify", "--man=no", unit}
		if strings.Contains(u, "/user/") {
			args = append([]string{"--user"}, args...)
		}
		out, err := runTool(t, dir, sa, args...)
		// verify in a container without systemd as PID 1 may warn about the
		// manager; a word about the unit itself is a finding.
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if strings.Contains(l, "sre-agent@demo.service") {
				t.Errorf("%s: systemd-analyze verify: %s", u, l)
			}
		}
		if err != nil && strings.Contains(out, "sre-agent@demo.service") {
			t.Errorf("%s: systemd-analyze verify: %v\n%s", u, err, out)
		}
	}
	if _, err := service.LoadConfig("systemd/example.yaml", "/var/lib/sre-agent/demo"); err != nil {
		t.Errorf("the example config: %v", err)
	}
}

// TestUnitSecurity: systemd-analyze security of the system unit rates its
// exposure 2.0 or better ("OK" or "SAFE"); the figure is logged.
func TestUnitSecurity(t *testing.T) {
	sa := tool(t, "systemd-analyze", "systemd")
	dir := t.TempDir()
	b, err := os.ReadFile("systemd/sre-agent@.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(dir, "sre-agent@demo.service")
	os.WriteFile(unit, b, 0o644)
	out, _ := runTool(t, dir, sa, "security", "--offline=true", "--no-pager", unit)
	m := regexp.MustCompile(`Overall exposure level for sre-agent@demo.service: ([0-9.]+) (\w+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	level, _ := strconv.ParseFloat(m[1], 64)
	t.Logf("systemd-analyze security sre-agent@.service: %s %s", m[1], m[2])
	if level > 2.0 {
		t.Errorf("exposure %s %s; want 2.0 or better\n%s", m[1], m[2], out)
	}
}
