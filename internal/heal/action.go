package heal

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/localsre/sre-agent/internal/event"
)

// Job is one action to take (or, without Apply, to plan) for one event.
type Job struct {
	Rule    *Rule
	Event   *event.Event
	Attempt int
	Apply   bool
	// Environ is the environment programs start with (rule env is added).
	Environ []string
	// ProcRoot is where /proc is mounted.
	ProcRoot string
	// Children keeps what restart_process starts until its end is told
	// downstream; nil reaps each child at once.
	Children *Children
	// Docker is the daemon container actions ask; nil when none could be
	// configured (DockerErr says why).
	Docker    ContainerAPI
	DockerErr error
	// Dir is the report directory, where container actions keep their
	// evidence before acting.
	Dir string
}

// Outcome is what an action did. Result is one of event.ResultPlanned,
// ResultOK, ResultFailed or ResultSkipped.
type Outcome struct {
	Argv   []string
	PID    int
	Result string
	Err    string
	// Desc says in words what was (or would be) done, for stderr.
	Desc string
	// Evidence lists the files kept before the action (container logs
	// and inspect).
	Evidence []string
}

// Action is one kind of remedy. Without j.Apply it must have no side
// effect and return a planned Outcome.
type Action interface {
	Do(ctx context.Context, j *Job) Outcome
}

type actionKind struct {
	act   Action
	check func(*Rule) error // validates the rule's action-specific keys
}

// registry lists every action.
var registry = map[string]actionKind{
	"restart_process": {restartProcess{}, checkCommand},
	"run":             {runCommand{}, checkCommand},
	"signal":          {signalProcess{}, checkSignal},
	"systemd_restart": {systemdRestart{}, checkSystemd},

	"restart_container": {containerAction{"restart"}, checkContainer},
	"stop_container":    {containerAction{"stop"}, checkContainer},
	"start_container":   {containerAction{"start"}, checkContainer},

	"restart_pod":     {podAction{"restart_pod"}, checkPod},
	"rollout_restart": {podAction{"rollout_restart"}, checkPod},
	"scale":           {podAction{"scale"}, checkPod},
}

// ActionNames lists the known actions, sorted.
func ActionNames() []string {
	var s []string
	for k := range registry {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// Do runs (or plans) j with its rule's action.
func Do(ctx context.Context, j *Job) Outcome {
	k, ok := registry[j.Rule.Action]
	if !ok {
		return Outcome{Result: event.ResultFailed, Err: "unknown action " + j.Rule.Action}
	}
	return k.act.Do(ctx, j)
}

// Placeholders lists what may appear inside a command argument.
var Placeholders = []string{"{target}", "{pid}", "{event_id}", "{attempt}", "{report}"}

// Expand fills the placeholders of argv from the job. Each argument stays
// one argument whatever the values hold: no splitting, no shell, and a
// value is never expanded again.
func (j *Job) Expand(argv []string) []string {
	pid := ""
	if j.Event != nil && j.Event.Process != nil {
		pid = strconv.Itoa(j.Event.Process.PID)
	}
	var target, id, rep string
	if j.Event != nil {
		target, id, rep = j.Event.Target, j.Event.ID, j.Event.Report
	}
	r := strings.NewReplacer("{target}", target, "{pid}", pid, "{event_id}", id,
		"{attempt}", strconv.Itoa(j.Attempt), "{report}", rep)
	out := make([]string, len(argv))
	for i, a := range argv {
		if i == 0 {
			out[i] = a // the program path is fixed
			continue
		}
		out[i] = r.Replace(a)
	}
	return out
}

func (j *Job) env() []string {
	env := append([]string(nil), j.Environ...)
	keys := make([]string, 0, len(j.Rule.Env))
	for k := range j.Rule.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+j.Rule.Env[k])
	}
	return env
}

func quoteArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = strconv.Quote(a)
	}
	return "[" + strings.Join(q, " ") + "]"
}
