package kubecmd

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/kube/kubetest"
)

// TestWatchBounded: a selector that matches more pods than one watch
// samples says so once on stderr and samples no more than the bound.
func TestWatchBounded(t *testing.T) {
	p := kubetest.Start(t)
	ns := p.Namespace(t)
	p.Deployment(t, ns, "web", 3, map[string]string{"app": "web"})
	p.WaitPods(t, ns, "app=web", 3, 90*time.Second)
	old := maxPods
	maxPods = 2
	t.Cleanup(func() { maxPods = old })

	var out, errb bytes.Buffer
	std := cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }, Now: time.Now}
	err := Run(context.Background(), std, []string{"watch", "--pod-selector", ns + ":app=web", "--interval", "100ms", "--count", "5", "--kubeconfig", p.Kubeconfig})
	if err != nil {
		t.Fatalf("watch: %v: %s", err, errb.String())
	}
	targets := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var s struct{ Target string }
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		targets[s.Target] = true
	}
	if len(targets) != 2 {
		t.Errorf("%d pods sampled (%v); want the bound, 2", len(targets), targets)
	}
	if n := strings.Count(errb.String(), "more than 2 pods watched"); n != 1 {
		t.Errorf("stderr %q; want the bound told once", errb.String())
	}
}

// TestWatchFlags: each bad flag of watch is a usage error naming it,
// before any cluster is asked.
func TestWatchFlags(t *testing.T) {
	for _, c := range []struct{ args, want string }{
		{"", "nothing to watch"},
		{"--pod web", `--pod: pod "web": want NAMESPACE/NAME`},
		{"--pod-selector shop", "--pod-selector"},
		{"--pod shop/web --interval 1ms", "--interval 1ms"},
		{"--pod shop/web --count -1", "--count -1"},
		{"--pod shop/web extra", `unexpected argument "extra"`},
		{"--pod shop/web --kubeconfig /nonexistent", "kubeconfig"},
	} {
		_, stderr, code := run(t, append([]string{"watch"}, strings.Fields(c.args)...)...)
		if code != cli.ExitUsage || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("watch %s: exit %d, %q; want 2 and one line with %q", c.args, code, stderr, c.want)
		}
	}
}
