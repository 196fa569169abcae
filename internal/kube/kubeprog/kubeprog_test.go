package kubeprog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "sre-kube")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if p, err := Find(env(map[string]string{"SRE_KUBE": prog}), "sre-heal"); err != nil || p != prog {
		t.Errorf("SRE_KUBE: %q, %v", p, err)
	}
	if _, err := Find(env(map[string]string{"SRE_KUBE": filepath.Join(dir, "nope")}), "sre-heal"); err == nil || !strings.Contains(err.Error(), "SRE_KUBE=") {
		t.Errorf("a missing SRE_KUBE: %v; want an error naming it", err)
	}
	t.Setenv("PATH", dir)
	if p, err := Find(env(nil), "sre-heal"); err != nil || p != prog {
		t.Errorf("PATH: %q, %v", p, err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := Find(env(nil), "sre-heal"); err == nil || !strings.Contains(err.Error(), "not beside sre-heal") {
		t.Errorf("none: %v; want an error naming the caller", err)
	}
}
