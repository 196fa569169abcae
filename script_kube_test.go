package sreagent_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/localsre/sre-agent/internal/kube/kubetest"
)

// kube SUBCOMMAND ARGS: the scripts' way to the real control plane that
// scripts/kube-test.sh starts (SRE_KUBE_DIR, SRE_KUBECONFIG). A script
// guards it as the Docker scripts do: [!kube] [!ci] skip, and [!kube]
// fails under CI. There is no kubelet: `kube status` writes a pod's status as
// one would (the one fake, as in internal/kube/kubetest).
//
//	kube need                          the plane answers; sets $KUBECONFIG
//	kube ns VAR                        a fresh namespace in $VAR, deleted at the end
//	kube deploy NS NAME REPLICAS       a Deployment of pods labelled app=NAME
//	kube pod NS NAME                   a bare pod labelled app=NAME, owned by nothing
//	kube waitpods NS SELECTOR N VAR    wait for N pods; their names in $VAR_0 … (sorted)
//	kube status NS POD running
//	kube status NS POD restart REASON CODE     restart_count+1, last state terminated
//	kube status NS POD crashloop REASON CODE   waiting CrashLoopBackOff
//	kube status NS POD unready | evict
//	kube replicas NS DEPLOYMENT VAR    the Deployment's spec.replicas in $VAR
//	kube replicasets NS SELECTOR VAR   how many ReplicaSets SELECTOR picks, in $VAR
//	kube delete NS POD
func cmdKube(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: kube need|ns|deploy|pod|waitpods|status|replicas|replicasets|delete ...")
	}
	cs := kubeClient(ts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	arg := func(n int) {
		if len(args) != n {
			ts.Fatalf("kube %s: want %d arguments", args[0], n-1)
		}
	}
	switch args[0] {
	case "need":
		arg(1)
	case "ns":
		arg(2)
		name := fmt.Sprintf("t-%d", time.Now().UnixNano()%1e12)
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		ts.Check(err)
		ts.Defer(func() {
			_ = cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
		})
		kubeSetenv(ts, args[1], name)
	case "deploy":
		arg(4)
		n, err := strconv.Atoi(args[3])
		ts.Check(err)
		r := int32(n)
		labels := map[string]string{"app": args[2]}
		_, err = cs.AppsV1().Deployments(args[1]).Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: args[2]},
			Spec: appsv1.DeploymentSpec{
				Replicas: &r, Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec()},
			},
		}, metav1.CreateOptions{})
		ts.Check(err)
	case "pod":
		arg(3)
		_, err := cs.CoreV1().Pods(args[1]).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: args[2], Labels: map[string]string{"app": args[2]}}, Spec: podSpec(),
		}, metav1.CreateOptions{})
		ts.Check(err)
	case "waitpods":
		arg(5)
		n, err := strconv.Atoi(args[3])
		ts.Check(err)
		deadline := time.Now().Add(90 * time.Second)
		for {
			l, err := cs.CoreV1().Pods(args[1]).List(ctx, metav1.ListOptions{LabelSelector: args[2]})
			ts.Check(err)
			var names []string
			for _, p := range l.Items {
				if p.DeletionTimestamp == nil {
					names = append(names, p.Name)
				}
			}
			if len(names) == n {
				slices.Sort(names)
				for i, name := range names {
					kubeSetenv(ts, args[4]+"_"+strconv.Itoa(i), name)
				}
				return
			}
			if time.Now().After(deadline) {
				ts.Fatalf("kube waitpods: %d pods of %s, not %d, after 90 s", len(names), args[2], n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	case "status":
		if len(args) < 4 {
			ts.Fatalf("usage: kube status NS POD running|restart|crashloop|unready|evict ...")
		}
		var fn func(*corev1.PodStatus)
		switch what := args[3]; what {
		case "running":
			fn = kubetest.Running("app")
		case "restart", "crashloop":
			arg(6)
			code, err := strconv.Atoi(args[5])
			ts.Check(err)
			fn = func(st *corev1.PodStatus) {
				if what == "restart" {
					kubetest.Restarted(st, "app", args[4], int32(code), time.Now())
				} else {
					kubetest.CrashLoop(st, "app", args[4], int32(code), time.Now())
				}
			}
		case "unready":
			fn = func(st *corev1.PodStatus) {
				for i := range st.ContainerStatuses {
					st.ContainerStatuses[i].Ready = false
				}
				for i := range st.Conditions {
					if st.Conditions[i].Type == corev1.PodReady || st.Conditions[i].Type == corev1.ContainersReady {
						st.Conditions[i].Status = corev1.ConditionFalse
					}
				}
			}
		case "evict":
			fn = func(st *corev1.PodStatus) {
				st.Phase, st.Reason = corev1.PodFailed, "Evicted"
				st.Message = "The node was low on resource: memory."
			}
		default:
			ts.Fatalf("kube status: %q: want running, restart, crashloop, unready or evict", what)
		}
		ts.Check(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			p, err := cs.CoreV1().Pods(args[1]).Get(ctx, args[2], metav1.GetOptions{})
			if err != nil {
				return err
			}
			fn(&p.Status)
			_, err = cs.CoreV1().Pods(args[1]).UpdateStatus(ctx, p, metav1.UpdateOptions{})
			return err
		}))
	case "replicas":
		arg(4)
		d, err := cs.AppsV1().Deployments(args[1]).Get(ctx, args[2], metav1.GetOptions{})
		ts.Check(err)
		kubeSetenv(ts, args[3], strconv.Itoa(int(*d.Spec.Replicas)))
	case "replicasets":
		arg(4)
		l, err := cs.AppsV1().ReplicaSets(args[1]).List(ctx, metav1.ListOptions{LabelSelector: args[2]})
		ts.Check(err)
		kubeSetenv(ts, args[3], strconv.Itoa(len(l.Items)))
	case "delete":
		arg(3)
		ts.Check(cs.CoreV1().Pods(args[1]).Delete(ctx, args[2], metav1.DeleteOptions{}))
	default:
		ts.Fatalf("kube: unknown subcommand %q", args[0])
	}
}

// kubeVarsKey holds the names `kube` set, which spawned commands get too.
type kubeVarsKey struct{}

func kubeSetenv(ts *testscript.TestScript, k, v string) {
	ts.Setenv(k, v)
	vars := ts.Value(kubeVarsKey{}).(*[]string)
	if !slices.Contains(*vars, k) {
		*vars = append(*vars, k)
	}
}

func podSpec() corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: kubetest.Image}}}
}

// kubeReady reports whether the plane answers (the scripts' [kube]).
func kubeReady() (bool, error) {
	_, err := kubeConfig()
	return err == nil, nil
}

func kubeConfig() (kubernetes.Interface, error) {
	kc := os.Getenv("SRE_KUBECONFIG")
	if kc == "" {
		return nil, fmt.Errorf("no Kubernetes control plane: SRE_KUBECONFIG is not set")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %v", kc, err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %v", kc, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
		return nil, fmt.Errorf("the API server %s does not answer: %s", cfg.Host, strings.TrimSpace(err.Error()))
	}
	return cs, nil
}

// kubeClient is an admin client of the plane (the script checked [kube]).
func kubeClient(ts *testscript.TestScript) kubernetes.Interface {
	cs, err := kubeConfig()
	ts.Check(err)
	ts.Setenv("KUBECONFIG", os.Getenv("SRE_KUBECONFIG"))
	return cs
}
