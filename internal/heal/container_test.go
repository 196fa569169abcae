package heal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/localsre/sre-agent/internal/docker/dockertest"
	"github.com/localsre/sre-agent/internal/durable"
	"github.com/localsre/sre-agent/internal/event"
)

func containerJob(t *testing.T, c ContainerAPI, action, name string, apply bool, extra string) *Job {
	t.Helper()
	rs, err := Parse("r.yaml", []byte("rules:\n  - name: c\n    on: [crash]\n    action: "+action+"\n    container: "+name+"\n    stop_timeout_seconds: 1\n    max_retries: 2\n"+extra))
	if err != nil {
		t.Fatal(err)
	}
	return &Job{Rule: rs.Rules[0], Apply: apply, Attempt: 1, Docker: c, Dir: t.TempDir(),
		Event: &event.Event{ID: "01EVENT", Type: "crash", Target: name}}
}

func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// A container that exited 3 is restarted with --apply, after its logs and
// inspect are kept: the log file holds the last line it wrote before.
func TestRestartContainerApply(t *testing.T) {
	c := dockertest.Client(t)
	// The first run writes its last line and exits 3; the restarted one
	// (the same container, so /tmp/ran is still there) stays up.
	name := dockertest.Run(t, "sre-heal-restart", nil,
		`echo started; if [ ! -f /tmp/ran ]; then touch /tmp/ran; echo oops >&2; echo last-before-restart; exit 3; fi; exec sleep 1000`)
	dockertest.WaitState(t, name, "exited")
	if code := dockertest.Inspect(t, name, "{{.State.ExitCode}}"); code != "3" {
		t.Fatalf("exit code %s", code)
	}
	started := dockertest.Inspect(t, name, "{{.State.StartedAt}}")
	j := containerJob(t, c, "restart_container", name, true, "")
	o := Do(context.Background(), j)
	if o.Result != event.ResultOK || o.Err != "" {
		t.Fatalf("outcome %+v", o)
	}
	if want := []string{"POST", "/containers/" + name + "/restart?t=1"}; strings.Join(o.Argv, " ") != strings.Join(want, " ") {
		t.Errorf("argv %q, want %q", o.Argv, want)
	}
	dockertest.WaitState(t, name, "running")
	if now := dockertest.Inspect(t, name, "{{.State.StartedAt}}"); now == started {
		t.Errorf("StartedAt %s unchanged", now)
	}
	if len(o.Evidence) != 2 {
		t.Fatalf("evidence %q, want the inspect and the logs", o.Evidence)
	}
	var logs, insp string
	for _, f := range o.Evidence {
		if filepath.Dir(f) != j.Dir {
			t.Errorf("evidence %s outside the report directory %s", f, j.Dir)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(f, "_logs.log"):
			logs = string(b)
		case strings.HasSuffix(f, "_inspect.json"):
			insp = string(b)
		}
	}
	// Docker stamps each stream's lines as it reads them, so the order of
	// lines across stdout and stderr is not the order they were written
	// in: the last stdout line is the one to look for.
	var last string
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		if strings.Contains(l, " stdout ") {
			last = l
		}
	}
	if !strings.HasSuffix(last, " stdout last-before-restart") || !strings.Contains(logs, " stderr oops\n") {
		t.Errorf("log file:\n%s\nwant its last stdout line ending in 'stdout last-before-restart', and the stderr line", logs)
	}
	if ts, _, _ := strings.Cut(last, " "); ts == "" {
		t.Errorf("no timestamp in %q", last)
	} else if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Errorf("timestamp %q: %v", ts, err)
	}
	if !strings.Contains(insp, `"ExitCode": 3`) || !strings.Contains(insp, `"Status": "exited"`) {
		t.Errorf("inspect file holds no exited state with code 3:\n%.400s", insp)
	}
	for _, n := range dirFiles(t, j.Dir) {
		if strings.HasPrefix(n, ".writing-") {
			t.Errorf("temp file %s left", n)
		}
	}
}

// A dry run calls nothing, writes nothing, and says the exact API call.
func TestRestartContainerDryRun(t *testing.T) {
	c := dockertest.Client(t)
	name := dockertest.Run(t, "sre-heal-dry", nil, "exit 3")
	dockertest.WaitState(t, name, "exited")
	started := dockertest.Inspect(t, name, "{{.State.StartedAt}}")
	j := containerJob(t, c, "restart_container", name, false, "")
	o := Do(context.Background(), j)
	if o.Result != event.ResultPlanned || !strings.Contains(o.Desc, "would call POST /containers/"+name+"/restart?t=1") {
		t.Errorf("outcome %+v", o)
	}
	if got := dockertest.Inspect(t, name, "{{.State.Status}} {{.State.StartedAt}}"); got != "exited "+started {
		t.Errorf("dry run touched the container: %s", got)
	}
	if f := dirFiles(t, j.Dir); len(f) != 0 {
		t.Errorf("dry run wrote %q", f)
	}
}

// A container that Docker restarts itself is never restarted by a rule:
// the record says why. Nothing is captured either.
func TestRestartContainerRefusesRestartPolicy(t *testing.T) {
	c := dockertest.Client(t)
	for _, policy := range []string{"always", "unless-stopped", "on-failure:3"} {
		t.Run(policy, func(t *testing.T) {
			name := dockertest.Run(t, "sre-heal-policy", []string{"--restart=" + policy}, "exec sleep 1000")
			dockertest.WaitState(t, name, "running")
			before := dockertest.Inspect(t, name, "{{.State.StartedAt}} {{.RestartCount}}")
			for _, action := range []string{"restart_container", "start_container"} {
				j := containerJob(t, c, "restart_container", name, true, "")
				j.Rule.Action = action // the same rule as start_container
				o := Do(context.Background(), j)
				mode, _, _ := strings.Cut(policy, ":")
				if o.Result != event.ResultSkipped || !strings.Contains(o.Err, `Docker restart policy "`+mode+`"`) || !strings.Contains(o.Err, "does not fight") {
					t.Errorf("%s: outcome %+v, want skipped with the policy explained", action, o)
				}
				if f := dirFiles(t, j.Dir); len(f) != 0 {
					t.Errorf("%s: wrote %q", action, f)
				}
			}
			if after := dockertest.Inspect(t, name, "{{.State.StartedAt}} {{.RestartCount}}"); after != before {
				t.Errorf("container touched: %s, was %s", after, before)
			}
		})
	}
}

// When the evidence cannot be kept (a log driver that keeps nothing), the
// container is not touched, unless the rule says capture: best_effort.
func TestRestartContainerCaptureFails(t *testing.T) {
	c := dockertest.Client(t)
	name := dockertest.Run(t, "sre-heal-nolog", []string{"--log-driver", "none"}, "exit 3")
	dockertest.WaitState(t, name, "exited")
	started := dockertest.Inspect(t, name, "{{.State.StartedAt}}")

	j := containerJob(t, c, "restart_container", name, true, "")
	o := Do(context.Background(), j)
	if o.Result != event.ResultFailed || !strings.Contains(o.Err, "evidence not kept, so the container was not touched") || !strings.Contains(o.Err, "logs: ") {
		t.Errorf("outcome %+v, want failed for the evidence", o)
	}
	if got := dockertest.Inspect(t, name, "{{.State.Status}} {{.State.StartedAt}}"); got != "exited "+started {
		t.Errorf("container touched: %s", got)
	}
	if len(o.Evidence) != 1 || !strings.HasSuffix(o.Evidence[0], "_inspect.json") {
		t.Errorf("evidence %q, want the inspect that could be kept", o.Evidence)
	}

	j = containerJob(t, c, "restart_container", name, true, "    capture: best_effort\n")
	o = Do(context.Background(), j)
	if o.Result != event.ResultOK || !strings.Contains(o.Err, "evidence not fully kept (capture: best_effort)") {
		t.Errorf("best_effort outcome %+v, want ok with the capture failure said", o)
	}
	if got := dockertest.Inspect(t, name, "{{.State.StartedAt}}"); got == started {
		t.Errorf("best_effort: not restarted")
	}
}

// Stop and start with a stop timeout; a container outside the rule's
// scope, or one that does not exist, is never touched.
func TestStopStartContainerScope(t *testing.T) {
	c := dockertest.Client(t)
	name := dockertest.Run(t, "sre-heal-ss", []string{"--label", "sre.heal=yes"}, "exec sleep 1000")
	other := dockertest.Run(t, "sre-heal-other", nil, "exec sleep 1000")
	dockertest.WaitState(t, name, "running")
	dockertest.WaitState(t, other, "running")

	j := containerJob(t, c, "stop_container", name, true, "")
	if o := Do(context.Background(), j); o.Result != event.ResultOK || strings.Join(o.Argv, " ") != "POST /containers/"+name+"/stop?t=1" {
		t.Fatalf("stop: %+v", o)
	}
	dockertest.WaitState(t, name, "exited")
	j = containerJob(t, c, "restart_container", name, true, "")
	j.Rule.Action = "start_container"
	if o := Do(context.Background(), j); o.Result != event.ResultOK || strings.Join(o.Argv, " ") != "POST /containers/"+name+"/start" {
		t.Fatalf("start: %+v", o)
	}
	dockertest.WaitState(t, name, "running")

	// A label rule: the event's target is looked up, then must carry it.
	rs, err := Parse("r.yaml", []byte("rules:\n  - name: l\n    on: [crash]\n    action: stop_container\n    container_label: sre.heal=yes\n    max_retries: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ target, result, err string }{
		{other, event.ResultSkipped, "is not one rule l may touch"},
		{"--rm", event.ResultSkipped, "the event names no container"},
		{"$(reboot)", event.ResultSkipped, "the event names no container"},
		{name + "-absent", event.ResultFailed, "no such container"},
	} {
		j := &Job{Rule: rs.Rules[0], Apply: true, Attempt: 1, Docker: c, Dir: t.TempDir(), Event: &event.Event{ID: "e", Target: tt.target}}
		o := Do(context.Background(), j)
		if o.Result != tt.result || !strings.Contains(o.Err, tt.err) {
			t.Errorf("target %q: %+v, want %s with %q", tt.target, o, tt.result, tt.err)
		}
	}
	// A rule that names one container does not act for an event about another.
	otherID := dockertest.Inspect(t, other, "{{.Id}}")
	j = containerJob(t, c, "stop_container", name, true, "")
	j.Event.Process = &event.Process{PID: 1, ContainerID: otherID}
	if o := Do(context.Background(), j); o.Result != event.ResultSkipped || !strings.Contains(o.Err, "the event is about container "+otherID[:12]+", not "+name) {
		t.Errorf("event about another container: %+v", o)
	}
	if got := dockertest.Inspect(t, name, "{{.State.Status}}"); got != "running" {
		t.Errorf("the rule's container was touched for another's event: %s", got)
	}
	if got := dockertest.Inspect(t, other, "{{.State.Status}}"); got != "running" {
		t.Errorf("a container outside the scope was touched: %s", got)
	}
	j = &Job{Rule: rs.Rules[0], Apply: true, Attempt: 1, Docker: c, Dir: t.TempDir(), Event: &event.Event{ID: "e", Target: name}}
	if o := Do(context.Background(), j); o.Result != event.ResultOK {
		t.Errorf("label scope: %+v", o)
	}
	dockertest.WaitState(t, name, "exited")
}

// Without a daemon client the action fails and says why.
func TestContainerActionNoClient(t *testing.T) {
	rs, err := Parse("r.yaml", []byte(ctrRule("    container: web\n")))
	if err != nil {
		t.Fatal(err)
	}
	j := &Job{Rule: rs.Rules[0], Apply: true, DockerErr: errors.New(`DOCKER_HOST "bogus": unable to parse`), Event: &event.Event{ID: "e"}}
	o := Do(context.Background(), j)
	if o.Result != event.ResultFailed || o.Err != `no Docker client: DOCKER_HOST "bogus": unable to parse` {
		t.Errorf("outcome %+v", o)
	}
}

// Evidence never replaces evidence: a second file of the same name gets
// its own, and no temp file stays.
func TestWriteDurableNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	a, err := durable.WriteNew(dir, "x_logs.log", []byte("first\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := durable.WriteNew(dir, "x_logs.log", []byte("second\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a != filepath.Join(dir, "x_logs.log") || b != filepath.Join(dir, "x_logs-2.log") {
		t.Errorf("paths %s %s", a, b)
	}
	if got, _ := os.ReadFile(a); string(got) != "first\n" {
		t.Errorf("first file now %q", got)
	}
	if got := dirFiles(t, dir); len(got) != 2 {
		t.Errorf("files %q", got)
	}
	if _, err := durable.WriteNew(filepath.Join(dir, "absent"), "y", nil); err == nil {
		t.Error("no error for a missing directory")
	}
}
