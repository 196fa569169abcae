package heal

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
	"github.com/itchyny/gojq"
)

// ErrRules is wrapped by every rules-file error.
var ErrRules = errors.New("invalid rules")

// Defaults applied to a rule that does not say otherwise.
const (
	DefaultStartCheck  = time.Second
	DefaultRetryWindow = 10 * time.Minute
	DefaultRunTimeout  = 30 * time.Second
	DefaultSystemctl   = "/usr/bin/systemctl"
	// DefaultStopTimeout is the t= of a container restart or stop:
	// seconds between the stop signal and SIGKILL, as docker's own.
	DefaultStopTimeout = 10
	// DefaultCaptureLines is how many log lines are kept before a
	// container action.
	DefaultCaptureLines = 100
)

// Backoff is the delay policy of a rule: the delay before attempt n is
// min(Max, Initial·Factor^(n−1)), ± Jitter of itself.
type Backoff struct {
	Initial    time.Duration
	Factor     float64
	Max        time.Duration
	Jitter     float64
	ResetAfter time.Duration
}

// DefaultBackoff is used when a rule has no backoff block, and fills the
// keys a block leaves out.
var DefaultBackoff = Backoff{Initial: time.Second, Factor: 2, Max: 5 * time.Minute, ResetAfter: 10 * time.Minute}

// Delay is the delay before attempt n (1-based); rnd returns a value in
// [0, 1) and is only called when Jitter > 0.
func (b Backoff) Delay(n int, rnd func() float64) time.Duration {
	if n < 1 {
		n = 1
	}
	d := float64(b.Initial) * math.Pow(b.Factor, float64(n-1))
	if d > float64(b.Max) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(b.Max)
	}
	if b.Jitter > 0 && rnd != nil {
		d += d * b.Jitter * (2*rnd() - 1)
	}
	if d < 0 {
		d = 0
	}
	return time.Duration(d)
}

// Rule is one validated rule.
type Rule struct {
	Name        string
	On          []string
	Target      string
	When        string
	Action      string
	Command     []string
	Cwd         string
	Env         map[string]string
	Log         string
	StartCheck  time.Duration
	Timeout     time.Duration
	MaxRetries  int // 0: unlimited (then Cooldown must be > 0)
	RetryWindow time.Duration
	Cooldown    time.Duration
	Backoff     Backoff
	Escalate    string
	Signal      string
	Unit        string
	UserUnit    bool
	Systemctl   string
	// Container actions: the containers the rule may touch (names or id
	// prefixes, and/or a label), the stop timeout, the log lines kept
	// before acting, and whether a failed capture still lets it act.
	Containers     []string
	ContainerLabel string
	StopTimeout    int
	CaptureLines   int
	CaptureBestEff bool
	// Kubernetes actions (pod_rules.go): the namespaces the rule may act
	// in, the workloads it may act on, and scale's bounds.
	Namespaces  []string
	Workloads   []Workload
	AllowOrphan bool
	MinReplicas int
	MaxReplicas int
	Step        int
	By          int
	AllowZero   bool
	Line, Col   int

	when *gojq.Code
}

// Rules is a parsed rules file.
type Rules struct {
	Path   string
	Rules  []*Rule
	byName map[string]*Rule
}

// Get returns the rule called name.
func (rs *Rules) Get(name string) *Rule { return rs.byName[name] }

type rawFile struct {
	Rules []rawRule `yaml:"rules"`
}

type rawRule struct {
	Name               *string           `yaml:"name"`
	On                 eventTypes        `yaml:"on"`
	Target             string            `yaml:"target"`
	When               string            `yaml:"when"`
	Action             string            `yaml:"action"`
	Command            []string          `yaml:"command"`
	Cwd                string            `yaml:"cwd"`
	Env                map[string]string `yaml:"env"`
	Log                string            `yaml:"log"`
	StartCheckSeconds  *float64          `yaml:"start_check_seconds"`
	TimeoutSeconds     *float64          `yaml:"timeout_seconds"`
	MaxRetries         *int              `yaml:"max_retries"`
	RetryWindowSeconds *float64          `yaml:"retry_window_seconds"`
	CooldownSeconds    *float64          `yaml:"cooldown_seconds"`
	Backoff            *rawBackoff       `yaml:"backoff"`
	Escalate           string            `yaml:"escalate"`
	Signal             string            `yaml:"signal"`
	Unit               string            `yaml:"unit"`
	User               bool              `yaml:"user"`
	Systemctl          string            `yaml:"systemctl"`
	Container          nameList          `yaml:"container"`
	ContainerLabel     string            `yaml:"container_label"`
	StopTimeoutSeconds *int              `yaml:"stop_timeout_seconds"`
	CaptureLines       *int              `yaml:"capture_lines"`
	Capture            string            `yaml:"capture"`
	Namespaces         []string          `yaml:"namespaces"`
	Workloads          []string          `yaml:"workloads"`
	AllowOrphan        *bool             `yaml:"allow_orphan"`
	MinReplicas        *int              `yaml:"min_replicas"`
	MaxReplicas        *int              `yaml:"max_replicas"`
	Step               *int              `yaml:"step"`
	AllowZero          *bool             `yaml:"allow_zero"`
	By                 *int              `yaml:"by"`
}

type rawBackoff struct {
	Initial    *string  `yaml:"initial"`
	Factor     *float64 `yaml:"factor"`
	Max        *string  `yaml:"max"`
	Jitter     *float64 `yaml:"jitter"`
	ResetAfter *string  `yaml:"reset_after"`
}

var goType = regexp.MustCompile(`into Go struct field \S+ of type`)

// posError is a rules error at a place in the file.
type posError struct {
	file      string
	line, col int
	msg       string
}

func (e *posError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.file, e.line, e.col, e.msg)
}
func (e *posError) Unwrap() error { return ErrRules }

// Parse reads a rules file's bytes; name is used in error messages, which
// read "name:line:col: message".
func Parse(name string, data []byte) (*Rules, error) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlErr(name, err)
	}
	var raw rawFile
	var body ast.Node
	if len(f.Docs) > 0 && f.Docs[0] != nil {
		body = f.Docs[0].Body
	}
	if body == nil {
		return nil, &posError{name, 1, 1, "no rules: the file is empty"}
	}
	p := &parsing{name: name, file: f, list: "$.rules"}
	// The file is a mapping with a rules: list, or that list alone.
	if _, ok := body.(*ast.SequenceNode); ok {
		p.list = "$"
		err = decode(body, &raw.Rules)
	} else {
		err = decode(body, &raw)
	}
	if err != nil {
		return nil, yamlErr(name, err)
	}
	if len(f.Docs) > 1 {
		return nil, &posError{name, 1, 1, "more than one YAML document"}
	}
	if len(raw.Rules) == 0 {
		l, c := p.pos(p.list, "$")
		return nil, &posError{name, l, c, "no rules: want a non-empty rules: list"}
	}
	rs := &Rules{Path: name, byName: map[string]*Rule{}}
	for i := range raw.Rules {
		r, err := p.rule(i, &raw.Rules[i])
		if err != nil {
			return nil, err
		}
		if raw.Rules[i].Name == nil {
			// Unnamed rules alike are told apart by their place: -2, -3 …
			base := r.Name
			for n := 2; rs.byName[r.Name] != nil; n++ {
				r.Name = fmt.Sprintf("%s-%d", base, n)
			}
		}
		if prev := rs.byName[r.Name]; prev != nil {
			return nil, p.errf(i, "name", "rule %q: duplicate name (first at line %d)", r.Name, prev.Line)
		}
		rs.byName[r.Name] = r
		rs.Rules = append(rs.Rules, r)
	}
	for i, r := range rs.Rules {
		if r.Escalate == "" {
			continue
		}
		esc := rs.byName[r.Escalate]
		if esc == nil {
			return nil, p.errf(i, "escalate", "rule %q: escalate names %q, which is not a rule", r.Name, r.Escalate)
		}
		if esc == r {
			return nil, p.errf(i, "escalate", "rule %q: escalates to itself", r.Name)
		}
	}
	return rs, nil
}

// decode turns a panic inside the YAML library (seen by FuzzParse on odd
// tags such as `on: !00`) into an error: a rules file never crashes us.
func decode(body ast.Node, raw any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("cannot decode this YAML (unsupported tag or structure): %v", p)
		}
	}()
	return yaml.NodeToValue(body, raw, yaml.Strict())
}

func yamlErr(name string, err error) error {
	var ye interface {
		GetToken() *token.Token
		GetMessage() string
	}
	if errors.As(err, &ye) {
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			return &posError{name, tk.Position.Line, tk.Position.Column, goType.ReplaceAllString(ye.GetMessage(), "where the rules file wants")}
		}
		return &posError{name, 1, 1, ye.GetMessage()}
	}
	return &posError{name, 1, 1, err.Error()}
}

type parsing struct {
	name string
	file *ast.File
	list string // the path of the rule list: $.rules, or $ for a bare list
}

// pos finds the line and column of the first path that exists.
func (p *parsing) pos(paths ...string) (int, int) {
	for _, s := range paths {
		path, err := yaml.PathString(s)
		if err != nil {
			continue
		}
		n, err := path.FilterFile(p.file)
		if err != nil || n == nil {
			continue
		}
		if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 {
			n = m.Values[0].Key // a mapping's token is its first colon
		}
		if tk := n.GetToken(); tk != nil && tk.Position != nil {
			return tk.Position.Line, tk.Position.Column
		}
	}
	return 1, 1
}

// errf is an error at key of rule i (or at the rule when key is absent).
func (p *parsing) errf(i int, key, format string, args ...any) error {
	base := fmt.Sprintf("%s[%d]", p.list, i)
	paths := []string{base}
	if key != "" {
		paths = []string{base + "." + key, base}
	}
	l, c := p.pos(paths...)
	return &posError{p.name, l, c, fmt.Sprintf(format, args...)}
}

// derivedName names a rule that has no name: its action and the events
// it is on, as in "restart_process-on-crash" (records, state and --check
// show it). A rule with no action yet is named by its place.
func derivedName(r *Rule, i int) string {
	if r.Action == "" {
		return fmt.Sprintf("rule-%d", i+1)
	}
	return r.Action + "-on-" + strings.Join(r.On, "+")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// eventTypes is the on: key: one event type (on: crash) or a list of them
// (on: [crash, absent]); null or [] is none.
type eventTypes []string

var _ yaml.NodeUnmarshaler = (*eventTypes)(nil)

// UnmarshalYAML reads a scalar or a sequence of scalars.
func (l *eventTypes) UnmarshalYAML(n ast.Node) error {
	switch n := n.(type) {
	case *ast.NullNode:
		*l = nil
		return nil
	case *ast.StringNode:
		*l = eventTypes{n.Value}
		return nil
	case *ast.SequenceNode:
		out := make(eventTypes, 0, len(n.Values))
		for _, v := range n.Values {
			s, ok := v.(*ast.StringNode)
			if !ok {
				return &nodeError{v.GetToken(), "on: each entry must be an event type name such as crash"}
			}
			out = append(out, s.Value)
		}
		*l = out
		return nil
	}
	return &nodeError{n.GetToken(), "on: want an event type (on: crash) or a list of them (on: [crash, absent])"}
}

// nameList is the container: key: one name (container: web) or a list.
type nameList []string

var _ yaml.NodeUnmarshaler = (*nameList)(nil)

// UnmarshalYAML reads a scalar or a sequence of scalars.
func (l *nameList) UnmarshalYAML(n ast.Node) error {
	scalar := func(v ast.Node) (string, bool) {
		switch v := v.(type) {
		case *ast.StringNode:
			return v.Value, true
		case *ast.IntegerNode, *ast.FloatNode:
			return v.GetToken().Value, true // a name or id prefix of digits
		}
		return "", false
	}
	if s, ok := scalar(n); ok {
		*l = nameList{s}
		return nil
	}
	if seq, ok := n.(*ast.SequenceNode); ok {
		out := make(nameList, 0, len(seq.Values))
		for _, v := range seq.Values {
			s, ok := scalar(v)
			if !ok {
				return &nodeError{v.GetToken(), "container: each entry must be a container name or id prefix"}
			}
			out = append(out, s)
		}
		*l = out
		return nil
	}
	return &nodeError{n.GetToken(), "container: want a container name (container: web) or a list of them (container: [web, api])"}
}

// nodeError is a decoding error at a token, in the shape yamlErr reads.
type nodeError struct {
	tk  *token.Token
	msg string
}

func (e *nodeError) Error() string          { return e.msg }
func (e *nodeError) GetToken() *token.Token { return e.tk }
func (e *nodeError) GetMessage() string     { return e.msg }

func seconds(v *float64, def time.Duration) (time.Duration, bool) {
	if v == nil {
		return def, true
	}
	if *v < 0 || math.IsNaN(*v) || *v > 1e9 {
		return 0, false
	}
	return time.Duration(*v * float64(time.Second)), true
}

func (p *parsing) rule(i int, raw *rawRule) (*Rule, error) {
	r := &Rule{
		Name: strings.TrimSpace(deref(raw.Name)), On: raw.On, Target: raw.Target, When: raw.When,
		Action: raw.Action, Command: raw.Command, Cwd: raw.Cwd, Env: raw.Env, Log: raw.Log,
		Escalate: raw.Escalate, Signal: raw.Signal, Unit: raw.Unit, UserUnit: raw.User, Systemctl: raw.Systemctl,
		Backoff: DefaultBackoff, Containers: raw.Container, ContainerLabel: raw.ContainerLabel,
		StopTimeout: DefaultStopTimeout, CaptureLines: DefaultCaptureLines,
	}
	r.Line, r.Col = p.pos(fmt.Sprintf("%s[%d]", p.list, i))
	switch {
	case raw.Name != nil && r.Name == "":
		return nil, p.errf(i, "name", "rule %d: name: empty", i+1)
	case raw.Name == nil && len(r.On) == 0:
		return nil, p.errf(i, "", "rule %d: name: missing; a rule without on: is reached only by escalate:, which needs its name", i+1)
	case raw.Name == nil:
		r.Name = derivedName(r, i)
	}
	for _, t := range r.On {
		if t == "" || strings.Trim(t, "abcdefghijklmnopqrstuvwxyz_") != "" {
			return nil, p.errf(i, "on", "rule %q: on: %q is not an event type", r.Name, t)
		}
	}
	var ok bool
	if r.StartCheck, ok = seconds(raw.StartCheckSeconds, DefaultStartCheck); !ok {
		return nil, p.errf(i, "start_check_seconds", "rule %q: start_check_seconds: must be >= 0", r.Name)
	}
	if r.Timeout, ok = seconds(raw.TimeoutSeconds, DefaultRunTimeout); !ok || r.Timeout == 0 {
		return nil, p.errf(i, "timeout_seconds", "rule %q: timeout_seconds: must be > 0", r.Name)
	}
	if r.RetryWindow, ok = seconds(raw.RetryWindowSeconds, DefaultRetryWindow); !ok || r.RetryWindow == 0 {
		return nil, p.errf(i, "retry_window_seconds", "rule %q: retry_window_seconds: must be > 0", r.Name)
	}
	if r.Cooldown, ok = seconds(raw.CooldownSeconds, 0); !ok {
		return nil, p.errf(i, "cooldown_seconds", "rule %q: cooldown_seconds: must be >= 0", r.Name)
	}
	if raw.MaxRetries != nil {
		if *raw.MaxRetries < 0 {
			return nil, p.errf(i, "max_retries", "rule %q: max_retries: must be >= 0 (0: unlimited)", r.Name)
		}
		r.MaxRetries = *raw.MaxRetries
	}
	if len(r.On) > 0 && r.MaxRetries == 0 && r.Cooldown == 0 {
		return nil, p.errf(i, "max_retries", "rule %q: unlimited retries (max_retries 0 or absent) with zero cooldown_seconds could act in a storm: set max_retries or cooldown_seconds", r.Name)
	}
	if err := p.backoff(i, r, raw.Backoff); err != nil {
		return nil, err
	}
	if r.When != "" {
		q, err := gojq.Parse(r.When)
		if err == nil {
			r.when, err = gojq.Compile(q)
		}
		if err != nil {
			return nil, p.errf(i, "when", "rule %q: when: %v", r.Name, err)
		}
	}
	if r.Action == "" {
		return nil, p.errf(i, "action", "rule %q: action: missing (one of %s)", r.Name, strings.Join(ActionNames(), ", "))
	}
	kind, found := registry[r.Action]
	if !found {
		return nil, p.errf(i, "action", "rule %q: action %q: unknown (one of %s)", r.Name, r.Action, strings.Join(ActionNames(), ", "))
	}
	if r.Cwd != "" && !filepath.IsAbs(r.Cwd) {
		return nil, p.errf(i, "cwd", "rule %q: cwd %q: must be an absolute path", r.Name, r.Cwd)
	}
	if r.Log != "" && !filepath.IsAbs(r.Log) {
		return nil, p.errf(i, "log", "rule %q: log %q: must be an absolute path", r.Name, r.Log)
	}
	for k := range r.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, p.errf(i, "env", "rule %q: env: bad variable name %q", r.Name, k)
		}
	}
	if err := containerKeys(r, raw); err != nil {
		var ke *keyError
		if errors.As(err, &ke) {
			return nil, p.errf(i, ke.key, "rule %q: %s", r.Name, ke.msg)
		}
	}
	if err := podKeys(r, raw); err != nil {
		var ke *keyError
		if errors.As(err, &ke) {
			return nil, p.errf(i, ke.key, "rule %q: %s", r.Name, ke.msg)
		}
	}
	if err := kind.check(r); err != nil {
		var ke *keyError
		if errors.As(err, &ke) {
			return nil, p.errf(i, ke.key, "rule %q: %s", r.Name, ke.msg)
		}
		return nil, p.errf(i, "", "rule %q: %v", r.Name, err)
	}
	return r, nil
}

func (p *parsing) backoff(i int, r *Rule, raw *rawBackoff) error {
	if raw == nil {
		return nil
	}
	dur := func(key string, s *string, dst *time.Duration) error {
		if s == nil {
			return nil
		}
		d, err := time.ParseDuration(*s)
		if err != nil || d < 0 {
			return p.errf(i, "backoff."+key, "rule %q: backoff.%s %q: not a duration such as 1s or 5m", r.Name, key, *s)
		}
		*dst = d
		return nil
	}
	b := &r.Backoff
	if err := dur("initial", raw.Initial, &b.Initial); err != nil {
		return err
	}
	if err := dur("max", raw.Max, &b.Max); err != nil {
		return err
	}
	if err := dur("reset_after", raw.ResetAfter, &b.ResetAfter); err != nil {
		return err
	}
	if raw.Factor != nil {
		b.Factor = *raw.Factor
	}
	if raw.Jitter != nil {
		b.Jitter = *raw.Jitter
	}
	switch {
	case b.Factor < 1 || b.Factor > 100 || math.IsNaN(b.Factor):
		return p.errf(i, "backoff.factor", "rule %q: backoff.factor %v: must be between 1 and 100", r.Name, b.Factor)
	case b.Jitter < 0 || b.Jitter >= 1 || math.IsNaN(b.Jitter):
		return p.errf(i, "backoff.jitter", "rule %q: backoff.jitter %v: must be in [0, 1)", r.Name, b.Jitter)
	case b.Max < b.Initial:
		return p.errf(i, "backoff.max", "rule %q: backoff.max %v is less than backoff.initial %v", r.Name, b.Max, b.Initial)
	case b.ResetAfter <= 0:
		return p.errf(i, "backoff.reset_after", "rule %q: backoff.reset_after: must be > 0", r.Name)
	}
	return nil
}

// keyError is an action's check failure at one key of the rule.
type keyError struct{ key, msg string }

func (e *keyError) Error() string { return e.msg }

func keyErrf(key, format string, args ...any) error {
	return &keyError{key, fmt.Sprintf(format, args...)}
}

// checkCommand requires an argv with an absolute program path.
func checkCommand(r *Rule) error {
	if len(r.Command) == 0 {
		return keyErrf("command", "action %s: command: missing; sre-heal never guesses a program from what it observed: give the argv, with an absolute program path, as in %s", r.Action, completeForm(r))
	}
	if !filepath.IsAbs(r.Command[0]) {
		return keyErrf("command", "command[0] %q: must be an absolute path (no shell, no PATH lookup)", r.Command[0])
	}
	if strings.ContainsAny(r.Command[0], "{}") {
		return keyErrf("command", "command[0] %q: placeholders are not allowed in the program path", r.Command[0])
	}
	for _, a := range r.Command {
		if strings.ContainsRune(a, 0) {
			return keyErrf("command", "command: NUL byte in an argument")
		}
	}
	return nil
}

// completeForm is r as a whole rules file on one line, with the command it
// lacks, so that the error shows the form that is accepted.
func completeForm(r *Rule) string {
	var b strings.Builder
	b.WriteString("rules: [{")
	switch len(r.On) {
	case 0:
		fmt.Fprintf(&b, "name: %q, on: []", r.Name)
	case 1:
		b.WriteString("on: " + r.On[0])
	default:
		b.WriteString("on: [" + strings.Join(r.On, ", ") + "]")
	}
	if r.Target != "" {
		fmt.Fprintf(&b, ", target: %q", r.Target)
	}
	fmt.Fprintf(&b, `, action: %s, command: ["/path/to/program", "arg"]`, r.Action)
	if r.MaxRetries > 0 {
		fmt.Fprintf(&b, ", max_retries: %d", r.MaxRetries)
	}
	if r.Cooldown > 0 {
		fmt.Fprintf(&b, ", cooldown_seconds: %g", r.Cooldown.Seconds())
	}
	b.WriteString("}]")
	return b.String()
}

// noCommand rejects a command on actions that build their own argv.
func noCommand(r *Rule) error {
	if len(r.Command) > 0 {
		return keyErrf("command", "action %s: command: not used by this action", r.Action)
	}
	return nil
}

// CheckFileSafe refuses, for --apply, a rules file that others could have
// changed: a symlink, group- or world-writable, or owned by another user.
func CheckFileSafe(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("rules %s: %w", path, unwrapPath(err))
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("rules %s: is a symlink; --apply needs the real file", path)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("rules %s: not a regular file", path)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("rules %s: mode %04o is group- or world-writable; --apply refuses it (chmod go-w)", path, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("rules %s: owned by uid %d, not by this user (uid %d); --apply refuses it", path, st.Uid, os.Getuid())
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
