package detectcmd

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
	"github.com/spf13/pflag"

	"github.com/localsre/sre-agent/internal/cli"
)

// A --config file is YAML, one key per flag, spelled as the flag without
// its dashes (mem_max or mem-max), a list for a repeatable flag:
//
//	mem_max: 80%
//	leak_window: 30m
//	leak_rate: 5MiB/h
//	when: ['zombie=.process.state == "Z"']
//
// It sets what the command line does not: a flag given there wins. So a
// wrapper (scripts/sre-watch) hands the file on, and a person overrides one
// value without editing it.

// notInFile are the flags a file may not set.
var notInFile = map[string]bool{"config": true, "version": true, "help": true}

// configEntry is one key of a --config file, its values as text.
type configEntry struct {
	key    string
	flag   string
	line   int
	values []string
}

// applyConfig reads the --config file and sets every flag it names that
// the command line did not. Errors read "FILE:LINE: message".
func applyConfig(fs *pflag.FlagSet, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return cli.Usagef("--config %s: %v", path, unwrapPath(err))
	}
	entries, err := parseConfig(data, fs)
	if err != nil {
		return cli.Usagef("%s", prefixed(path, err))
	}
	for _, e := range entries {
		if fs.Changed(e.flag) {
			continue // the command line wins
		}
		fl := fs.Lookup(e.flag)
		for _, v := range e.values {
			if err := fl.Value.Set(v); err != nil {
				return cli.Usagef("%s:%d: %s: %v", path, e.line, e.key, err)
			}
		}
	}
	return nil
}

func prefixed(path string, err error) string {
	var le *lineError
	if errors.As(err, &le) {
		return fmt.Sprintf("%s:%d: %s", path, le.line, le.msg)
	}
	return fmt.Sprintf("%s: %v", path, err)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func lineOf(n ast.Node) int {
	if n == nil {
		return 1
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 1
}

// parseConfig reads a config file's bytes into its entries, checking each
// key against the flags of fs.
func parseConfig(data []byte, fs *pflag.FlagSet) (entries []configEntry, err error) {
	// A YAML library panic on odd input is an error here, never a crash.
	defer func() {
		if p := recover(); p != nil {
			entries, err = nil, &lineError{1, fmt.Sprintf("cannot read this YAML: %v", p)}
		}
	}()
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlErr(err)
	}
	if len(f.Docs) > 1 {
		return nil, &lineError{1, "more than one YAML document"}
	}
	var body ast.Node
	if len(f.Docs) == 1 && f.Docs[0] != nil {
		body = f.Docs[0].Body
	}
	var values []*ast.MappingValueNode
	switch b := body.(type) {
	case nil:
		return nil, nil // an empty file sets nothing
	case *ast.MappingNode:
		values = b.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{b}
	default:
		return nil, &lineError{lineOf(body), "want a mapping of sre-detect flag names to values (mem_max: 80%)"}
	}
	seen := map[string]int{}
	for _, mv := range values {
		line := lineOf(mv.Key)
		key := strings.TrimSpace(mv.Key.String())
		name := strings.ReplaceAll(key, "_", "-")
		fl := fs.Lookup(name)
		if fl == nil || notInFile[name] {
			return nil, &lineError{line, fmt.Sprintf("unknown key %q: the keys are sre-detect's flags without dashes (mem_max, leak_window, …; see --help)", key)}
		}
		if prev, ok := seen[name]; ok {
			return nil, &lineError{line, fmt.Sprintf("%s: given twice (first on line %d)", key, prev)}
		}
		seen[name] = line
		e := configEntry{key: key, flag: name, line: line}
		if seq, ok := mv.Value.(*ast.SequenceNode); ok {
			if !strings.HasSuffix(fl.Value.Type(), "Slice") && !strings.HasSuffix(fl.Value.Type(), "Array") {
				return nil, &lineError{line, fmt.Sprintf("%s: takes one value, not a list", key)}
			}
			for _, n := range seq.Values {
				v, err := scalar(key, n)
				if err != nil {
					return nil, err
				}
				e.values = append(e.values, v)
			}
		} else {
			v, err := scalar(key, mv.Value)
			if err != nil {
				return nil, err
			}
			e.values = []string{v}
		}
		entries = append(entries, e)
	}
	return entries, nil
}

func scalar(key string, n ast.Node) (string, error) {
	s, ok := n.(ast.ScalarNode)
	if !ok || n.Type() == ast.NullType {
		return "", &lineError{lineOf(n), fmt.Sprintf("%s: want a value (a number, a size, a duration or text)", key)}
	}
	return fmt.Sprint(s.GetValue()), nil
}

func yamlErr(err error) error {
	var ye interface {
		GetToken() *token.Token
		GetMessage() string
	}
	if errors.As(err, &ye) {
		line := 1
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			line = tk.Position.Line
		}
		return &lineError{line, "not YAML: " + ye.GetMessage()}
	}
	return &lineError{1, "not YAML: " + strings.SplitN(err.Error(), "\n", 2)[0]}
}
