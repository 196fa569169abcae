package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// Logs is a container's log as the API server gave it (the kubelet's
// answer, through the API server's pods/log subresource).
type Logs struct {
	Container string
	// Previous: the previous run's log (the container has restarted);
	// false: the current run's, because the previous one could not be
	// read (NoPrevious says why).
	Previous   bool
	NoPrevious string
	Data       []byte
	// Cut: the answer reached the byte limit asked for.
	Cut bool
	// Call is the request that gave Data.
	Call string
}

// LogCall is the request PreviousLogs makes: GET of the pod's log
// subresource with its query.
func LogCall(ns, pod, container string, previous bool, tail, limitBytes int64) string {
	q := url.Values{}
	if container != "" {
		q.Set("container", container)
	}
	if previous {
		q.Set("previous", "true")
	}
	if tail > 0 {
		q.Set("tailLines", strconv.FormatInt(tail, 10))
	}
	q.Set("timestamps", "true")
	if limitBytes > 0 {
		q.Set("limitBytes", strconv.FormatInt(limitBytes, 10))
	}
	return "GET /api/v1/namespaces/" + ns + "/pods/" + pod + "/log?" + q.Encode()
}

// PreviousLogs reads the last tail lines (at most limitBytes) of the
// previous run of a container of pod ns/pod, with the kubelet's
// timestamps: what `kubectl logs --previous` shows. A container that has
// not restarted has no previous run: then the current run's log, said so
// in NoPrevious. An error when neither could be read (the first one's:
// the previous run's is what was asked); RBAC's refusal is not retried.
func (c *Client) PreviousLogs(ctx context.Context, ns, pod, container string, tail, limitBytes int64) (Logs, error) {
	l, err := c.logs(ctx, ns, pod, container, true, tail, limitBytes)
	// No pod (404) or no right to read its log (403): the current run's
	// log would say the same.
	if err == nil || IsForbidden(err) || IsNotFound(err) || errors.Is(err, ErrNoNode) {
		return l, err
	}
	cur, cerr := c.logs(ctx, ns, pod, container, false, tail, limitBytes)
	if cerr != nil {
		return l, fmt.Errorf("%s (the current run's: %s)", Why(err), Why(cerr))
	}
	cur.NoPrevious = Why(err)
	return cur, nil
}

func (c *Client) logs(ctx context.Context, ns, pod, container string, previous bool, tail, limitBytes int64) (Logs, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	o := &corev1.PodLogOptions{Container: container, Previous: previous, Timestamps: true}
	if tail > 0 {
		o.TailLines = &tail
	}
	if limitBytes > 0 {
		o.LimitBytes = &limitBytes
	}
	l := Logs{Container: container, Previous: previous, Call: LogCall(ns, pod, container, previous, tail, limitBytes)}
	if limitBytes <= 0 {
		limitBytes = 16 << 20
		o.LimitBytes = &limitBytes
	}
	rc, err := c.core.Get().Namespace(ns).Resource("pods").Name(pod).SubResource("log").
		VersionedParams(o, c.params).Stream(ctx)
	if err != nil {
		return l, err
	}
	defer rc.Close()
	l.Data, err = io.ReadAll(io.LimitReader(rc, limitBytes))
	if err != nil {
		return l, fmt.Errorf("reading the log: %w", err)
	}
	l.Cut = int64(len(l.Data)) >= limitBytes
	return l, nil
}

// ErrNoNode is the API server's answer for the log of a pod no node runs
// (the API server answers 204 No Content, an empty body): no kubelet
// has a log to give. Told by the pod's spec, before asking.
var ErrNoNode = errors.New("the API server has no log for it: the pod runs on no node, so no kubelet has one (204 No Content)")
