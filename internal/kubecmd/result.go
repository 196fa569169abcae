package kubecmd

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/kube/kubeprog"
)

// The result line is kubeprog's, which sre-heal and sre-report read.
type (
	result = kubeprog.Result
	file   = kubeprog.File
	unread = kubeprog.Unread
)

// ExitRefused is the exit status of an action refused by policy.
const ExitRefused = kubeprog.ExitRefused

const (
	resultOK       = kubeprog.ResultOK
	resultPlanned  = kubeprog.ResultPlanned
	resultNoChange = kubeprog.ResultNoChange
	resultRefused  = kubeprog.ResultRefused
	resultFailed   = kubeprog.ResultFailed
)

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
