package cli

// Shell completion, generated from a command's flag set: `sre-x --completion
// bash|zsh|fish` prints a script that completes every flag of sre-x (long
// and short), the files or directories a flag names, and the subcommands
// (sre-report list, show, …) with their own flags.
//
// --completion is a first-argument check in Parse, not a flag: it is a
// meta-command like --help, it takes no other flag with it, and being no
// flag it cannot show in --help's flag list, become a key of a --config
// file (sre-detect takes its keys from the flag set), or collide with a
// tool's own flags: a tool that defines --completion itself keeps it.

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/spf13/pflag"
)

// shells are the shells --completion writes a script for.
var shells = []string{"bash", "zsh", "fish"}

// Subcommand declares that fs's command takes the word name as its first
// argument instead of flags (sre-report list): completion offers name
// there, with summary as its description, and after it the flags of name's
// own flag set. run runs the subcommand with its arguments; to learn its
// flags, completion runs it once with an argument no command line can
// carry, which its Parse answers at once with the flag set. So run must
// reach Parse before it does anything else. Call it between NewFlagSet and
// Parse.
func Subcommand(fs *pflag.FlagSet, name, summary string, run func(args []string) error) {
	subcommandsMu.Lock()
	defer subcommandsMu.Unlock()
	subcommands[fs] = append(subcommands[fs], subcommand{name, summary, run})
}

type subcommand struct {
	name, summary string
	run           func(args []string) error
}

var (
	subcommandsMu sync.Mutex
	subcommands   = map[*pflag.FlagSet][]subcommand{}
)

// takeSubcommands returns what Subcommand declared for fs and forgets it:
// Parse, a flag set's last use, takes it every time.
func takeSubcommands(fs *pflag.FlagSet) []subcommand {
	subcommandsMu.Lock()
	defer subcommandsMu.Unlock()
	subs := subcommands[fs]
	delete(subcommands, fs)
	return subs
}

// probeArg is what completion runs a subcommand with to get its flag set:
// a NUL, which no argv can hold.
const probeArg = "\x00flags"

// probed carries a subcommand's flag set back from its Parse.
type probed struct{ fs *pflag.FlagSet }

func (p *probed) Error() string { return "flag set probed for completion" }

// completion handles the arguments that are about completion: the probe,
// and --completion SHELL as the first argument of a command (not of a
// subcommand, whose flag set is named "tool sub"). It reports whether it
// handled args; the error is then Parse's answer.
func completion(fs *pflag.FlagSet, out io.Writer, args []string) (bool, error) {
	if len(args) == 1 && args[0] == probeArg {
		return true, &probed{fs}
	}
	subs := takeSubcommands(fs)
	if len(args) == 0 || strings.Contains(fs.Name(), " ") || fs.Lookup("completion") != nil {
		return false, nil
	}
	shell, ok := strings.CutPrefix(args[0], "--completion")
	var rest []string
	switch {
	case !ok:
		return false, nil
	case shell == "":
		if len(args) < 2 {
			return true, Usagef("--completion: name the shell: %s", strings.Join(shells, ", "))
		}
		shell, rest = args[1], args[2:]
	case shell[0] == '=':
		shell, rest = shell[1:], args[1:]
	default:
		return false, nil // --completionX: pflag names the unknown flag
	}
	if len(rest) > 0 {
		return true, Usagef("--completion %s: unexpected argument %q (it takes no other flag)", shell, rest[0])
	}
	if !slices.Contains(shells, shell) {
		return true, Usagef("--completion %q: unknown shell (want %s)", shell, strings.Join(shells, ", "))
	}
	var script string
	switch cmd := specOf(fs, subs); shell {
	case "bash":
		script = bashScript(cmd)
	case "zsh":
		script = zshScript(cmd)
	case "fish":
		script = fishScript(cmd)
	}
	if _, err := io.WriteString(out, script); err != nil {
		return true, Failf("--completion %s: %v", shell, err)
	}
	return true, ErrHelp // printed: exit 0, nothing more to do
}

// compKind is what a flag's value is, for completion.
type compKind int

const (
	kindNone compKind = iota // a word completion cannot guess
	kindFile                 // a file (or any path)
	kindDir                  // a directory
)

type compFlag struct {
	long, short string
	value       bool // takes a value (--dir DIR); else a switch (--strict)
	repeat      bool // may be given more than once
	kind        compKind
	arg         string // the value's name: FILE, DIR, duration
	desc        string
}

type compSub struct {
	name, summary string
	flags         []compFlag
}

type compCmd struct {
	name  string
	flags []compFlag
	subs  []compSub
}

// specOf reads what completion needs from fs and its subcommands.
func specOf(fs *pflag.FlagSet, subs []subcommand) compCmd {
	c := compCmd{name: fs.Name(), flags: flagsOf(fs)}
	for _, s := range subs {
		sub := compSub{name: s.name, summary: s.summary}
		var p *probed
		if err := s.run([]string{probeArg}); errors.As(err, &p) {
			sub.flags = flagsOf(p.fs)
		} else {
			sub.flags = flagsOf(pflag.NewFlagSet(s.name, pflag.ContinueOnError))
		}
		c.subs = append(c.subs, sub)
	}
	return c
}

// fileFlags are flag names whose value is a file even where the usage does
// not name it FILE.
var fileFlags = map[string]bool{
	"log": true, "config": true, "rules": true, "pidfile": true, "kubeconfig": true,
	"textfile": true, "kmsg": true, "socket": true,
}

func flagsOf(fs *pflag.FlagSet) []compFlag {
	var flags []compFlag
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Deprecated != "" {
			return
		}
		arg, usage := pflag.UnquoteUsage(f)
		cf := compFlag{
			long:   f.Name,
			short:  f.Shorthand,
			value:  f.NoOptDefVal == "",
			repeat: strings.HasSuffix(f.Value.Type(), "Slice") || strings.HasSuffix(f.Value.Type(), "Array") || strings.Contains(usage, "repeatable"),
			arg:    arg,
			desc:   summarize(usage),
		}
		if cf.value {
			cf.kind = kindOfFlag(f.Name, arg)
		}
		flags = append(flags, cf)
	})
	if fs.Lookup("help") == nil { // pflag adds -h, --help at Parse
		h := compFlag{long: "help", desc: "print the help and exit"}
		if fs.ShorthandLookup("h") == nil {
			h.short = "h"
		}
		flags = append(flags, h)
	}
	return flags
}

// kindOfFlag guesses from a flag's name and its value's name in the usage
// (`FILE`, `DIR`, `PATH`) whether its value is a file or a directory.
func kindOfFlag(name, arg string) compKind {
	switch {
	case arg == "DIR" || name == "dir" || strings.HasSuffix(name, "-dir") || strings.HasSuffix(name, "-root"):
		return kindDir
	case arg == "FILE" || arg == "PATH" || fileFlags[name] ||
		strings.HasSuffix(name, "-file") || strings.HasSuffix(name, "-log") ||
		strings.HasSuffix(name, "-socket") || strings.HasSuffix(name, "-config"):
		return kindFile
	}
	return kindNone
}

// summarize shortens a flag's usage to a description a completion menu
// shows on one line.
func summarize(usage string) string {
	usage = strings.Join(strings.Fields(usage), " ")
	const most = 72
	if utf8.RuneCountInString(usage) <= most {
		return usage
	}
	r := []rune(usage)[:most]
	if i := strings.LastIndexByte(string(r), ' '); i > most/2 {
		return string(r)[:i] + "…"
	}
	return string(r) + "…"
}

var notWord = regexp.MustCompile(`[^A-Za-z0-9_]`)

// funcName is a shell function name made from the command's: _sre_report.
func funcName(cmd string) string { return "_" + notWord.ReplaceAllString(cmd, "_") }

// ---- bash ----

func bashScript(c compCmd) string {
	fn := funcName(c.name)
	var b strings.Builder
	fmt.Fprintf(&b, `# bash completion for %[1]s                     -*- shell-script -*-
# Generated by "%[1]s --completion bash". Load it with
#   source <(%[1]s --completion bash)
# or install it as /usr/share/bash-completion/completions/%[1]s.

%[2]s() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev= flag= prefix= sub= i
	(( COMP_CWORD > 0 )) && prev=${COMP_WORDS[COMP_CWORD-1]}
	# A subcommand is the first word after the command.
	if (( COMP_CWORD > 1 )); then
		case ${COMP_WORDS[1]} in
%[3]s		esac
	fi
	local flags values files dirs subs=%[4]s
	case $sub in
%[5]s	esac
	# After --, only arguments.
	for (( i = 1; i < COMP_CWORD; i++ )); do
		if [[ ${COMP_WORDS[i]} == -- ]]; then
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			return 0
		fi
	done
	# The value of a flag: --flag VALUE, --flag=VALUE (bash splits at the
	# '=' when COMP_WORDBREAKS holds it, as it does by default).
	if [[ $cur == = && $prev == -* ]]; then
		flag=$prev cur=
	elif [[ $prev == = ]] && (( COMP_CWORD > 1 )); then
		flag=${COMP_WORDS[COMP_CWORD-2]}
	elif [[ $cur == --*=* ]]; then
		flag=${cur%%%%=*} prefix=${cur%%%%=*}= cur=${cur#*=}
	elif [[ $values == *" $prev "* ]]; then
		flag=$prev
	fi
	if [[ -n $flag ]]; then
		if [[ $dirs == *" $flag "* ]]; then
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		elif [[ $files == *" $flag "* ]]; then
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		else
			COMPREPLY=()
		fi
		if [[ -n $prefix ]]; then
			COMPREPLY=("${COMPREPLY[@]/#/$prefix}")
		fi
		return 0
	fi
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$flags" -- "$cur")
		return 0
	fi
	if [[ -z $sub && -n $subs ]] && (( COMP_CWORD == 1 )); then
		mapfile -t COMPREPLY < <(compgen -W "$subs" -- "$cur")
		return 0
	fi
	compopt -o filenames 2>/dev/null
	mapfile -t COMPREPLY < <(compgen -f -- "$cur")
	return 0
}

complete -F %[2]s %[1]s
`, c.name, fn, bashSubCases(c), shQuote(strings.Join(subNames(c), " ")), bashContexts(c))
	return b.String()
}

func subNames(c compCmd) []string {
	var names []string
	for _, s := range c.subs {
		names = append(names, s.name)
	}
	return names
}

func bashSubCases(c compCmd) string {
	if len(c.subs) == 0 {
		return ""
	}
	var quoted []string
	for _, n := range subNames(c) {
		quoted = append(quoted, shQuote(n))
	}
	return "\t\t" + strings.Join(quoted, "|") + ") sub=${COMP_WORDS[1]} ;;\n"
}

func bashContexts(c compCmd) string {
	var b strings.Builder
	ctx := func(label string, flags []compFlag) {
		var words, values, files, dirs []string
		for _, f := range flags {
			names := []string{"--" + f.long}
			if f.short != "" {
				names = append(names, "-"+f.short)
			}
			words = append(words, names...)
			if !f.value {
				continue
			}
			values = append(values, names...)
			switch f.kind {
			case kindFile:
				files = append(files, names...)
			case kindDir:
				dirs = append(dirs, names...)
			}
		}
		list := func(w []string) string { return shQuote(" " + strings.Join(w, " ") + " ") }
		fmt.Fprintf(&b, "\t%s)\n\t\tflags=%s\n\t\tvalues=%s\n\t\tfiles=%s\n\t\tdirs=%s\n\t\t;;\n",
			label, shQuote(strings.Join(words, " ")), list(values), list(files), list(dirs))
	}
	ctx("''", c.flags)
	for _, s := range c.subs {
		ctx(shQuote(s.name), s.flags)
	}
	return b.String()
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_.,/+-]+$`)

// shQuote quotes s for a POSIX shell where it needs it: it's -> 'it'\”s'.
func shQuote(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ---- zsh ----

func zshScript(c compCmd) string {
	fn := "_" + c.name
	var b strings.Builder
	fmt.Fprintf(&b, `#compdef %[1]s
# zsh completion for %[1]s, generated by "%[1]s --completion zsh".
# Install it as _%[1]s in a directory of $fpath
# (/usr/share/zsh/vendor-completions, /usr/local/share/zsh/site-functions),
# or load it with
#   source <(%[1]s --completion zsh)

`, c.name)
	for _, s := range c.subs {
		fmt.Fprintf(&b, "%s_%s() {\n\t_arguments -s -S \\\n%s\t\t'*:file:_files'\n}\n\n",
			fn, zshName(s.name), zshSpecs(s.flags))
	}
	fmt.Fprintf(&b, "%s() {\n", fn)
	if len(c.subs) > 0 {
		b.WriteString("\tif (( CURRENT > 2 )); then\n\t\tcase $words[2] in\n")
		for _, s := range c.subs {
			fmt.Fprintf(&b, "\t\t(%s) shift words; (( CURRENT-- )); %s_%s; return ;;\n", zshPattern(s.name), fn, zshName(s.name))
		}
		b.WriteString("\t\tesac\n\tfi\n\tlocal -a subcommands\n\tsubcommands=(\n")
		for _, s := range c.subs {
			fmt.Fprintf(&b, "\t\t%s\n", shQuote(zshEscape(s.name)+":"+s.summary))
		}
		fmt.Fprintf(&b, "\t)\n\t_arguments -s -S \\\n%s\t\t'1:subcommand:_describe -t subcommands subcommand subcommands'\n}\n", zshSpecs(c.flags))
	} else {
		fmt.Fprintf(&b, "\t_arguments -s -S \\\n%s\t\t'*:file:_files'\n}\n", zshSpecs(c.flags))
	}
	fmt.Fprintf(&b, `
if [ "$funcstack[1]" = %[1]s ]; then
	%[1]s "$@"
else
	compdef %[1]s %[2]s
fi
`, shQuote(fn), shQuote(c.name))
	return b.String()
}

func zshName(s string) string { return notWord.ReplaceAllString(s, "_") }

var casePattern = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// zshPattern quotes the characters a case pattern would read.
func zshPattern(s string) string {
	return casePattern.ReplaceAllString(s, `\$0`)
}

// zshEscape escapes what _arguments and _describe read in a description or
// name: a backslash, brackets and the colon.
func zshEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`, `:`, `\:`).Replace(s)
}

func zshSpecs(flags []compFlag) string {
	var b strings.Builder
	for _, f := range flags {
		star := ""
		if f.repeat {
			star = "*"
		}
		eq := ""
		spec := "[" + zshEscape(f.desc) + "]"
		if f.value {
			eq = "=" // --flag=VALUE or --flag VALUE
			arg := f.arg
			if arg == "" {
				arg = "value"
			}
			action := " "
			switch f.kind {
			case kindFile:
				action = "_files"
			case kindDir:
				action = "_files -/"
			}
			spec += ":" + zshEscape(arg) + ":" + action
		}
		if f.short == "" {
			fmt.Fprintf(&b, "\t\t%s \\\n", shQuote(star+"--"+f.long+eq+spec))
			continue
		}
		// -f and --follow: one spec each, each excluding the other.
		excl := ""
		if !f.repeat {
			excl = "(-" + f.short + " --" + f.long + ")"
		}
		if excl+star != "" {
			b.WriteString("\t\t" + shQuote(excl+star))
		} else {
			b.WriteString("\t\t")
		}
		fmt.Fprintf(&b, "{-%s,--%s%s}%s \\\n", f.short, f.long, eq, shQuote(spec))
	}
	return b.String()
}

// ---- fish ----

func fishScript(c compCmd) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# fish completion for %[1]s, generated by "%[1]s --completion fish".
# Install it as %[1]s.fish in ~/.config/fish/completions or
# /usr/share/fish/vendor_completions.d, or load it with
#   %[1]s --completion fish | source
complete -c %[2]s -e
`, c.name, fishQuote(c.name))
	names := subNames(c)
	top := ""
	if len(names) > 0 {
		var quoted []string
		for _, n := range names {
			quoted = append(quoted, fishQuote(n))
		}
		list := strings.Join(quoted, " ")
		top = fishQuote("not __fish_seen_subcommand_from " + list)
		for _, s := range c.subs {
			fmt.Fprintf(&b, "complete -c %s -n __fish_use_subcommand -f -a %s -d %s\n",
				fishQuote(c.name), fishQuote(s.name), fishQuote(s.summary))
		}
	}
	fishFlags(&b, c.name, top, c.flags)
	for _, s := range c.subs {
		fishFlags(&b, c.name, fishQuote("__fish_seen_subcommand_from "+fishQuote(s.name)), s.flags)
	}
	return b.String()
}

func fishFlags(b *strings.Builder, cmd, cond string, flags []compFlag) {
	for _, f := range flags {
		fmt.Fprintf(b, "complete -c %s", fishQuote(cmd))
		if cond != "" {
			fmt.Fprintf(b, " -n %s", cond)
		}
		if f.short != "" {
			fmt.Fprintf(b, " -s %s", fishQuote(f.short))
		}
		fmt.Fprintf(b, " -l %s", fishQuote(f.long))
		if f.value {
			switch f.kind {
			case kindFile:
				b.WriteString(" -r -F")
			case kindDir:
				b.WriteString(" -x -a '(__fish_complete_directories)'")
			default:
				b.WriteString(" -x")
			}
		}
		fmt.Fprintf(b, " -d %s\n", fishQuote(f.desc))
	}
}

// fishQuote quotes s for fish, whose single quotes take \' and \\.
func fishQuote(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
