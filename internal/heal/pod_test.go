package heal

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/event"
)

// podRule is a rule of action with extra keys.
func podRule(action, extra string) string {
	return "rules:\n  - name: p\n    on: [crash]\n    action: " + action + "\n" + extra + "    max_retries: 2\n"
}

func TestParsePodRules(t *testing.T) {
	rs, err := Parse("r.yaml", []byte(podRule("scale", "    namespaces: [shop, web-2]\n    workloads: [Deployment/api, StatefulSet/db.x]\n    min_replicas: 2\n    max_replicas: 6\n    step: 2\n    by: -2\n")))
	if err != nil {
		t.Fatal(err)
	}
	r := rs.Rules[0]
	got := []any{r.Namespaces, r.Workloads, r.MinReplicas, r.MaxReplicas, r.Step, r.By, r.AllowZero}
	want := []any{[]string{"shop", "web-2"}, []Workload{{"Deployment", "api"}, {"StatefulSet", "db.x"}}, 2, 6, 2, -2, false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scale (-want +got):\n%s", diff)
	}
	rs, err = Parse("r.yaml", []byte(podRule("scale", "    namespaces: [shop]\n    workloads: [Deployment/api]\n    min_replicas: 1\n    max_replicas: 3\n")))
	if err != nil {
		t.Fatal(err)
	}
	if r := rs.Rules[0]; r.Step != 1 || r.By != 1 {
		t.Errorf("scale defaults: step %d, by %d; want 1, +1", r.Step, r.By)
	}
	rs, err = Parse("r.yaml", []byte(podRule("restart_pod", "    namespaces: [shop]\n    capture_lines: 30\n    capture: best_effort\n")))
	if err != nil {
		t.Fatal(err)
	}
	if r := rs.Rules[0]; r.AllowOrphan || r.CaptureLines != 30 || !r.CaptureBestEff {
		t.Errorf("restart_pod: %+v", r)
	}
}

func TestParsePodRulesBad(t *testing.T) {
	scale := func(s string) string {
		return podRule("scale", "    namespaces: [shop]\n    workloads: [Deployment/api]\n"+s)
	}
	for _, c := range []struct{ name, yaml, msg string }{
		{"no namespaces", podRule("restart_pod", ""), `r.yaml:2:5: rule "p": action restart_pod: namespaces: missing; name the namespaces the rule may act in (namespaces: [shop])`},
		{"empty namespaces", podRule("restart_pod", "    namespaces: []\n"), `rule "p": action restart_pod: namespaces: missing`},
		{"bad namespace", podRule("restart_pod", "    namespaces: [Shop_1]\n"), `r.yaml:5:17: rule "p": namespaces: "Shop_1": not a DNS-1123 label (lower-case letters, digits and '-', at most 63)`},
		{"flag namespace", podRule("restart_pod", "    namespaces: [\"--all\"]\n"), `rule "p": namespaces: "--all": not a DNS-1123 label`},
		{"no workloads", podRule("rollout_restart", "    namespaces: [shop]\n"), `rule "p": action rollout_restart: workloads: missing`},
		{"bad workload kind", podRule("rollout_restart", "    namespaces: [shop]\n    workloads: [ReplicaSet/x]\n"), `rule "p": workloads: "ReplicaSet/x": want KIND/NAME, KIND one of Deployment, StatefulSet, DaemonSet`},
		{"bad workload name", podRule("rollout_restart", "    namespaces: [shop]\n    workloads: [Deployment/Web_1]\n"), `rule "p": workloads: "Deployment/Web_1": name "Web_1": not a DNS-1123 subdomain`},
		{"no max", scale("    min_replicas: 1\n"), `rule "p": max_replicas: missing; scale needs its bounds: min_replicas and max_replicas`},
		{"no min", scale("    max_replicas: 1\n"), `rule "p": min_replicas: missing`},
		{"max < min", scale("    min_replicas: 3\n    max_replicas: 2\n"), `rule "p": max_replicas 2 is less than min_replicas 3`},
		{"zero", scale("    min_replicas: 0\n    max_replicas: 2\n"), `rule "p": min_replicas 0: scaling to zero needs allow_zero: true`},
		{"negative", scale("    min_replicas: -1\n    max_replicas: 2\n"), `rule "p": min_replicas -1: must be between 0 and 10000`},
		{"step 0", scale("    min_replicas: 1\n    max_replicas: 2\n    step: 0\n"), `rule "p": step 0: must be between 1 and 10000`},
		{"by 0", scale("    min_replicas: 1\n    max_replicas: 2\n    by: 0\n"), `rule "p": by 0: want +N to scale up or -N to scale down`},
		{"by > step", scale("    min_replicas: 1\n    max_replicas: 5\n    by: +3\n"), `rule "p": by +3: moves more than step 1`},
		{"min on restart_pod", podRule("restart_pod", "    namespaces: [shop]\n    min_replicas: 1\n"), `rule "p": min_replicas: only for scale`},
		{"allow_orphan on scale", scale("    min_replicas: 1\n    max_replicas: 2\n    allow_orphan: true\n"), `rule "p": allow_orphan: only for restart_pod`},
		{"namespaces on run", "rules:\n  - name: p\n    on: [crash]\n    action: run\n    command: [/bin/true]\n    namespaces: [shop]\n    max_retries: 1\n", `rule "p": namespaces: only for restart_pod, rollout_restart and scale`},
		{"command on a pod action", podRule("restart_pod", "    namespaces: [shop]\n    command: [/bin/true]\n"), `rule "p": action restart_pod: command: not used by this action`},
		{"container on restart_pod", podRule("restart_pod", "    namespaces: [shop]\n    container: web\n"), `rule "p": container: only for restart_container, stop_container and start_container`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.msg) || strings.Contains(err.Error(), "\n") {
				t.Errorf("got %v\nwant %s", err, c.msg)
			}
		})
	}
}

func podEvent(ns, pod, ownerKind, ownerName string) *event.Event {
	d := map[string]any{"namespace": ns, "pod": pod, "container": "app"}
	if ownerKind != "" {
		d["owner_kind"], d["owner_name"] = ownerKind, ownerName
	}
	return &event.Event{ID: "e1", Type: "crash", Target: ns + "/" + pod, Detail: d}
}

func TestPodActionArgv(t *testing.T) {
	parse := func(action, extra string) *Rule {
		rs, err := Parse("r.yaml", []byte(podRule(action, extra)))
		if err != nil {
			t.Fatal(err)
		}
		return rs.Rules[0]
	}
	restart := parse("restart_pod", "    namespaces: [shop]\n    allow_orphan: true\n    capture_lines: 30\n")
	scale := parse("scale", "    namespaces: [shop]\n    workloads: [Deployment/api]\n    min_replicas: 1\n    max_replicas: 4\n    step: 2\n    by: +2\n")
	rollout := parse("rollout_restart", "    namespaces: [shop]\n    workloads: [StatefulSet/db]\n")
	for _, c := range []struct {
		name   string
		rule   *Rule
		ev     *event.Event
		argv   []string
		refuse string
	}{
		{"restart", restart, podEvent("shop", "api-1", "Deployment", "api"), []string{"restart-pod", "--pod", "shop/api-1", "--allow-orphan", "--evidence-dir", "reports", "--tail", "30"}, ""},
		{"restart, the pod's uid its precondition", restart, func() *event.Event {
			e := podEvent("shop", "api-1", "Deployment", "api")
			e.Detail["uid"] = "5b0d1f0c-6f1e-4a57-9a51-2f4c8e1d9b10"
			return e
		}(), []string{"restart-pod", "--pod", "shop/api-1", "--uid", "5b0d1f0c-6f1e-4a57-9a51-2f4c8e1d9b10", "--allow-orphan", "--evidence-dir", "reports", "--tail", "30"}, ""},
		{"restart, a uid of another shape is not passed on", restart, func() *event.Event {
			e := podEvent("shop", "api-1", "Deployment", "api")
			e.Detail["uid"] = "--allow-orphan"
			return e
		}(), []string{"restart-pod", "--pod", "shop/api-1", "--allow-orphan", "--evidence-dir", "reports", "--tail", "30"}, ""},
		{"restart by target", restart, &event.Event{Target: "shop/api-1"}, []string{"restart-pod", "--pod", "shop/api-1", "--allow-orphan", "--evidence-dir", "reports", "--tail", "30"}, ""},
		{"scale", scale, podEvent("shop", "api-1", "Deployment", "api"), []string{"scale", "--namespace", "shop", "--kind", "Deployment", "--name", "api", "--by", "+2", "--min", "1", "--max", "4", "--step", "2"}, ""},
		{"rollout", rollout, podEvent("shop", "db-0", "StatefulSet", "db"), []string{"rollout-restart", "--namespace", "shop", "--kind", "StatefulSet", "--name", "db"}, ""},
		{"rollout, not a pod's event", rollout, &event.Event{Target: "api"}, []string{"rollout-restart", "--namespace", "shop", "--kind", "StatefulSet", "--name", "db"}, ""},
		{"outside namespaces", restart, podEvent("kube-system", "coredns-1", "Deployment", "coredns"), nil, "refused: namespace kube-system is not one rule p may act in (namespaces: shop)"},
		{"no pod", restart, &event.Event{Target: "api"}, nil, `refused: the event names no pod (target "api", no detail.namespace and detail.pod)`},
		{"pod looks like a flag", restart, podEvent("shop", "--all", "", ""), nil, `refused: the event's pod "shop/--all" is not a valid NAMESPACE/NAME`},
		{"namespace not DNS", restart, podEvent("Shop", "a", "", ""), nil, `refused: the event's pod "Shop/a" is not a valid NAMESPACE/NAME`},
		{"workload not listed", scale, podEvent("shop", "web-1", "Deployment", "web"), nil, "refused: Deployment/web is not one rule p may act on (workloads: Deployment/api)"},
		{"workload of another kind", rollout, podEvent("shop", "db-0", "Deployment", "db"), nil, "refused: Deployment/db is not one rule p may act on (workloads: StatefulSet/db)"},
		{"bare pod for scale", scale, podEvent("shop", "api-1", "", ""), nil, "refused: pod shop/api-1 has no workload the event names (detail.owner_kind, detail.owner_name)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			j := &Job{Rule: c.rule, Event: c.ev, Dir: "reports"}
			argv, ref := podAction{c.rule.Action}.argv(j)
			if c.refuse != "" {
				if ref == nil || ref.Result != event.ResultSkipped || ref.Err != c.refuse {
					t.Fatalf("got %v %+v, want refused %q", argv, ref, c.refuse)
				}
				// Refused before anything runs, --apply or not.
				o := podAction{c.rule.Action}.Do(context.Background(), &Job{Rule: c.rule, Event: c.ev, Apply: true, Environ: []string{"SRE_KUBE=/nonexistent"}})
				if o.Result != event.ResultSkipped || o.Err != c.refuse {
					t.Errorf("Do: %+v", o)
				}
				return
			}
			if ref != nil {
				t.Fatalf("refused: %+v", ref)
			}
			if diff := cmp.Diff(c.argv, argv); diff != "" {
				t.Errorf("argv (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPodActionNoSreKube(t *testing.T) {
	rs, err := Parse("r.yaml", []byte(podRule("restart_pod", "    namespaces: [shop]\n")))
	if err != nil {
		t.Fatal(err)
	}
	for _, apply := range []bool{false, true} {
		j := &Job{Rule: rs.Rules[0], Event: podEvent("shop", "a", "Deployment", "x"), Apply: apply, Environ: []string{"SRE_KUBE=/nonexistent/sre-kube"}}
		o := podAction{"restart_pod"}.Do(context.Background(), j)
		want := event.ResultFailed
		if !apply {
			want = event.ResultPlanned
		}
		if o.Result != want || o.Err != "SRE_KUBE=/nonexistent/sre-kube: no such file or directory" {
			t.Errorf("apply %v: %+v", apply, o)
		}
	}
}

func TestPodPlan(t *testing.T) {
	rs, err := Parse("r.yaml", []byte(podRule("scale", "    namespaces: [shop]\n    workloads: [Deployment/api]\n    min_replicas: 1\n    max_replicas: 4\n")))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := PodPlan(rs.Rules[0]), "scale Deployment/api in shop by +1, step 1, within [1, 4]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
