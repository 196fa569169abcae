package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// MaxPodEvents bounds the events PodEvents returns: the newest.
const MaxPodEvents = 200

// PodEvent is one core/v1 event about a pod, as `kubectl describe pod`
// lists them.
type PodEvent struct {
	// Last is when it was last seen (lastTimestamp, else eventTime, else
	// firstTimestamp, else its creation).
	Last    time.Time
	Type    string // Normal, Warning
	Reason  string // BackOff, Killing, Evicted, FailedScheduling …
	Count   int32
	Source  string // the component that told it
	Message string
}

// String is the event on one line: "TIME TYPE REASON (xN) SOURCE: message".
func (e PodEvent) String() string {
	var b strings.Builder
	if e.Last.IsZero() {
		b.WriteString("-")
	} else {
		b.WriteString(e.Last.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, " %s %s", orDash(e.Type), orDash(e.Reason))
	if e.Count > 1 {
		fmt.Fprintf(&b, " (x%d)", e.Count)
	}
	if e.Source != "" {
		b.WriteString(" " + e.Source)
	}
	b.WriteString(": " + oneLine(e.Message))
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// EventsCall is the request PodEvents makes.
func EventsCall(ns, pod string) string {
	return "GET /api/v1/namespaces/" + ns + "/events?fieldSelector=" + podEventSelector(ns, pod)
}

func podEventSelector(ns, pod string) string {
	// In this order, always (a Set's would be a map's): the audit and
	// the tests read it.
	return fields.AndSelectors(
		fields.OneTermEqualSelector("involvedObject.kind", "Pod"),
		fields.OneTermEqualSelector("involvedObject.namespace", ns),
		fields.OneTermEqualSelector("involvedObject.name", pod),
	).String()
}

// PodEvents lists the events about pod ns/pod, oldest first, the newest
// MaxPodEvents of them. Events outlive the pod (an hour, by default), so
// a pod deleted since still has its story here.
func (c *Client) PodEvents(ctx context.Context, ns, pod string) ([]PodEvent, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var l corev1.EventList
	o := &metav1.ListOptions{FieldSelector: podEventSelector(ns, pod), Limit: 1000}
	err := c.core.Get().Namespace(ns).Resource("events").VersionedParams(o, c.params).Do(ctx).Into(&l)
	if err != nil {
		return nil, err
	}
	out := make([]PodEvent, 0, len(l.Items))
	for i := range l.Items {
		out = append(out, podEvent(&l.Items[i]))
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Last.Before(out[b].Last) })
	if len(out) > MaxPodEvents {
		out = out[len(out)-MaxPodEvents:]
	}
	return out, nil
}

func podEvent(e *corev1.Event) PodEvent {
	pe := PodEvent{Type: e.Type, Reason: e.Reason, Count: e.Count, Message: clip(e.Message, maxMessage)}
	switch {
	case !e.LastTimestamp.IsZero():
		pe.Last = e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		pe.Last = e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		pe.Last = e.FirstTimestamp.Time
	default:
		pe.Last = e.CreationTimestamp.Time
	}
	if e.Series != nil && e.Series.Count > pe.Count {
		pe.Count = e.Series.Count
		if !e.Series.LastObservedTime.IsZero() {
			pe.Last = e.Series.LastObservedTime.Time
		}
	}
	src := e.Source.Component
	if src == "" {
		src = e.ReportingController
	}
	if h := e.Source.Host; h != "" {
		src += "@" + h
	}
	pe.Source = src
	return pe
}
