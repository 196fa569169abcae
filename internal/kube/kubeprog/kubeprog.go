// Package kubeprog is the sre-kube program as the pipeline's stages see
// it: where it is, the names they may pass it, and the result line it
// answers. The stages run sre-kube for whatever touches a cluster; this
// package links nothing of Kubernetes, so importing it keeps a stage free
// of client-go.
package kubeprog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
)

// Find returns sre-kube: the program getenv("SRE_KUBE") names, else the
// one beside this executable, else the one on PATH. caller names the tool
// asking, for the message when there is none.
func Find(getenv func(string) string, caller string) (string, error) {
	if p := getenv("SRE_KUBE"); p != "" {
		if _, err := os.Stat(p); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return "", fmt.Errorf("SRE_KUBE=%s: %w", p, err)
		}
		return p, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "sre-kube")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath("sre-kube")
	if err != nil {
		return "", fmt.Errorf("sre-kube not found: not beside %s, not on PATH (make install puts it there; SRE_KUBE names it)", caller)
	}
	return p, nil
}
