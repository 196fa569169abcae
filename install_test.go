package sreagent_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// installTree is a copy of what make install reads (Makefile, README.md,
// docs, deploy, cmd) with the binaries built from this tree in its bin/,
// newer than its sources so that install builds nothing. Where
// deploy/systemd holds no units yet, the copy gets stand-ins that name
// /usr/local/bin/ as the real ones do.
func installTree(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"make", "install", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
	}
	dst := t.TempDir()
	for _, top := range []string{"Makefile", "README.md", "go.mod", "go.sum", "docs", "deploy", "cmd"} {
		err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, path), 0o755)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, path), data, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	standIns := map[string]string{
		"deploy/systemd/sre-agent@.service":      "[Unit]\nDescription=SRE agent watch %i\n[Service]\nExecStart=/usr/local/bin/sre-agent --config /etc/sre-agent/%i.yaml\n",
		"deploy/systemd/user/sre-agent@.service": "[Unit]\nDescription=SRE agent watch %i\n[Service]\nExecStart=/usr/local/bin/sre-agent --config %E/sre-agent/%i.yaml\n",
		"deploy/systemd/example.yaml":            "target: demo\n",
	}
	if units, _ := filepath.Glob("deploy/systemd/*.service"); len(units) == 0 {
		for path, text := range standIns {
			if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(path)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, path), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The sources a minute old, the binaries new.
	old := time.Now().Add(-time.Minute)
	filepath.WalkDir(dst, func(path string, _ fs.DirEntry, _ error) error { return os.Chtimes(path, old, old) })
	if out, err := exec.Command("make", "-s", "build", "BIN="+filepath.Join(dst, "bin")).CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	return dst
}

func makeIn(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("make", append([]string{"-s", "-C", dir}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// files lists the regular files under root, as paths below it.
func files(t *testing.T, root string) []string {
	t.Helper()
	var got []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, path)
			got = append(got, "/"+rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got
}

// TestMakeInstall: make install puts every binary, unit, the example
// config, the docs and three shells' completions in their FHS places under
// PREFIX, staged under DESTDIR, and nothing else; make uninstall takes
// exactly those away.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every command")
	}
	tree := installTree(t)
	cmds, _ := filepath.Glob(filepath.Join(tree, "cmd", "*"))
	units, _ := filepath.Glob(filepath.Join(tree, "deploy/systemd/*.service"))
	userUnits, _ := filepath.Glob(filepath.Join(tree, "deploy/systemd/user/*.service"))
	examples, _ := filepath.Glob(filepath.Join(tree, "deploy/systemd/*.yaml"))
	rbac, _ := filepath.Glob(filepath.Join(tree, "deploy/kubernetes/*.yaml"))
	examples = append(examples, rbac...)
	docs, _ := filepath.Glob(filepath.Join(tree, "docs/*.md"))
	pngs, _ := filepath.Glob(filepath.Join(tree, "docs/*.png"))
	docs = append(docs, pngs...)
	if len(cmds) == 0 || len(units) == 0 || len(userUnits) == 0 || len(examples) == 0 || len(docs) == 0 {
		t.Fatalf("tree lacks what install reads: cmds %q units %q user units %q examples %q docs %q", cmds, units, userUnits, examples, docs)
	}
	for _, prefix := range []string{"/usr/local", "/usr"} {
		t.Run(strings.ReplaceAll(prefix, "/", "_"), func(t *testing.T) {
			dest := t.TempDir()
			out, err := makeIn(t, tree, "install", "DESTDIR="+dest, "PREFIX="+prefix)
			if err != nil {
				t.Fatalf("make install: %v\n%s", err, out)
			}
			if strings.Contains(out, "go build") {
				t.Errorf("make install rebuilt binaries that were up to date:\n%s", out)
			}
			root := filepath.Join(dest, prefix)
			// want: installed path (below DESTDIR) → its content, nil where
			// it is checked apart.
			want := map[string][]byte{}
			same := func(src, dst string, rewrite bool) {
				data, err := os.ReadFile(src)
				if err != nil {
					t.Fatal(err)
				}
				if rewrite {
					data = bytes.ReplaceAll(data, []byte("/usr/local/bin/"), []byte(prefix+"/bin/"))
					data = bytes.ReplaceAll(data, []byte("/usr/local/share/doc/sre-agent/"), []byte(prefix+"/share/doc/sre-agent/"))
				}
				want[prefix+dst] = data
			}
			for _, u := range units {
				same(u, "/lib/systemd/system/"+filepath.Base(u), true)
			}
			for _, u := range userUnits {
				same(u, "/lib/systemd/user/"+filepath.Base(u), true)
			}
			for _, e := range examples {
				same(e, "/share/doc/sre-agent/examples/"+filepath.Base(e), false)
			}
			same(filepath.Join(tree, "README.md"), "/share/doc/sre-agent/README.md", false)
			for _, d := range docs {
				same(d, "/share/doc/sre-agent/docs/"+filepath.Base(d), false)
			}
			for _, c := range cmds {
				name := filepath.Base(c)
				bin := filepath.Join(root, "bin", name)
				want[prefix+"/bin/"+name] = nil
				if st, err := os.Stat(bin); err != nil || st.Mode().Perm() != 0o755 {
					t.Errorf("%s: %v, mode %v; want mode 0755", bin, err, st.Mode().Perm())
					continue
				}
				ver, err := exec.Command(bin, "--version").Output()
				if err != nil || !strings.HasPrefix(string(ver), name+" ") {
					t.Errorf("%s --version = %q, %v", bin, ver, err)
				}
				for path, head := range map[string]string{
					"/share/bash-completion/completions/" + name:         "complete -F _" + strings.ReplaceAll(name, "-", "_") + " " + name + "\n",
					"/share/zsh/site-functions/_" + name:                 "#compdef " + name + "\n",
					"/share/fish/vendor_completions.d/" + name + ".fish": "complete -c " + name + " -e\n",
				} {
					want[prefix+path] = nil
					data, err := os.ReadFile(filepath.Join(root, path))
					if err != nil {
						t.Error(err)
						continue
					}
					if !strings.Contains(string(data), head) {
						t.Errorf("%s lacks %q:\n%s", path, head, data)
					}
					if !strings.Contains(string(data), "version") {
						t.Errorf("%s lacks --version", path)
					}
					if name == "sre-report" && !strings.Contains(string(data), "since") {
						t.Errorf("%s lacks the subcommand list's --since", path)
					}
					if st, _ := os.Stat(filepath.Join(root, path)); st.Mode().Perm() != 0o644 {
						t.Errorf("%s: mode %v, want 0644", path, st.Mode().Perm())
					}
				}
			}
			got := files(t, dest)
			var wantPaths []string
			for p := range want {
				wantPaths = append(wantPaths, p)
			}
			slices.Sort(wantPaths)
			if !slices.Equal(got, wantPaths) {
				t.Errorf("installed files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantPaths, "\n"))
			}
			for p, data := range want {
				if data == nil {
					continue
				}
				gotData, err := os.ReadFile(filepath.Join(dest, p))
				if err != nil {
					continue // reported above
				}
				if !bytes.Equal(gotData, data) {
					t.Errorf("%s =\n%s\nwant\n%s", p, gotData, data)
				}
				if st, _ := os.Stat(filepath.Join(dest, p)); st.Mode().Perm() != 0o644 {
					t.Errorf("%s: mode %v, want 0644", p, st.Mode().Perm())
				}
			}
			if prefix != "/usr/local" {
				for _, u := range append(units, userUnits...) {
					src, _ := os.ReadFile(u)
					inst, _ := os.ReadFile(filepath.Join(dest, prefix, "lib/systemd", strings.TrimPrefix(filepath.Dir(u), filepath.Join(tree, "deploy/systemd")), filepath.Base(u)))
					if bytes.Contains(src, []byte("/usr/local/bin/")) && bytes.Contains(inst, []byte("/usr/local/bin/")) {
						t.Errorf("%s still names /usr/local/bin/ under PREFIX=%s", u, prefix)
					}
				}
			}

			// A file of someone else's in a shared directory stays.
			other := filepath.Join(root, "bin", "other-tool")
			if err := os.WriteFile(other, nil, 0o755); err != nil {
				t.Fatal(err)
			}
			out, err = makeIn(t, tree, "uninstall", "DESTDIR="+dest, "PREFIX="+prefix)
			if err != nil {
				t.Fatalf("make uninstall: %v\n%s", err, out)
			}
			if left := files(t, dest); !slices.Equal(left, []string{prefix + "/bin/other-tool"}) {
				t.Errorf("after uninstall, files left: %q", left)
			}
			if _, err := os.Stat(filepath.Join(root, "share/doc/sre-agent")); !os.IsNotExist(err) {
				t.Errorf("uninstall left share/doc/sre-agent: %v", err)
			}
		})
	}
}

// TestMakeInstallRebuildsStale: install builds when a source is newer
// than the binaries, and only then.
func TestMakeInstallRebuildsStale(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every command")
	}
	tree := installTree(t)
	dest := t.TempDir()
	out, err := makeIn(t, tree, "-n", "install", "DESTDIR="+dest)
	if err != nil || strings.Contains(out, "go build") {
		t.Fatalf("make -n install on fresh binaries: %v, would build:\n%s", err, out)
	}
	mains, _ := filepath.Glob(filepath.Join(tree, "cmd", "*", "main.go"))
	if len(mains) == 0 {
		t.Fatal("no cmd/*/main.go")
	}
	now := time.Now().Add(time.Minute)
	if err := os.Chtimes(mains[0], now, now); err != nil {
		t.Fatal(err)
	}
	out, err = makeIn(t, tree, "-n", "install", "DESTDIR="+dest)
	if err != nil || !strings.Contains(out, "go build") {
		t.Errorf("make -n install after %s changed: %v, does not build:\n%s", mains[0], err, out)
	}
	if got := files(t, dest); len(got) != 0 {
		t.Errorf("make -n installed %q", got)
	}
}

// TestMakeInstallBadInput: a PREFIX that is not a plain absolute path, or
// a config NAME that is not a watch name, is refused by name before
// anything is written; install-config never overwrites an admin's file.
func TestMakeInstallBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every command")
	}
	tree := installTree(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"install", "PREFIX=usr/local"}, "PREFIX=usr/local: want an absolute path"},
		{[]string{"install", "PREFIX=/opt/a|b"}, "PREFIX=/opt/a|b: want an absolute path"},
		{[]string{"install", "BINDIR=bin"}, "BINDIR=bin: want an absolute path"},
		{[]string{"uninstall", "PREFIX="}, "PREFIX=: want an absolute path"},
		{[]string{"install-config"}, "NAME=: want a watch name"},
		{[]string{"install-config", "NAME=../demo"}, "NAME=../demo: want a watch name"},
	} {
		dest := t.TempDir()
		out, err := makeIn(t, tree, append(tc.args, "DESTDIR="+dest)...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("make %q: %v, want an error naming %q:\n%s", tc.args, err, tc.want, out)
		}
		if got := files(t, dest); len(got) != 0 {
			t.Errorf("make %q wrote %q", tc.args, got)
		}
	}

	dest := t.TempDir()
	if out, err := makeIn(t, tree, "install-config", "NAME=demo", "DESTDIR="+dest); err != nil {
		t.Fatalf("make install-config: %v\n%s", err, out)
	}
	conf := filepath.Join(dest, "etc/sre-agent/demo.yaml")
	examples, _ := filepath.Glob(filepath.Join(tree, "deploy/systemd/*.yaml"))
	want, _ := os.ReadFile(examples[0])
	if got, err := os.ReadFile(conf); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s = %q, %v; want the example %q", conf, got, err, want)
	}
	if err := os.WriteFile(conf, []byte("edited: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := makeIn(t, tree, "install-config", "NAME=demo", "DESTDIR="+dest)
	if err == nil || !strings.Contains(out, "demo.yaml exists: not overwritten") {
		t.Errorf("second install-config: %v, want refused:\n%s", err, out)
	}
	if got, _ := os.ReadFile(conf); string(got) != "edited: true\n" {
		t.Errorf("install-config overwrote the admin's file: %q", got)
	}
	// uninstall leaves the admin's config.
	if out, err := makeIn(t, tree, "uninstall", "DESTDIR="+dest); err != nil {
		t.Fatalf("make uninstall: %v\n%s", err, out)
	}
	if _, err := os.Stat(conf); err != nil {
		t.Errorf("uninstall removed %s: %v", conf, err)
	}
}
