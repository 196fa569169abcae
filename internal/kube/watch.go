package kube

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/localsre/sre-agent/internal/event"
)

// requestTimeout bounds one question to the API server.
const requestTimeout = 10 * time.Second

// Pod reads one pod.
func (c *Client) Pod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var p corev1.Pod
	err := c.core.Get().Namespace(ns).Resource("pods").Name(name).Do(ctx).Into(&p)
	return &p, err
}

// Change is one thing the watch learned of a pod: its new state, or that
// it is gone (Deleted, with its last state).
type Change struct {
	Pod     *corev1.Pod
	Deleted bool
}

// WatchSpec is what to watch: pods by name and pods by label selector.
type WatchSpec struct {
	Pods      []PodRef
	Selectors []Selector
}

// WatchHooks are told how the watch fares. Each is called from the
// watch's own goroutines; none may block for long.
type WatchHooks struct {
	// Change is told every state of every pod watched, in the order the
	// API server tells them (a relist after a gap retells the current
	// state: the reader tells news from repeats by what changed).
	Change func(Change)
	// Gone is told once when the API server stops answering (or refuses:
	// IsForbidden tells RBAC's answer); Back once when it answers again,
	// with how long it was away.
	Gone func(err error)
	Back func(away time.Duration)
	// Synced is told once, when every pod the first lists found has been
	// told: a named pod not told by then does not exist.
	Synced func()
}

// Watch follows the pods spec names until ctx ends, through client-go's
// informers: a list, then a watch from its resourceVersion, resumed from
// the last version seen when the connection drops, and a new list when
// the server no longer has that version (its watch cache moved on), so
// that no change is lost while the API server is away. It returns once
// every informer has stopped; an error only when the spec cannot be
// watched at all.
func (c *Client) Watch(ctx context.Context, spec WatchSpec, h WatchHooks) error {
	if len(spec.Pods) == 0 && len(spec.Selectors) == 0 {
		return errors.New("nothing to watch")
	}
	health := &watchHealth{hooks: h}
	var informers []cache.SharedIndexInformer
	for _, p := range spec.Pods {
		informers = append(informers, c.informer(p.Namespace, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("metadata.name", p.Name).String(),
		}, health))
	}
	for _, s := range spec.Selectors {
		informers = append(informers, c.informer(s.Namespace, metav1.ListOptions{
			LabelSelector: s.Labels.String(),
		}, health))
	}
	for _, inf := range informers {
		_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) {
				if p, ok := obj.(*corev1.Pod); ok {
					h.Change(Change{Pod: p})
				}
			},
			UpdateFunc: func(_, obj any) {
				if p, ok := obj.(*corev1.Pod); ok {
					h.Change(Change{Pod: p})
				}
			},
			DeleteFunc: func(obj any) {
				if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = d.Obj
				}
				if p, ok := obj.(*corev1.Pod); ok {
					h.Change(Change{Pod: p, Deleted: true})
				}
			},
		})
		if err != nil {
			return fmt.Errorf("pod watch: %w", err)
		}
		if err := inf.SetWatchErrorHandlerWithContext(health.failed); err != nil {
			return fmt.Errorf("pod watch: %w", err)
		}
	}
	var wg sync.WaitGroup
	for _, inf := range informers {
		wg.Go(func() { inf.RunWithContext(ctx) })
	}
	if h.Synced != nil {
		wg.Go(func() {
			syncs := make([]cache.InformerSynced, len(informers))
			for i, inf := range informers {
				syncs[i] = inf.HasSynced
			}
			if cache.WaitForCacheSync(ctx.Done(), syncs...) {
				h.Synced()
			}
		})
	}
	wg.Wait()
	return nil
}

func (c *Client) informer(ns string, base metav1.ListOptions, health *watchHealth) cache.SharedIndexInformer {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector, o.LabelSelector = base.FieldSelector, base.LabelSelector
			var l corev1.PodList
			err := c.core.Get().Namespace(ns).Resource("pods").VersionedParams(&o, c.params).
				Timeout(requestTimeout).Do(ctx).Into(&l)
			health.note(ctx, err)
			return &l, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector, o.LabelSelector = base.FieldSelector, base.LabelSelector
			o.Watch = true
			w, err := c.core.Get().Namespace(ns).Resource("pods").VersionedParams(&o, c.params).Watch(ctx)
			health.note(ctx, err)
			return w, err
		},
	}
	return cache.NewSharedIndexInformerWithOptions(lw, &corev1.Pod{}, cache.SharedIndexInformerOptions{})
}

// watchHealth tells Gone and Back once each per outage, for all the
// informers of one watch together.
type watchHealth struct {
	hooks WatchHooks
	mu    sync.Mutex
	since time.Time // when the server stopped answering; zero while it answers
}

// failed is the informers' watch error handler: a list or watch that
// failed (the informer retries it with a backoff).
func (w *watchHealth) failed(_ context.Context, _ *cache.Reflector, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	w.mu.Lock()
	first := w.since.IsZero()
	if first {
		w.since = time.Now()
	}
	w.mu.Unlock()
	if first && w.hooks.Gone != nil {
		w.hooks.Gone(err)
	}
}

// note notes a list or watch request's outcome. The informer retries a
// refused connection without telling its error handler, so each request's
// own error is what tells an outage.
func (w *watchHealth) note(ctx context.Context, err error) {
	if err != nil {
		if ctx.Err() == nil {
			w.failed(ctx, nil, err)
		}
		return
	}
	w.mu.Lock()
	since := w.since
	w.since = time.Time{}
	w.mu.Unlock()
	if !since.IsZero() && w.hooks.Back != nil {
		w.hooks.Back(time.Since(since))
	}
}

// Owners resolves pods' workloads, remembering each ReplicaSet's owner
// so that the pods of a Deployment cost one question between them.
type Owners struct {
	c  *Client
	mu sync.Mutex
	rs map[string]*event.PodOwner // ns/replicaset → its Deployment (nil: none)
	// Denied is the API server's answer when it refused to say who owns
	// a ReplicaSet (RBAC): the pod's owner is then the ReplicaSet.
	Denied error
}

// NewOwners returns an empty owner cache.
func (c *Client) NewOwners() *Owners { return &Owners{c: c, rs: map[string]*event.PodOwner{}} }

// Of returns pod p's workload: its controller, or for a ReplicaSet
// owned by a Deployment, the Deployment. Nil for a bare pod.
func (o *Owners) Of(ctx context.Context, p *corev1.Pod) *event.PodOwner {
	ref := metav1.GetControllerOf(p)
	if ref == nil {
		return nil
	}
	if ref.Kind != "ReplicaSet" || ref.APIVersion != appsv1.SchemeGroupVersion.String() {
		return &event.PodOwner{Kind: ref.Kind, Name: ref.Name}
	}
	key := p.Namespace + "/" + ref.Name
	o.mu.Lock()
	dep, ok := o.rs[key]
	o.mu.Unlock()
	if !ok {
		ctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		var rs appsv1.ReplicaSet
		err := o.c.apps.Get().Namespace(p.Namespace).Resource("replicasets").Name(ref.Name).Do(ctx).Into(&rs)
		switch {
		case err == nil:
			if d := metav1.GetControllerOf(&rs); d != nil && d.Kind == "Deployment" {
				dep = &event.PodOwner{Kind: "Deployment", Name: d.Name, ReplicaSet: ref.Name}
			}
			o.mu.Lock()
			o.rs[key] = dep
			o.mu.Unlock()
		case IsForbidden(err):
			o.mu.Lock()
			o.Denied = err
			o.mu.Unlock()
		}
		// Another failure (the server away): asked again at the next pod.
	}
	if dep != nil {
		return dep
	}
	return &event.PodOwner{Kind: "ReplicaSet", Name: ref.Name}
}

// maxListed bounds the pods ListPods reads, page by page.
const maxListed = 50000

// ListPods lists the pods of every namespace that fieldSelector picks
// ("": all), in pages of 500, at most maxListed.
func (c *Client) ListPods(ctx context.Context, fieldSelector string) (*corev1.PodList, error) {
	all := &corev1.PodList{}
	o := metav1.ListOptions{FieldSelector: fieldSelector, Limit: 500}
	for {
		var l corev1.PodList
		if err := c.core.Get().Resource("pods").VersionedParams(&o, c.params).Do(ctx).Into(&l); err != nil {
			return nil, err
		}
		all.Items = append(all.Items, l.Items...)
		all.ResourceVersion = l.ResourceVersion
		if l.Continue == "" {
			return all, nil
		}
		if len(all.Items) >= maxListed {
			return nil, fmt.Errorf("more than %d pods: not read", maxListed)
		}
		o.Continue = l.Continue
	}
}
