package cli_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/localsre/sre-agent/internal/cli"
)

// sampleFlags is a flag set like a tool's: a duration, a repeatable
// pattern, files and directories by their usage's value name or by their
// own name, switches, a short flag, and --proc-root (a DIR).
func sampleFlags(name string, out *strings.Builder) *pflag.FlagSet {
	fs := cli.NewFlagSet(name, "usage of "+name+"\n", out)
	fs.Duration("interval", time.Second, "time between samples")
	fs.StringArray("match", nil, "sample processes matching `REGEX` (repeatable)")
	fs.StringArray("pidfile", nil, "the PID in `FILE` (repeatable)")
	fs.String("proc-root", "/proc", "procfs mount (`DIR`)")
	fs.String("dir", "sre_reports", "report directory")
	fs.String("rules", "", "rules in YAML")
	fs.String("token-file", "", "the token")
	fs.String("config", "", "read flags from the YAML `FILE`")
	fs.Bool("one", false, "refuse several processes")
	fs.BoolP("follow", "f", false, "keep reading")
	fs.Int("count", 0, "stop after `N` ticks")
	fs.Bool("version", false, "print the version and exit")
	return fs
}

// script runs `name --completion shell` through Parse, as a tool would.
func script(t *testing.T, shell string, fs *pflag.FlagSet, out *strings.Builder) string {
	t.Helper()
	err := cli.Parse(fs, []string{"--completion", shell})
	if !errors.Is(err, cli.ErrHelp) || cli.ExitCode(err) != cli.ExitOK {
		t.Fatalf("Parse(--completion %s) = %v (exit %d), want ErrHelp (exit 0)", shell, err, cli.ExitCode(err))
	}
	if out.Len() == 0 {
		t.Fatalf("--completion %s printed nothing", shell)
	}
	return out.String()
}

func TestCompletionScriptsNameEveryFlag(t *testing.T) {
	// What each shell's script says of a flag: its name, whether it takes
	// a value, and how that value completes.
	cases := map[string][]string{
		"bash": {
			"complete -F _sre_sample sre-sample",
			"flags='--interval --match --pidfile --proc-root --dir --rules --token-file --config --one --follow -f --count --version --help -h'",
			"values=' --interval --match --pidfile --proc-root --dir --rules --token-file --config --count '",
			"files=' --pidfile --rules --token-file --config '",
			"dirs=' --proc-root --dir '",
		},
		"zsh": {
			"#compdef sre-sample",
			"'--interval=[time between samples]:duration: '",
			"'*--match=[sample processes matching REGEX (repeatable)]:REGEX: '",
			"'*--pidfile=[the PID in FILE (repeatable)]:FILE:_files'",
			"'--proc-root=[procfs mount (DIR)]:DIR:_files -/'",
			"'--dir=[report directory]:string:_files -/'",
			"'--rules=[rules in YAML]:string:_files'",
			"'--token-file=[the token]:string:_files'",
			"'--config=[read flags from the YAML FILE]:FILE:_files'",
			"'--one[refuse several processes]'",
			"'(-f --follow)'{-f,--follow}'[keep reading]'",
			"'--count=[stop after N ticks]:N: '",
			"'(-h --help)'{-h,--help}'[print the help and exit]'",
			"compdef _sre-sample sre-sample",
		},
		"fish": {
			"complete -c sre-sample -l interval -x -d 'time between samples'",
			"complete -c sre-sample -l match -x -d",
			"complete -c sre-sample -l pidfile -r -F -d",
			"complete -c sre-sample -l proc-root -x -a '(__fish_complete_directories)' -d",
			"complete -c sre-sample -l dir -x -a '(__fish_complete_directories)' -d",
			"complete -c sre-sample -l rules -r -F -d",
			"complete -c sre-sample -l token-file -r -F -d",
			"complete -c sre-sample -l config -r -F -d",
			"complete -c sre-sample -l one -d 'refuse several processes'",
			"complete -c sre-sample -s f -l follow -d 'keep reading'",
			"complete -c sre-sample -l count -x -d",
			"complete -c sre-sample -s h -l help -d",
		},
	}
	for shell, want := range cases {
		t.Run(shell, func(t *testing.T) {
			var out strings.Builder
			got := script(t, shell, sampleFlags("sre-sample", &out), &out)
			for _, w := range want {
				if !strings.Contains(got, w) {
					t.Errorf("%s script lacks %q:\n%s", shell, w, got)
				}
			}
			if strings.Contains(got, "completion") && !strings.Contains(got, "--completion "+shell) {
				t.Errorf("%s script offers --completion itself:\n%s", shell, got)
			}
		})
	}
}

func TestCompletionEqualsForm(t *testing.T) {
	var a, b strings.Builder
	want := script(t, "fish", sampleFlags("sre-sample", &a), &a)
	fs := sampleFlags("sre-sample", &b)
	if err := cli.Parse(fs, []string{"--completion=fish"}); !errors.Is(err, cli.ErrHelp) {
		t.Fatalf("Parse(--completion=fish) = %v, want ErrHelp", err)
	}
	if b.String() != want {
		t.Errorf("--completion=fish printed another script than --completion fish")
	}
}

func TestCompletionBadRequests(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no shell", []string{"--completion"}, "--completion: name the shell: bash, zsh, fish"},
		{"unknown shell", []string{"--completion", "tcsh"}, `--completion "tcsh": unknown shell (want bash, zsh, fish)`},
		{"unknown shell with =", []string{"--completion=csh"}, `--completion "csh": unknown shell`},
		{"more after it", []string{"--completion", "bash", "--one"}, `--completion bash: unexpected argument "--one"`},
		// Not the first argument: not a request; pflag names the flag.
		{"after a flag", []string{"--one", "--completion", "bash"}, "unknown flag: --completion"},
		{"a longer name", []string{"--completions", "bash"}, "unknown flag: --completions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			err := cli.Parse(sampleFlags("sre-sample", &out), tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
			if got := cli.ExitCode(err); got != cli.ExitUsage {
				t.Errorf("exit %d, want %d", got, cli.ExitUsage)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q", out.String())
			}
		})
	}
}

// A subcommand's flag set ("sre-report list") prints no script of its
// own: the command's script covers it. A tool's own --completion flag
// keeps its meaning.
func TestCompletionOnlyForTheCommand(t *testing.T) {
	var out strings.Builder
	err := cli.Parse(sampleFlags("sre-report list", &out), []string{"--completion", "bash"})
	if err == nil || !strings.Contains(err.Error(), "unknown flag: --completion") {
		t.Errorf("subcommand Parse(--completion bash) = %v, want unknown flag", err)
	}
	own := sampleFlags("sre-x", &out)
	shell := own.String("completion", "", "the tool's own flag")
	if err := cli.Parse(own, []string{"--completion", "bash"}); err != nil || *shell != "bash" {
		t.Errorf("tool's own --completion: err %v, value %q", err, *shell)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q", out.String())
	}
}

func TestCompletionNotInHelp(t *testing.T) {
	var out strings.Builder
	if err := cli.Parse(sampleFlags("sre-sample", &out), []string{"--help"}); !errors.Is(err, cli.ErrHelp) {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "completion") {
		t.Errorf("--help lists completion:\n%s", out.String())
	}
}

// reportLike is a command with subcommands, declared as sre-report does.
// The probe for a subcommand's flags must not run it: ran says if it did.
var ran bool

func reportLike(out *strings.Builder) *pflag.FlagSet {
	fs := cli.NewFlagSet("sre-report", "usage\n", out)
	fs.String("dir", "sre_reports", "report directory")
	fs.StringArray("log", nil, "follow `FILE`")
	cli.Subcommand(fs, "list", "the incidents in the archive", func(args []string) error {
		sub := cli.NewFlagSet("sre-report list", "usage\n", out)
		sub.String("since", "", "only events after this")
		sub.String("dir", "sre_reports", "report directory")
		if err := cli.Parse(sub, args); err != nil {
			return err
		}
		ran = true // the probe must never get here
		return nil
	})
	cli.Subcommand(fs, "serve", "the dashboard", func(args []string) error {
		sub := cli.NewFlagSet("sre-report serve", "usage\n", out)
		sub.String("token-file", "", "the token's `FILE`")
		sub.BoolP("allow-remote", "r", false, "bind any address")
		return cli.Parse(sub, args)
	})
	cli.Subcommand(fs, "broken", "takes no probe", func([]string) error { return errors.New("no flags") })
	return fs
}

func TestCompletionSubcommands(t *testing.T) {
	cases := map[string][]string{
		"bash": {
			"subs='list serve broken'",
			"list|serve|broken) sub=${COMP_WORDS[1]} ;;",
			"\tlist)\n\t\tflags='--since --dir --help -h'\n\t\tvalues=' --since --dir '\n\t\tfiles='  '\n\t\tdirs=' --dir '",
			"\tserve)\n\t\tflags='--token-file --allow-remote -r --help -h'\n\t\tvalues=' --token-file '\n\t\tfiles=' --token-file '",
			"\tbroken)\n\t\tflags='--help -h'",
		},
		"zsh": {
			"(list) shift words; (( CURRENT-- )); _sre-report_list; return ;;",
			"_sre-report_list() {\n\t_arguments -s -S \\\n\t\t'--since=[only events after this]:string: ' \\\n\t\t'--dir=[report directory]:string:_files -/' \\",
			`'--token-file=[the token'\''s FILE]:FILE:_files'`,
			"'list:the incidents in the archive'",
			"'1:subcommand:_describe -t subcommands subcommand subcommands'",
		},
		"fish": {
			"complete -c sre-report -n __fish_use_subcommand -f -a list -d 'the incidents in the archive'",
			"complete -c sre-report -n 'not __fish_seen_subcommand_from list serve broken' -l dir -x -a",
			"complete -c sre-report -n '__fish_seen_subcommand_from list' -l since -x -d",
			"complete -c sre-report -n '__fish_seen_subcommand_from serve' -l token-file -r -F -d",
			"complete -c sre-report -n '__fish_seen_subcommand_from serve' -s r -l allow-remote -d",
		},
	}
	for shell, want := range cases {
		t.Run(shell, func(t *testing.T) {
			var out strings.Builder
			ran = false
			got := script(t, shell, reportLike(&out), &out)
			if ran {
				t.Errorf("--completion %s ran the subcommand list", shell)
			}
			for _, w := range want {
				if !strings.Contains(got, w) {
					t.Errorf("%s script lacks %q:\n%s", shell, w, got)
				}
			}
		})
	}
}

// ---- the scripts in the real shells ----

// shell finds a shell to run the scripts in; with CI=true a missing one
// fails the test (.ci/run installs them).
func shell(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (CI installs it: .ci/run)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return path
}

// completionDir makes a directory with a file and a directory to complete.
func completionDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "reports"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeScript(t *testing.T, shell string, fs *pflag.FlagSet, out *strings.Builder) string {
	path := filepath.Join(t.TempDir(), "completion."+shell)
	if err := os.WriteFile(path, []byte(script(t, shell, fs, out)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	home := t.TempDir() // fish writes its config there
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_DATA_HOME="+home)
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, got)
	}
	return string(got)
}

// TestCompletionBash loads the script in bash and asks it as bash's
// programmable completion does: COMP_WORDS and COMP_CWORD set, the
// function `complete -p` names called, COMPREPLY read.
func TestCompletionBash(t *testing.T) {
	bash := shell(t, "bash")
	var out, rout strings.Builder
	sample := writeScript(t, "bash", sampleFlags("sre-sample", &out), &out)
	report := writeScript(t, "bash", reportLike(&rout), &rout)
	dir := completionDir(t)
	const driver = `
source "$1"; source "$2"
ask() {
	local cmd=$1; shift
	local fn=$(complete -p "$cmd") || exit 1
	fn=${fn#*-F }; fn=${fn%% *}
	COMP_WORDS=("$cmd" "$@"); COMP_CWORD=$#; COMPREPLY=()
	"$fn" "$cmd" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
	echo "$cmd $*=>$(printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | paste -sd ' ')"
}
complete -p sre-sample sre-report
ask sre-sample --int
ask sre-sample --p
ask sre-sample -
ask sre-sample --pidfile ''
ask sre-sample --pidfile r
ask sre-sample --proc-root ''
ask sre-sample --proc-root = ''
ask sre-sample --rules=r
ask sre-sample --interval ''
ask sre-sample --one ''
ask sre-sample -- --i
ask sre-report ''
ask sre-report l
ask sre-report list --s
ask sre-report list --dir ''
ask sre-report serve --token-file ''
ask sre-report serve -
ask sre-report --dir ''
`
	got := run(t, dir, bash, "-c", driver, "bash", sample, report)
	for _, want := range []string{
		"complete -F _sre_sample sre-sample",
		"complete -F _sre_report sre-report",
		"sre-sample --int=>--interval",
		"sre-sample --p=>--pidfile --proc-root",
		"sre-sample -=>--config --count --dir --follow --help --interval --match --one --pidfile --proc-root --rules --token-file --version -f -h",
		"sre-sample --pidfile =>reports rules.yaml",
		"sre-sample --pidfile r=>reports rules.yaml",
		"sre-sample --proc-root =>reports",
		"sre-sample --proc-root = =>reports",
		"sre-sample --rules=r=>--rules=reports --rules=rules.yaml",
		"sre-sample --interval =>",
		"sre-sample --one =>reports rules.yaml",
		"sre-sample -- --i=>",
		"sre-report =>broken list serve",
		"sre-report l=>list",
		"sre-report list --s=>--since",
		"sre-report list --dir =>reports",
		"sre-report serve --token-file =>reports rules.yaml",
		"sre-report serve -=>--allow-remote --help --token-file -h -r",
		"sre-report --dir =>reports",
	} {
		if !slices.Contains(strings.Split(got, "\n"), want) {
			t.Errorf("bash completion lacks %q:\n%s", want, got)
		}
	}
}

// TestCompletionZsh checks the script parses, then loads it into zsh's
// completion system (compinit) as a file in $fpath and as sourced.
func TestCompletionZsh(t *testing.T) {
	zsh := shell(t, "zsh")
	var out, rout strings.Builder
	fpath := t.TempDir()
	for name, fs := range map[string]*pflag.FlagSet{"_sre-sample": sampleFlags("sre-sample", &out), "_sre-report": reportLike(&rout)} {
		b := &out
		if name == "_sre-report" {
			b = &rout
		}
		s := script(t, "zsh", fs, b)
		path := filepath.Join(fpath, name)
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, fpath, zsh, "-n", path)
	}
	dir := completionDir(t)
	// compinit reads #compdef from the files in $fpath: the command
	// completes with the function the file defines.
	got := run(t, dir, zsh, "-f", "-c", `fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -D
print -r -- "sample=$_comps[sre-sample] report=$_comps[sre-report]"
source "$1/_sre-sample"
print -r -- "sourced=$_comps[sre-sample] $+functions[_sre-sample]"`, "zsh", fpath)
	for _, want := range []string{"sample=_sre-sample report=_sre-report", "sourced=_sre-sample 1"} {
		if !strings.Contains(got, want) {
			t.Errorf("zsh: lacks %q:\n%s", want, got)
		}
	}

	// Then complete for real: an interactive zsh on a pseudo-terminal
	// (zsh/zpty) gets each line and a TAB, and every match its completion
	// adds is written down (compadd -O) under the line.
	matches := filepath.Join(t.TempDir(), "matches")
	lines := []string{
		"sre-sample --int", "sre-sample --pidfile ", "sre-sample --proc-root ", "sre-sample --interval ",
		"sre-report ", "sre-report list --", "sre-report serve --token-file ", "sre-report serve -",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, zsh, append([]string{"-f", "-c", zptyDriver, "zsh", fpath, matches}, lines...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zsh on a pty: %v\n%s", err, out)
	}
	data, err := os.ReadFile(matches)
	if err != nil {
		t.Fatal(err)
	}
	got = string(data)
	sections := map[string][]string{}
	var cur string
	for _, l := range strings.Split(got, "\n") {
		if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") {
			cur = strings.Trim(l, "[]")
			sections[cur] = nil
			continue
		}
		for _, w := range strings.Fields(l) {
			if w == "<done>" {
				continue
			}
			if !slices.Contains(sections[cur], w) {
				sections[cur] = append(sections[cur], w)
			}
		}
	}
	for line, want := range map[string][]string{
		"sre-sample --int":               {"--interval"},
		"sre-sample --pidfile ":          {"reports", "rules.yaml"},
		"sre-sample --proc-root ":        {"reports"},
		"sre-sample --interval ":         nil,
		"sre-report ":                    {"broken", "list", "serve"},
		"sre-report list --":             {"--dir", "--help", "--since"},
		"sre-report serve --token-file ": {"reports", "rules.yaml"},
		"sre-report serve -":             {"--allow-remote", "--help", "--token-file", "-h", "-r"},
	} {
		g, ok := sections[line]
		slices.Sort(g)
		if !ok || !slices.Equal(g, want) {
			t.Errorf("zsh: %q<TAB> = %q, want %q\n%s", line, g, want, got)
		}
	}
}

// zptyDriver runs an interactive zsh on a pseudo-terminal with $1 in its
// fpath; for each further argument it writes "[line]" to $2, types the
// line and a TAB, and waits for a marker the shell prints (the terminal's
// echo of the command that prints it reads MARK”n, not MARKn).
const zptyDriver = `zmodload zsh/zpty || exit 1
out=$2
zpty z 'TERM=dumb zsh -f -i'
zpty -w z "fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z "compadd() { local -a a; builtin compadd -O a \"\$@\"; (( \$#a )) && print -r -- \"\${(j: :)a}\" >> $out; builtin compadd \"\$@\" }"
# TAB completes, then says so in the file: the next key waits for it, as
# zle cuts a completion short when more input is already waiting.
zpty -w z "tab-done() { zle complete-word; print -r -- '<done>' >> $out }; zle -N tab-done; bindkey '^I' tab-done"
n=0
for line in "${@:3}"; do
	(( n++ ))
	zpty -w z "print -r -- '[$line]' >> $out; print MARK''$n"
	zpty -r z got "*MARK$n*" || exit 1
	zpty -w -n z "$line"$'\t'
	tries=0
	until [[ -f $out && $(grep -c '^<done>$' $out) -ge $n ]]; do
		sleep 0.05
		(( ++tries > 1200 )) && exit 1
	done
	zpty -w -n z $'\C-u'
done
(( n++ ))
zpty -w z "print MARK''$n"
zpty -r z got "*MARK$n*" || exit 1
zpty -d z
`

// TestCompletionFish loads the script in fish and asks complete -C, which
// completes a command line as the shell would.
func TestCompletionFish(t *testing.T) {
	fish := shell(t, "fish")
	var out, rout strings.Builder
	sample := writeScript(t, "fish", sampleFlags("sre-sample", &out), &out)
	report := writeScript(t, "fish", reportLike(&rout), &rout)
	run(t, t.TempDir(), fish, "--no-execute", sample)
	run(t, t.TempDir(), fish, "--no-execute", report)
	dir := completionDir(t)
	got := run(t, dir, fish, "--no-config", "-c", `source $argv[1]; source $argv[2]
for line in 'sre-sample --int' 'sre-sample --pidfile ' 'sre-sample --proc-root ' 'sre-sample -' 'sre-report ' 'sre-report list --' 'sre-report serve --token-file r'
	echo "[$line]"
	complete -C $line | string replace -r '\t.*' ''
end
true`, sample, report)
	sections := map[string][]string{}
	var cur string
	for _, l := range strings.Split(got, "\n") {
		if strings.HasPrefix(l, "[") {
			cur = strings.Trim(l, "[]")
			continue
		}
		if l != "" {
			sections[cur] = append(sections[cur], l)
		}
	}
	for line, want := range map[string][]string{
		"sre-sample --int":                {"--interval"},
		"sre-sample --pidfile ":           {"reports/", "rules.yaml"},
		"sre-sample --proc-root ":         {"reports/"},
		"sre-sample -":                    {"--config", "--count", "--dir", "--follow", "--help", "--interval", "--match", "--one", "--pidfile", "--proc-root", "--rules", "--token-file", "--version", "-f", "-h"},
		"sre-report ":                     {"broken", "list", "serve"},
		"sre-report list --":              {"--dir", "--help", "--since"},
		"sre-report serve --token-file r": {"reports/", "rules.yaml"},
	} {
		g := sections[line]
		slices.Sort(g)
		if !slices.Equal(g, want) {
			t.Errorf("fish: complete -C %q = %q, want %q", line, g, want)
		}
	}
}
