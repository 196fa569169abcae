package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Workload kinds the actions know, and the apps/v1 resource of each.
var (
	restartable = map[string]string{"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}
	scalable    = map[string]string{"Deployment": "deployments", "StatefulSet": "statefulsets", "ReplicaSet": "replicasets"}
)

// RestartAnnotation is the pod-template annotation `kubectl rollout
// restart` sets; a new value is a new template, so the controller rolls
// every pod.
const RestartAnnotation = "kubectl.kubernetes.io/restartedAt"

// Resource is the apps/v1 resource of a workload kind a rollout restart
// (scale false) or a scale (scale true) may act on, or an error naming
// the kinds that may.
func Resource(kind string, scale bool) (string, error) {
	m, what, kinds := restartable, "rollout restart", "Deployment, StatefulSet or DaemonSet"
	if scale {
		m, what, kinds = scalable, "scale", "Deployment, StatefulSet or ReplicaSet"
	}
	if r, ok := m[kind]; ok {
		return r, nil
	}
	return "", fmt.Errorf("kind %q: %s acts on a %s", kind, what, kinds)
}

func podPath(ns, name string) string { return "/api/v1/namespaces/" + ns + "/pods/" + name }

func appsPath(ns, resource, name string) string {
	return "/apis/apps/v1/namespaces/" + ns + "/" + resource + "/" + name
}

// DeleteCall is the request DeletePod makes.
func DeleteCall(ns, name, uid string) string {
	call := "DELETE " + podPath(ns, name)
	if uid != "" {
		call += ` {"preconditions":{"uid":` + quote(uid) + `}}`
	}
	return call
}

// DeletePod deletes pod ns/name, only if it is still the one with uid
// (the API server's precondition: a pod of the same name made since, a
// StatefulSet's, is not touched). Its controller makes a new one.
func (c *Client) DeletePod(ctx context.Context, ns, name, uid string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	o := &metav1.DeleteOptions{}
	if uid != "" {
		u := types.UID(uid)
		o.Preconditions = &metav1.Preconditions{UID: &u}
	}
	call := DeleteCall(ns, name, uid)
	return call, c.core.Delete().Namespace(ns).Resource("pods").Name(name).Body(o).Do(ctx).Error()
}

// RestartPatch is the strategic-merge patch of a rollout restart at t.
func RestartPatch(t time.Time) []byte {
	b, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{RestartAnnotation: t.Format(time.RFC3339)}}}}})
	return b
}

// RestartCall is the request RolloutRestart makes at t.
func RestartCall(ns, kind, name string, t time.Time) (string, error) {
	res, err := Resource(kind, false)
	if err != nil {
		return "", err
	}
	return "PATCH " + appsPath(ns, res, name) + " " + string(RestartPatch(t)), nil
}

// RolloutRestart does what `kubectl rollout restart` does to workload
// kind ns/name: it sets the restartedAt annotation of its pod template to
// t, and the controller replaces its pods as its rollout strategy says.
func (c *Client) RolloutRestart(ctx context.Context, ns, kind, name string, t time.Time) (string, error) {
	call, err := RestartCall(ns, kind, name, t)
	if err != nil {
		return "", err
	}
	res, _ := Resource(kind, false)
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	err = c.apps.Patch(types.StrategicMergePatchType).Namespace(ns).Resource(res).Name(name).
		Body(RestartPatch(t)).Do(ctx).Error()
	return call, err
}

// Scale is a workload's scale subresource as read.
type Scale struct {
	Replicas int32 // wanted (spec)
	Current  int32 // there now (status)
	obj      autoscalingv1.Scale
}

// GetScale reads the scale of workload kind ns/name.
func (c *Client) GetScale(ctx context.Context, ns, kind, name string) (*Scale, error) {
	res, err := Resource(kind, true)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var s autoscalingv1.Scale
	if err := c.apps.Get().Namespace(ns).Resource(res).Name(name).SubResource("scale").Do(ctx).Into(&s); err != nil {
		return nil, err
	}
	return &Scale{Replicas: s.Spec.Replicas, Current: s.Status.Replicas, obj: s}, nil
}

// ScaleCall is the request UpdateScale makes: a PUT of the Scale as read
// with spec.replicas changed (its resourceVersion makes the API server
// refuse it if the workload was scaled since it was read).
func ScaleCall(ns, kind, name string, replicas int32) (string, error) {
	res, err := Resource(kind, true)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`PUT %s/scale {"spec":{"replicas":%d}}`, appsPath(ns, res, name), replicas), nil
}

// UpdateScale sets the replicas of the workload s was read from.
func (c *Client) UpdateScale(ctx context.Context, ns, kind, name string, s *Scale, replicas int32) (string, error) {
	call, err := ScaleCall(ns, kind, name, replicas)
	if err != nil {
		return "", err
	}
	res, _ := Resource(kind, true)
	obj := s.obj.DeepCopy()
	obj.Spec.Replicas = replicas
	obj.APIVersion, obj.Kind = autoscalingv1.SchemeGroupVersion.String(), "Scale"
	body, err := json.Marshal(obj)
	if err != nil {
		return call, err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	err = c.apps.Put().Namespace(ns).Resource(res).Name(name).SubResource("scale").
		SetHeader("Content-Type", "application/json").Body(body).Do(ctx).Error()
	return call, err
}

// IsConflict reports an answer that the object changed since it was
// read (its resourceVersion moved on).
func IsConflict(err error) bool { return apierrors.IsConflict(err) }

// Controller is pod p's controller (kind and name), nil for a bare pod.
func Controller(p *corev1.Pod) *metav1.OwnerReference { return metav1.GetControllerOf(p) }

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
