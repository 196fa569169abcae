package kubecmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/kube"
	"github.com/localsre/sre-agent/internal/ndjson"
)

const watchAbout = `Writes a sample (NDJSON, kind "sample", src "sre-kube") for each pod
watched: at once on every change the API server tells, and at every
--interval. The target is NAMESPACE/NAME; "up" is true while the pod is
Running, not being deleted, and each of its containers runs. sre-sample
--pod and --pod-selector run this and pass its samples on.

A watch survives the API server going away: it says so once on stderr,
resumes from the last version it saw when the server answers again, and
lists afresh when the server no longer has that version, so a container
restart made meanwhile is told (restart_count is the kubelet's) and none
is told twice by sre-detect.
`

// maxPods bounds the pods one watch samples: a selector that matches a
// whole cluster by mistake is told, not followed into memory.
var maxPods = 5000 // a var for the tests

type watchOpts struct {
	pods      []string
	selectors []string
	interval  time.Duration
	host      string
	count     int
}

// podState is what the watch knows of one target.
type podState struct {
	target string
	named  bool // a --pod target: it stays a target while it does not exist
	rec    *event.Pod
	seq    uint64
	uid    string
}

func runWatch(ctx context.Context, std cli.IO, args []string) error {
	o := &watchOpts{}
	fs := subFlagSet("watch --pod NAMESPACE/NAME | --pod-selector NAMESPACE:SELECTOR ... [flags]", watchAbout, std.Out)
	fs.StringArrayVar(&o.pods, "pod", nil, "watch the pod `NAMESPACE/NAME` (repeatable)")
	fs.StringArrayVar(&o.selectors, "pod-selector", nil, "watch the pods of `NAMESPACE:SELECTOR` as they come and go, the selector as kubectl -l takes it (repeatable)")
	fs.DurationVar(&o.interval, "interval", time.Second, "sample every pod at least this often")
	fs.StringVar(&o.host, "host", "", "host name in the records (default: this machine's)")
	fs.IntVar(&o.count, "count", 0, "stop after this many ticks (0: run until stopped)")
	cfg := clusterFlags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("watch: unexpected argument %q", fs.Arg(0))
	}
	var spec kube.WatchSpec
	for _, p := range o.pods {
		r, err := kube.ParsePodRef(p)
		if err != nil {
			return cli.Usagef("--pod: %v", err)
		}
		spec.Pods = append(spec.Pods, r)
	}
	for _, s := range o.selectors {
		sel, err := kube.ParseSelector(s)
		if err != nil {
			return cli.Usagef("--pod-selector: %v", err)
		}
		spec.Selectors = append(spec.Selectors, sel)
	}
	if len(spec.Pods)+len(spec.Selectors) == 0 {
		return cli.Usagef("watch: nothing to watch: give --pod NAMESPACE/NAME or --pod-selector NAMESPACE:SELECTOR")
	}
	if o.interval < 10*time.Millisecond {
		return cli.Usagef("--interval %v: want at least 10ms", o.interval)
	}
	if o.count < 0 {
		return cli.Usagef("--count %d: want 0 or more", o.count)
	}
	if o.host == "" {
		o.host, _ = os.Hostname()
	}
	c, err := client(cfg)
	if err != nil {
		return err
	}
	return watchLoop(ctx, std, o, c, spec)
}

// watchMsg is one thing the watch's goroutines hand the loop.
type watchMsg struct {
	change *kube.Change
	warn   string
	synced bool
}

func watchLoop(ctx context.Context, std cli.IO, o *watchOpts, c *kube.Client, spec kube.WatchSpec) error {
	out := ndjson.NewWriter(ndjson.DirectWriter(std.Out))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan watchMsg, 256)
	send := func(m watchMsg) {
		select {
		case msgs <- m:
		case <-ctx.Done():
		}
	}
	hooks := kube.WatchHooks{
		Change: func(ch kube.Change) { send(watchMsg{change: &ch}) },
		Gone: func(err error) {
			if kube.IsForbidden(err) {
				send(watchMsg{warn: fmt.Sprintf("cannot watch pods: %s; retrying until RBAC allows it (deploy/kubernetes/rbac.yaml)", kube.Why(err))})
				return
			}
			send(watchMsg{warn: fmt.Sprintf("Kubernetes API server %s gone: %s; pod watches resume from where they stopped once it is back", c.Host(), kube.Why(err))})
		},
		Back: func(d time.Duration) {
			send(watchMsg{warn: fmt.Sprintf("Kubernetes API server %s answers again after %v: pod watches resumed", c.Host(), d.Round(time.Millisecond))})
		},
		Synced: func() { send(watchMsg{synced: true}) },
	}
	done := make(chan error, 1)
	go func() { done <- c.Watch(ctx, spec, hooks) }()

	states := map[string]*podState{} // by target
	for _, p := range spec.Pods {
		states[p.String()] = &podState{target: p.String(), named: true}
	}
	owners := c.NewOwners()
	deniedTold := false
	synced, ticks, tooMany := false, 0, false
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	// gone: the sample tells the pod's deletion (matches 0): a pod being
	// deleted but not yet gone still matches.
	emit := func(st *podState, now time.Time, unavailable string, gone bool) error {
		st.seq++
		s := event.Sample{Header: event.NewHeader(event.KindSample, tool, o.host, now), Target: st.target, Seq: st.seq}
		if st.rec != nil {
			rec := *st.rec
			s.Pod, s.Matches = &rec, 1
			s.Up = kube.Up(&rec)
			if gone {
				s.Matches = 0
			}
		}
		if unavailable != "" {
			s.Unavailable = map[string]string{"pod": unavailable}
		}
		return out.Encode(&s)
	}
	for {
		select {
		case <-ctx.Done():
			cancel()
			<-done
			return nil
		case err := <-done:
			if err != nil {
				return cli.Failf("pod watch: %v", err)
			}
			return nil
		case m := <-msgs:
			now := time.Now()
			switch {
			case m.warn != "":
				fmt.Fprintf(std.Err, "%s: %s\n", tool, m.warn)
				continue
			case m.synced:
				synced = true
				continue
			}
			ch := m.change
			p := ch.Pod
			target := p.Namespace + "/" + p.Name
			st := states[target]
			if st == nil {
				if len(states) >= maxPods {
					if !tooMany {
						fmt.Fprintf(std.Err, "%s: more than %d pods watched: %s and later ones are not sampled; narrow the selector\n", tool, maxPods, target)
						tooMany = true
					}
					continue
				}
				st = &podState{target: target}
				states[target] = st
			}
			rec := podRecord(ctx, owners, p, st)
			if owners.Denied != nil && !deniedTold {
				fmt.Fprintf(std.Err, "%s: a pod's owner is named by its ReplicaSet: %s\n", tool, kube.Why(owners.Denied))
				deniedTold = true
			}
			if ch.Deleted {
				rec.Deleting = true
			}
			// A relist after a gap, or a resync, retells a state already
			// told: only news goes out at once.
			news := st.rec == nil || st.uid != string(p.UID) || st.rec.ResourceVersion != rec.ResourceVersion || ch.Deleted
			st.rec, st.uid = &rec, string(p.UID)
			if news {
				if err := emit(st, now, "", ch.Deleted); err != nil {
					return done2(err)
				}
			}
			if ch.Deleted {
				if st.named {
					st.rec = nil // down until a pod of that name exists again
				} else {
					delete(states, target)
				}
			}
		case <-tick.C:
			now := time.Now()
			for _, st := range sorted(states) {
				var err error
				switch {
				case st.rec != nil:
					err = emit(st, now, "", false)
				case synced:
					err = emit(st, now, "no such pod", false)
				}
				if err != nil {
					return done2(err)
				}
			}
			ticks++
			if o.count > 0 && ticks >= o.count {
				return nil
			}
		}
	}
}

// done2 maps a write error: a closed stdout is a clean stop.
func done2(err error) error {
	if errors.Is(err, ndjson.ErrClosed) {
		return nil
	}
	return cli.Failf("%v", err)
}

// podRecord is pod p's record, its owner resolved once per pod.
func podRecord(ctx context.Context, owners *kube.Owners, p *corev1.Pod, st *podState) event.Pod {
	var owner *event.PodOwner
	if st.rec != nil && st.uid == string(p.UID) && st.rec.Owner != nil {
		owner = st.rec.Owner
	} else {
		owner = owners.Of(ctx, p)
	}
	return kube.Record(p, owner)
}

func sorted(m map[string]*podState) []*podState {
	out := make([]*podState, 0, len(m))
	for _, st := range m {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].target < out[j].target })
	return out
}
