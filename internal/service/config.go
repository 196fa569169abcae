package service

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/token"

	"github.com/localsre/sre-agent/internal/detect"
)

// Config is one watch, as its YAML file describes it:
//
//	watch:
//	  name: myapp               # or match: REGEX, pid: N, pidfile: FILE, user: NAME, container: NAME
//	interval: 1s
//	log: /var/log/myapp.log     # or a list
//	dir: /var/lib/sre-agent/demo
//	detect:                     # sre-detect's settings: its --config keys
//	  mem_max: 80%
//	  absent_after: 10s
//	heal:
//	  rules: /etc/sre-agent/demo.rules.yaml
//	  apply: false              # dry run unless this says true
//	retention:                  # sre-report prune, at start and every hour
//	  keep_days: 30
//	  archive_max_size: 100MiB
type Config struct {
	Path     string
	Watch    Watch
	Interval time.Duration
	Logs     []string
	Dir      string
	// Detect is sre-detect's --config, as YAML text ("" for none).
	Detect string
	Rules  string // sre-heal's rules file ("" for no sre-heal stage)
	Apply  bool
	// Prune is sre-report prune's policy flags ("" none), run at start and
	// every PruneEvery.
	Prune      []string
	PruneEvery time.Duration
}

// Watch is what sre-sample watches: exactly one of its fields.
type Watch struct {
	Name, Match, PIDFile, User, Container string
	PID                                   int
}

type rawConfig struct {
	Watch *struct {
		Name      string `yaml:"name"`
		Match     string `yaml:"match"`
		PID       int    `yaml:"pid"`
		PIDFile   string `yaml:"pidfile"`
		User      string `yaml:"user"`
		Container string `yaml:"container"`
	} `yaml:"watch"`
	Interval string         `yaml:"interval"`
	Log      any            `yaml:"log"`
	Dir      string         `yaml:"dir"`
	Detect   map[string]any `yaml:"detect"`
	Heal     *struct {
		Rules string `yaml:"rules"`
		Apply bool   `yaml:"apply"`
	} `yaml:"heal"`
	Retention *struct {
		KeepDays       int    `yaml:"keep_days"`
		KeepReports    int    `yaml:"keep_reports"`
		MaxSize        string `yaml:"max_size"`
		ArchiveMaxSize string `yaml:"archive_max_size"`
		ArchiveKeep    int    `yaml:"archive_keep"`
		Every          string `yaml:"every"`
	} `yaml:"retention"`
}

// ErrConfig is any fault of a config file.
var ErrConfig = errors.New("bad config")

// configError is "FILE:LINE: message" (LINE when known).
type configError struct {
	path string
	line int
	msg  string
}

func (e *configError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.path, e.line, e.msg)
	}
	return fmt.Sprintf("%s: %s", e.path, e.msg)
}

func (e *configError) Unwrap() error { return ErrConfig }

// nameRE is what a process or container name may look like on the command
// line of sre-sample: no leading dash (it would read as a flag).
var nameRE = regexp.MustCompile(`^[^-\s][^\s]*$`)

// LoadConfig reads and checks a config file. defaultDir is the report
// directory when the file names none (the unit's state directory).
func LoadConfig(path, defaultDir string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &configError{path: path, msg: err.Error()}
	}
	return ParseConfig(path, data, defaultDir)
}

// ParseConfig checks the YAML text of a config file named path.
func ParseConfig(path string, data []byte, defaultDir string) (c *Config, err error) {
	defer func() {
		if p := recover(); p != nil { // the YAML library on odd input: an error, never a crash
			c, err = nil, &configError{path: path, msg: fmt.Sprintf("cannot decode this YAML: %v", p)}
		}
	}()
	var raw rawConfig
	if err := yaml.UnmarshalWithOptions(data, &raw, yaml.Strict()); err != nil {
		return nil, yamlError(path, err)
	}
	c = &Config{Path: path, Interval: time.Second, Dir: raw.Dir}
	bad := func(format string, args ...any) error {
		return &configError{path: path, msg: fmt.Sprintf(format, args...)}
	}
	if raw.Watch == nil {
		return nil, bad("watch: missing (what to watch: name, match, pid, pidfile, user or container)")
	}
	w := raw.Watch
	c.Watch = Watch{Name: w.Name, Match: w.Match, PID: w.PID, PIDFile: w.PIDFile, User: w.User, Container: w.Container}
	set := 0
	for _, v := range []string{w.Name, w.Match, w.PIDFile, w.User, w.Container} {
		if v != "" {
			set++
		}
	}
	if w.PID != 0 {
		set++
	}
	switch {
	case set == 0:
		return nil, bad("watch: names nothing (want one of name, match, pid, pidfile, user, container)")
	case set > 1:
		return nil, bad("watch: names more than one thing (want one of name, match, pid, pidfile, user, container)")
	case w.PID < 0:
		return nil, bad("watch.pid %d: not a process id", w.PID)
	case w.Name != "" && !nameRE.MatchString(w.Name):
		return nil, bad("watch.name %q: not a process name", w.Name)
	case w.Container != "" && !nameRE.MatchString(w.Container):
		return nil, bad("watch.container %q: not a container name or id", w.Container)
	case w.User != "" && !nameRE.MatchString(w.User):
		return nil, bad("watch.user %q: not a user name", w.User)
	}
	if w.Match != "" {
		if _, err := regexp.Compile(w.Match); err != nil {
			return nil, bad("watch.match %q: %v", w.Match, err)
		}
	}
	if raw.Interval != "" {
		d, err := time.ParseDuration(raw.Interval)
		if err != nil || d < 10*time.Millisecond {
			return nil, bad("interval %q: want a duration of 10ms or more, such as 1s", raw.Interval)
		}
		c.Interval = d
	}
	switch l := raw.Log.(type) {
	case nil:
	case string:
		c.Logs = []string{l}
	case []any:
		for _, v := range l {
			s, ok := v.(string)
			if !ok || s == "" {
				return nil, bad("log: want a file or a list of files")
			}
			c.Logs = append(c.Logs, s)
		}
	default:
		return nil, bad("log: want a file or a list of files")
	}
	for _, l := range c.Logs {
		if !strings.HasPrefix(l, "/") {
			return nil, bad("log %q: want an absolute path (a service has no working directory of yours)", l)
		}
	}
	if c.Dir == "" {
		c.Dir = defaultDir
	}
	if c.Dir == "" {
		return nil, bad("dir: missing (the report directory), and no state directory to default to")
	}
	if raw.Detect != nil {
		b, err := yaml.Marshal(raw.Detect)
		if err != nil {
			return nil, bad("detect: %v", err)
		}
		c.Detect = string(b)
	}
	if raw.Heal != nil {
		if raw.Heal.Rules == "" {
			return nil, bad("heal: rules: missing (sre-heal's rules file)")
		}
		c.Rules, c.Apply = raw.Heal.Rules, raw.Heal.Apply
	}
	if r := raw.Retention; r != nil {
		c.PruneEvery = time.Hour
		if r.Every != "" {
			d, err := time.ParseDuration(r.Every)
			if err != nil || d < time.Second {
				return nil, bad("retention.every %q: want a duration of 1s or more, such as 1h", r.Every)
			}
			c.PruneEvery = d
		}
		for _, n := range []struct {
			key  string
			v    int
			flag string
		}{{"keep_days", r.KeepDays, "--keep-days"}, {"keep_reports", r.KeepReports, "--keep-reports"}} {
			switch {
			case n.v < 0:
				return nil, bad("retention.%s %d: want a positive number", n.key, n.v)
			case n.v > 0:
				c.Prune = append(c.Prune, n.flag, strconv.Itoa(n.v))
			}
		}
		for _, z := range []struct{ key, v, flag string }{{"max_size", r.MaxSize, "--max-size"}, {"archive_max_size", r.ArchiveMaxSize, "--archive-max-size"}} {
			if z.v == "" {
				continue
			}
			if n, err := detect.ParseSize(z.v); err != nil || n <= 0 {
				return nil, bad("retention.%s %q: want a size such as 512MiB or 1GB", z.key, z.v)
			}
			c.Prune = append(c.Prune, z.flag, z.v)
		}
		if r.ArchiveKeep != 0 {
			if r.ArchiveKeep < 0 || r.ArchiveMaxSize == "" {
				return nil, bad("retention.archive_keep %d: a positive number, with archive_max_size", r.ArchiveKeep)
			}
			c.Prune = append(c.Prune, "--archive-keep", strconv.Itoa(r.ArchiveKeep))
		}
		if len(c.Prune) == 0 {
			return nil, bad("retention: names no policy (keep_days, keep_reports, max_size or archive_max_size)")
		}
	}
	return c, nil
}

func yamlError(path string, err error) error {
	var ye interface {
		GetToken() *token.Token
		GetMessage() string
	}
	if errors.As(err, &ye) {
		line := 0
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			line = tk.Position.Line
		}
		return &configError{path: path, line: line, msg: ye.GetMessage()}
	}
	return &configError{path: path, msg: err.Error()}
}

// What says what the watch watches, for a person: "myapp", "pid 42",
// "container web".
func (w Watch) What() string {
	switch {
	case w.Name != "":
		return w.Name
	case w.Match != "":
		return "processes matching " + strconv.Quote(w.Match)
	case w.PID != 0:
		return "pid " + strconv.Itoa(w.PID)
	case w.PIDFile != "":
		return "the pid in " + w.PIDFile
	case w.User != "":
		return "the processes of user " + w.User
	}
	return "container " + w.Container
}

// sampleArgs are sre-sample's arguments for w.
func (w Watch) sampleArgs() []string {
	switch {
	case w.Name != "":
		return []string{w.Name}
	case w.Match != "":
		return []string{"--match", w.Match}
	case w.PID != 0:
		return []string{"--pid", strconv.Itoa(w.PID)}
	case w.PIDFile != "":
		return []string{"--pidfile", w.PIDFile}
	case w.User != "":
		return []string{"--user", w.User}
	}
	return []string{"--container", w.Container}
}
