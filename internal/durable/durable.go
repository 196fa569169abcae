// Package durable writes evidence files that must be whole and on disk
// before what follows them (an action, a report naming them), and never
// over another's: sre-heal's container evidence and sre-kube's pod
// evidence both keep their files through it.
package durable

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// WriteNew writes data as dir/name, or name-2, name-3 … when the name is
// taken: a temp file, fsync, mode 0444, a link into place (which fails on
// an existing name, where rename would replace it) and an fsync of the
// directory. name must be a plain file name. It returns the path written.
func WriteNew(dir, name string, data []byte) (string, error) {
	if name == "" || strings.ContainsRune(name, '/') || strings.HasPrefix(name, ".") {
		return "", fmt.Errorf("file name %q: not a plain name", name)
	}
	tmp, err := os.CreateTemp(dir, ".writing-*.tmp")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // once linked, the name in place holds the file
	fail := func(err error) (string, error) {
		tmp.Close()
		return "", err
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(0o444); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	final := filepath.Join(dir, name)
	for i := 2; ; i++ {
		err := os.Link(tmp.Name(), final)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return "", err
		}
		ext := filepath.Ext(name)
		final = filepath.Join(dir, strings.TrimSuffix(name, ext)+"-"+strconv.Itoa(i)+ext)
	}
	d, err := os.Open(dir)
	if err != nil {
		return final, err
	}
	defer d.Close()
	return final, d.Sync()
}
