package kubeprog

import (
	"regexp"
	"strings"
)

// ExitRefused is sre-kube's exit status for an action it refused by its
// own policy (a pod with no controller without --allow-orphan, a pod that
// is no longer the one --uid names): nothing changed, and trying again
// will not help.
const ExitRefused = 3

// Results of an action or an evidence run, in Result.Result.
const (
	ResultOK       = "ok"        // done
	ResultPlanned  = "planned"   // --dry-run: what would be done
	ResultNoChange = "no_change" // nothing to do (scale at a bound)
	ResultRefused  = "refused"   // refused by policy (ExitRefused)
	ResultFailed   = "failed"    // could not be done (exit 1)
)

// Result is the one JSON line each sre-kube subcommand but watch and pods
// prints on stdout: what sre-heal and sre-report read of it.
type Result struct {
	Verb      string `json:"verb"`
	Resource  string `json:"resource"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Kind      string `json:"kind,omitempty"`
	UID       string `json:"uid,omitempty"`
	// Owner is a pod's controller, KIND/NAME.
	Owner  string `json:"owner,omitempty"`
	DryRun bool   `json:"dry_run"`
	Result string `json:"result"`
	// Call is the exact API request made, or that would be.
	Call     string   `json:"call,omitempty"`
	From     *int32   `json:"from,omitempty"`
	To       *int32   `json:"to,omitempty"`
	Files    []File   `json:"files,omitempty"`
	Unread   []Unread `json:"unread,omitempty"`
	Error    string   `json:"error,omitempty"`
	Messages []string `json:"messages,omitempty"`
}

// File is one evidence file written.
type File struct {
	Path  string `json:"path"`
	What  string `json:"what"`
	Bytes int    `json:"bytes"`
}

// Unread is evidence that could not be read or kept, and why.
type Unread struct {
	What string `json:"what"`
	Why  string `json:"why"`
	// None: there is nothing to read (a pod no node runs has no log), not
	// a failure to read it. sre-kube's own: not on the line.
	None bool `json:"-"`
}

// DNS-1123 names as Kubernetes checks them, for the stages that pass a
// name from an event to sre-kube and link nothing of Kubernetes
// (internal/kube checks them again with apimachinery's own rules).
var dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ValidLabel reports a DNS-1123 label: a namespace's name.
func ValidLabel(s string) bool { return len(s) <= 63 && dns1123Label.MatchString(s) }

// ValidSubdomain reports a DNS-1123 subdomain: a pod's or a workload's
// name (at most 253 bytes; as apimachinery, no limit on one label's).
func ValidSubdomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !dns1123Label.MatchString(l) {
			return false
		}
	}
	return true
}
