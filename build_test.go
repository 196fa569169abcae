package sreagent_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestMakeBuildVersion: the binaries `make build` puts in bin/ say which
// commit they are, from a git checkout, even where the go command stamps no
// VCS state (GOFLAGS=-buildvcs=false, as on this project's CI machines).
func TestMakeBuildVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every command")
	}
	desc, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("git describe: %v (CI builds from a git checkout)", err)
		}
		t.Skipf("not a git checkout: %v", err)
	}
	want := strings.TrimSpace(string(desc))
	bin := t.TempDir()
	cmd := exec.Command("make", "-s", "build", "BIN="+bin)
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	cmds, err := filepath.Glob("cmd/*")
	if err != nil || len(cmds) == 0 {
		t.Fatalf("no commands under cmd/: %v", err)
	}
	for _, c := range cmds {
		name := filepath.Base(c)
		out, err := exec.Command(filepath.Join(bin, name), "--version").Output()
		if err != nil {
			t.Errorf("%s --version: %v", name, err)
			continue
		}
		got := strings.TrimSpace(string(out))
		if w := name + " " + want + " " + runtime.Version(); got != w {
			t.Errorf("%s --version = %q, want %q", name, got, w)
		}
	}
}
