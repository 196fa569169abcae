package kubecmd

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/localsre/sre-agent/internal/cli"
)

// ExitRefused is the exit status of an action sre-kube refused by its
// own policy (a pod with no controller without --allow-orphan, a pod that
// is no longer the one named by --uid): nothing was changed, and trying
// again will not help.
const ExitRefused = 3

// Results of an action or an evidence run, in the "result" field.
const (
	resultOK       = "ok"        // done
	resultPlanned  = "planned"   // --dry-run: what would be done
	resultNoChange = "no_change" // nothing to do (scale at a bound)
	resultRefused  = "refused"   // refused by policy (exit 3)
	resultFailed   = "failed"    // could not be done (exit 1)
)

// result is the one JSON line each subcommand but watch prints on stdout,
// which sre-heal and sre-report read.
type result struct {
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
	Files    []file   `json:"files,omitempty"`
	Unread   []unread `json:"unread,omitempty"`
	Error    string   `json:"error,omitempty"`
	Messages []string `json:"messages,omitempty"`
}

// file is one evidence file written.
type file struct {
	Path  string `json:"path"`
	What  string `json:"what"`
	Bytes int    `json:"bytes"`
}

// unread is evidence that could not be read or kept, and why.
type unread struct {
	What string `json:"what"`
	Why  string `json:"why"`
	// none: there is nothing to read (a pod no node runs has no log),
	// not a failure to read it.
	none bool
}

// finish prints r and returns the error that gives its exit status; the
// error's message, printed once on stderr, names the verb and resource.
func finish(out io.Writer, r *result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return cli.Failf("%s: %v", r.Verb, err)
	}
	if _, err := out.Write(append(b, '\n')); err != nil {
		return cli.Failf("%s: stdout: %v", r.Verb, err)
	}
	what := fmt.Sprintf("%s %s %s/%s", r.Verb, r.Resource, r.Namespace, r.Name)
	switch r.Result {
	case resultRefused:
		return &cli.Error{Code: ExitRefused, Err: fmt.Errorf("%s: refused: %s", what, r.Error)}
	case resultFailed:
		return cli.Failf("%s: %s", what, r.Error)
	}
	return nil
}
