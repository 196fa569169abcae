package detect

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/itchyny/gojq"

	"github.com/localsre/sre-agent/internal/event"
)

// Src is the src field of every record sre-detect makes.
const Src = "sre-detect"

// Config is every threshold and switch of the detectors. A zero limit turns
// its condition off.
type Config struct {
	// Disabled names detectors (registry names) that do not run.
	Disabled []string
	// AbsentAfter is how long a target may have no process before "absent".
	AbsentAfter time.Duration
	// History is how many compact samples a crash carries.
	History int
	// Cooldown is the least time between two entries of one condition.
	Cooldown time.Duration
	// Hysteresis is the fraction (0–1) a value must fall back past its
	// threshold before the condition clears.
	Hysteresis float64

	MemMax     Limit // process RSS, bytes, or % of its cgroup's memory limit (else of host memory)
	HostMemMin Limit // host available memory, bytes or % of host memory
	PSIMax     float64
	MemFor     time.Duration

	LeakWindow time.Duration
	LeakRate   float64 // bytes per second
	LeakR2     float64

	ThreadsDelta Limit

	FDsPct float64 // of the soft RLIMIT_NOFILE, when the sample knows it
	FDsMax int     // otherwise
	FDsFor time.Duration

	CPUMax float64
	CPUFor time.Duration

	// FlapCount deaths of one target within FlapWindow are "flapping"; a
	// zero count turns it off.
	FlapCount  int
	FlapWindow time.Duration

	Whens []When

	// Prior is each target's last sighting by an earlier run (sre-detect
	// --state): its first sample here is compared with it (unwatched.go).
	Prior []Sighting

	// Summary is the period of summary records; 0 turns them off.
	Summary time.Duration

	// Warnf reports a problem that is not fatal (a --when that fails at
	// run time); nil discards.
	Warnf func(format string, args ...any)
}

// When is one custom condition: a jq expression over each sample.
type When struct {
	Name     string
	Expr     string
	For      time.Duration
	Severity string
	code     *gojq.Code
}

// Defaults returns the configuration sre-detect runs with when no flag says
// otherwise.
func Defaults() Config {
	return Config{
		AbsentAfter: 30 * time.Second,
		History:     60,
		Cooldown:    time.Minute,
		Hysteresis:  0.1,
		// A process near the limit the kernel will OOM-kill it at is worth
		// a word by default.
		MemMax:       Limit{Pct: true, Of: 90},
		HostMemMin:   Limit{Pct: true, Of: 5},
		PSIMax:       20,
		MemFor:       10 * time.Second,
		LeakWindow:   10 * time.Minute,
		LeakRate:     (1 << 20) / 60.0, // 1 MiB/min
		LeakR2:       0.8,
		ThreadsDelta: Limit{Pct: true, Of: 50},
		FDsPct:       80,
		FDsMax:       1000,
		CPUMax:       90,
		CPUFor:       time.Minute,
		FlapCount:    3,
		FlapWindow:   10 * time.Minute,
		Summary:      time.Minute,
	}
}

// CompileError is a --when expression that does not compile.
type CompileError struct {
	Name, Expr string
	Offset     int // byte offset in Expr, -1 when unknown
	Err        error
}

func (e *CompileError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("--when %s=%q: %v", e.Name, e.Expr, e.Err)
	}
	return fmt.Sprintf("--when %s=%q: %v at position %d\n    %s\n    %s^",
		e.Name, e.Expr, e.Err, e.Offset+1, e.Expr, strings.Repeat(" ", e.Offset))
}

func (e *CompileError) Unwrap() error { return e.Err }

// CompileWhen parses and compiles a custom condition.
func CompileWhen(w *When) error {
	q, err := gojq.Parse(w.Expr)
	if err != nil {
		off := -1
		if pe, ok := err.(*gojq.ParseError); ok {
			off = max(0, min(pe.Offset-len(pe.Token), len(w.Expr)))
			return &CompileError{Name: w.Name, Expr: w.Expr, Offset: off, Err: pe}
		}
		return &CompileError{Name: w.Name, Expr: w.Expr, Offset: off, Err: err}
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return &CompileError{Name: w.Name, Expr: w.Expr, Offset: -1, Err: err}
	}
	w.code = code
	return nil
}

// Check validates the configuration and compiles the --when expressions.
func (c *Config) Check() error {
	for _, d := range c.Disabled {
		if !slices.ContainsFunc(registry, func(e entry) bool { return e.name == d }) {
			return fmt.Errorf("--disable %s: no such detector (have %s)", d, strings.Join(Names(), ", "))
		}
	}
	switch {
	case c.History < 0:
		return fmt.Errorf("--history %d: must not be negative", c.History)
	case c.Hysteresis < 0 || c.Hysteresis >= 1:
		return fmt.Errorf("--hysteresis: must be from 0%% up to (not including) 100%%")
	case c.LeakR2 < 0 || c.LeakR2 > 1:
		return fmt.Errorf("--leak-r2 %v: must be between 0 and 1", c.LeakR2)
	case c.FDsPct > 100:
		return fmt.Errorf("--fds-pct: at most 100%%")
	case c.FDsMax < 0:
		return fmt.Errorf("--fds-max %d: must not be negative", c.FDsMax)
	case c.FlapCount < 0 || c.FlapCount == 1:
		return fmt.Errorf("--flap-count %d: must be 0 (off) or at least 2", c.FlapCount)
	case c.FlapCount > 0 && c.FlapWindow <= 0:
		return fmt.Errorf("--flap-window %v: must be positive", c.FlapWindow)
	}
	seen := map[string]bool{}
	for i := range c.Whens {
		w := &c.Whens[i]
		if seen[w.Name] {
			return fmt.Errorf("--when %s: given twice", w.Name)
		}
		seen[w.Name] = true
		switch w.Severity {
		case "":
			w.Severity = event.SevWarning
		case event.SevCritical, event.SevWarning, event.SevInfo:
		default:
			return fmt.Errorf("--when-severity %s=%s: want critical, warning or info", w.Name, w.Severity)
		}
		if err := CompileWhen(w); err != nil {
			return err
		}
	}
	return nil
}
