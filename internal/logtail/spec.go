package logtail

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Spec is one --log flag: a file, and the target whose incidents it
// documents (empty: every target).
type Spec struct {
	Target string
	Path   string
}

// ParseSpecs parses --log values, FILE or TARGET=FILE. Both sides may
// contain '=' (paths like /var/log/a=b.log; targets that are regular
// expressions), and targets may contain '/' (a --pidfile target is a path),
// so the split follows three rules, in order:
//
//  1. If the value contains "=/", it is TARGET=FILE split at the first "=/":
//     FILE is absolute. "/run/app.pid=/var/log/app.log" gives the target
//     "/run/app.pid" and the file "/var/log/app.log".
//  2. Else, if it contains '=' and no '/' comes before the first '=', it is
//     TARGET=FILE split at that '=': "api=logs/api.log".
//  3. Else it is a FILE: "/var/log/a=b.log", "./a=b.log".
//
// A file name that itself contains "=/" can therefore not be given without a
// target, and a target containing '=' needs an absolute FILE. Exact
// duplicates are dropped. Errors name the value.
func ParseSpecs(specs []string) ([]Spec, error) {
	out := make([]Spec, 0, len(specs))
	seen := make(map[Spec]bool, len(specs))
	for _, v := range specs {
		s, err := parseSpec(v)
		if err != nil {
			return nil, err
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

func parseSpec(v string) (Spec, error) {
	var s Spec
	if i := strings.Index(v, "=/"); i >= 0 {
		s = Spec{Target: v[:i], Path: v[i+1:]}
	} else if i := strings.IndexByte(v, '='); i >= 0 && !strings.Contains(v[:i], "/") {
		s = Spec{Target: v[:i], Path: v[i+1:]}
		if s.Path == "" {
			return Spec{}, fmt.Errorf("--log %q: empty file name after '='", v)
		}
	} else {
		s = Spec{Path: v}
	}
	switch {
	case v == "":
		return Spec{}, fmt.Errorf("--log %q: empty file name", v)
	case s.Target == "" && s.Path != v:
		return Spec{}, fmt.Errorf("--log %q: empty target before '='", v)
	case strings.ContainsRune(v, 0):
		return Spec{}, fmt.Errorf("--log %q: contains a NUL byte", v)
	}
	return s, nil
}

// NewFollowers returns one Follower per distinct file of specs, in order.
// Give each file one Follower: nxadm/tail shares one inotify event channel
// per path, so two tails of the same path would take each other's events.
func NewFollowers(specs []Spec, lines int, opts ...Option) []*Follower {
	var out []*Follower
	seen := make(map[string]bool)
	for _, s := range specs {
		p := filepath.Clean(s.Path)
		if !seen[p] {
			seen[p] = true
			out = append(out, New(s.Path, lines, opts...))
		}
	}
	return out
}
