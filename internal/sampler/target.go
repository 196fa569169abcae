package sampler

import (
	"fmt"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Kind is how a target selects its processes.
type Kind int

// Target kinds.
const (
	ByName      Kind = iota // comm, argv[0] basename or exe basename equals Name
	ByMatch                 // Match finds the full command line
	ByPID                   // one PID, pinned to the identity first seen there
	ByPidfile               // the PID in Pidfile, re-read at every tick
	ByUser                  // every process of User
	ByChild                 // the child that launch mode started
	ByContainer             // a Docker container's main process (Container: its name or id)
)

// Target is one selector as the user gave it.
type Target struct {
	Label   string // the selector as given; the sample's target field
	Kind    Kind
	Name    string
	Match   *regexp.Regexp
	PID     int
	Pidfile string
	// Container is a container's name or id (ByContainer).
	Container string
	// User, when set, narrows a name or match target to one user's
	// processes; on its own (ByUser) it is the selector.
	User *UserFilter
}

// UserFilter selects processes by effective UID.
type UserFilter struct {
	Spec string // as given
	UID  int
}

// ParseUser resolves a user name or numeric UID.
func ParseUser(spec string) (*UserFilter, error) {
	if spec == "" {
		return nil, fmt.Errorf("--user: empty")
	}
	if uid, err := strconv.Atoi(spec); err == nil {
		if uid < 0 {
			return nil, fmt.Errorf("--user %q: negative uid", spec)
		}
		return &UserFilter{Spec: spec, UID: uid}, nil
	}
	u, err := user.Lookup(spec)
	if err != nil {
		return nil, fmt.Errorf("--user %q: no such user", spec)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("--user %q: uid %q is not a number", spec, u.Uid)
	}
	return &UserFilter{Spec: spec, UID: uid}, nil
}

// matchesName reports whether a process is NAME: the kernel truncates comm
// to 15 bytes, so argv[0]'s basename and the executable's basename count too.
// exe is called only when the cheaper tests fail and comm is a truncation of
// name, because reading the exe link costs a syscall and may be refused.
func matchesName(name, comm string, args []string, exe func() string) bool {
	if comm == name {
		return true
	}
	if len(args) > 0 && args[0] != "" && filepath.Base(args[0]) == name {
		return true
	}
	// Interpreters keep their own comm ("python3 app.py" is comm python3);
	// "NAME" also matches the script: the first argument that is not an
	// option, when its basename is name.
	if len(args) > 1 && isInterpreter(filepath.Base(args[0])) {
		for _, a := range args[1:] {
			if strings.HasPrefix(a, "-") {
				continue
			}
			if filepath.Base(a) == name {
				return true
			}
			break
		}
	}
	if len(comm) == 15 && strings.HasPrefix(name, comm) && exe != nil {
		if e := exe(); e != "" && filepath.Base(e) == name {
			return true
		}
	}
	return false
}

func isInterpreter(base string) bool {
	for _, p := range []string{"python", "node", "ruby", "perl", "bash", "sh", "java", "php"} {
		if base == p || strings.HasPrefix(base, p) && strings.Trim(base[len(p):], "0123456789.") == "" {
			return true
		}
	}
	return false
}
