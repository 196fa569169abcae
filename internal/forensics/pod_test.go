package forensics

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/event"
)

func podIncident(detail map[string]any) *Incident {
	return &Incident{Event: &event.Event{ID: "e1", Type: "crash", Target: "shop/api-1", Detail: detail}}
}

func TestPodEvidenceCollector(t *testing.T) {
	ran := filepath.Join(t.TempDir(), "ran")
	// A stand-in for sre-kube that records its argv and answers as
	// sre-kube evidence does: the real one is driven end to end by
	// testdata/script/report_pod.txtar on a real control plane.
	fake := filepath.Join(t.TempDir(), "sre-kube")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + ran + "\n" +
		`echo '{"verb":"evidence","result":"ok","uid":"u1","owner":"ReplicaSet/api-7d","files":[{"path":"d/x_events.log","what":"3 events","bytes":99}],"unread":[{"what":"logs of container app","why":"could not read logs: forbidden: User \"u\" cannot get resource \"pods/log\""}]}'` + "\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	find := func() (string, error) { return fake, nil }
	c := NewPodEvidenceCollector(find, "d", 50)

	if _, err := c.Collect(context.Background(), podIncident(nil)); err != ErrNotApplicable {
		t.Errorf("no pod: %v", err)
	}
	s, err := c.Collect(context.Background(), podIncident(map[string]any{"namespace": "shop", "pod": "api-1", "container": "app"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Section{Title: "Kubernetes pod evidence",
		Fields: []Field{{"Pod", "shop/api-1"}, {"Container", "app"}, {"Pod UID", "u1"}, {"Controller", "ReplicaSet/api-7d"}, {"Kept", "d/x_events.log (3 events, 99 bytes)"}},
		Notes:  []string{`logs of container app: could not read logs: forbidden: User "u" cannot get resource "pods/log"`}}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("section (-want +got):\n%s", diff)
	}
	argv, _ := os.ReadFile(ran)
	if got := string(argv); got != "evidence\n--pod\nshop/api-1\n--dir\nd\n--tail\n50\n--container\napp\n" {
		t.Errorf("argv: %q", got)
	}

	// Names from the stream are never passed on unchecked.
	os.Remove(ran)
	s, _ = c.Collect(context.Background(), podIncident(map[string]any{"namespace": "shop", "pod": "--kubeconfig=/x"}))
	if _, err := os.Stat(ran); err == nil || len(s.Notes) != 1 || s.Notes[0] != `sre-kube: "shop/--kubeconfig=/x" is not a valid NAMESPACE/POD: not asked` {
		t.Errorf("bad pod name: ran %v, %+v", err == nil, s)
	}
	s, _ = c.Collect(context.Background(), podIncident(map[string]any{"namespace": "shop", "pod": "api-1", "container": "-c"}))
	if len(s.Notes) < 1 || s.Notes[0] != `sre-kube: container "-c" is not a valid name: each container's log asked for` {
		t.Errorf("bad container: %+v", s)
	}

	// No sre-kube: said.
	c = NewPodEvidenceCollector(func() (string, error) { return "", errors.New("sre-kube not found") }, "d", 50)
	s, _ = c.Collect(context.Background(), podIncident(map[string]any{"namespace": "shop", "pod": "api-1"}))
	if len(s.Notes) != 1 || s.Notes[0] != "the pod's logs and events were not kept: sre-kube not found" {
		t.Errorf("no sre-kube: %+v", s)
	}
}

func TestFindSreKube(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	if _, err := FindSreKube(env("/nonexistent/sre-kube"))(); err == nil || err.Error() != "SRE_KUBE=/nonexistent/sre-kube: no such file or directory" {
		t.Errorf("SRE_KUBE missing: %v", err)
	}
	self, _ := os.Executable()
	if p, err := FindSreKube(env(self))(); err != nil || p != self {
		t.Errorf("SRE_KUBE: %q %v", p, err)
	}
}
