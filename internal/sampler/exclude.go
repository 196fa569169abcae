package sampler

import (
	"path/filepath"
	"slices"
	"strconv"
)

// maxDepth bounds a walk up the process tree: a PPID chain is never this
// deep, and a /proc read half-way through a reparenting cannot loop it.
const maxDepth = 256

// excluder leaves out of a scan the process trees of Config.Exclude: each
// root, its descendants and the launchers that ran it.
//
// Descendants, because a watcher script is a tree (bash forks a subshell
// for each stage of a pipeline and for each $(…), and each has the
// script's own command line); launchers, because "sudo sre-watch --match
// api" or "timeout 1h sre-watch --match api" carries the pattern in its
// own command line too. Other ancestors are not left out: the sshd or the
// terminal a watcher runs under can be the very service a user watches.
type excluder struct {
	roots     []int
	ppid      map[int]int  // every PID of the last scan (zombies too) → its parent
	launchers map[int]bool // found at the first check; a launcher never changes
}

// excluded reports whether pid, a process of the last scan, is in an
// excluded tree. Only the processes a target selected are checked, so a
// scan of the whole host pays one map entry per process and no walk.
func (x *excluder) excluded(s *Sampler, pid int) bool {
	if x.launchers == nil {
		x.launchers = map[int]bool{}
		for _, r := range x.roots {
			for _, a := range s.launchersOf(r, x.ppid) {
				x.launchers[a] = true
			}
		}
	}
	if x.launchers[pid] {
		return true
	}
	for range maxDepth {
		if slices.Contains(x.roots, pid) {
			return true
		}
		p, ok := x.ppid[pid]
		if !ok || p <= 1 || p == pid {
			return false
		}
		pid = p
	}
	return false
}

// launchersOf lists the ancestors of root, nearest first, that launched it:
// each one's command line ends with root's program and arguments (sudo,
// timeout, nohup, env, setsid). The walk stops at the first ancestor that
// did not.
func (s *Sampler) launchersOf(root int, ppid map[int]int) []int {
	own := s.cmdline(root)
	if len(own) == 0 {
		return nil
	}
	var out []int
	pid := root
	for range maxDepth {
		p, ok := ppid[pid]
		if !ok || p <= 1 || p == pid {
			break
		}
		if !launched(s.cmdline(p), own) {
			break
		}
		out = append(out, p)
		pid = p
	}
	return out
}

func (s *Sampler) cmdline(pid int) []string {
	b, err := s.files.ReadWaiting(s.path(strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return nil
	}
	return parseCmdline(b)
}

// launched reports whether the command line outer ran the command inner:
// outer ends with inner's program (by base name) and all of its arguments.
// A script's command line starts with its interpreter ("bash
// /usr/local/bin/sre-watch --match api"), so the script counts as the
// program too.
func launched(outer, inner []string) bool {
	for k := 0; k < 2 && k < len(inner); k++ {
		prog, args := filepath.Base(inner[k]), inner[k+1:]
		if k > 0 && len(args) == 0 {
			break // inner[1] is an argument, not a script
		}
		i := len(outer) - len(args) - 1
		if i < 1 { // outer's own program is not inner's
			continue
		}
		if filepath.Base(outer[i]) == prog && slices.Equal(outer[i+1:], args) {
			return true
		}
	}
	return false
}
