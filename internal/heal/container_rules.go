package heal

import (
	"strings"

	"github.com/localsre/sre-agent/internal/docker"
)

// containerActions are the actions that act on a container.
var containerActions = map[string]string{
	"restart_container": "restart",
	"stop_container":    "stop",
	"start_container":   "start",
}

// containerKeys reads the container keys of raw into r, and refuses them
// on an action that does not act on a container.
func containerKeys(r *Rule, raw *rawRule) error {
	_, isContainer := containerActions[r.Action]
	if r.Action == "restart_pod" {
		// It keeps the pod's logs first, as a container action does.
		return captureKeys(r, raw)
	}
	set := map[string]bool{
		"container": len(raw.Container) > 0, "container_label": raw.ContainerLabel != "",
		"stop_timeout_seconds": raw.StopTimeoutSeconds != nil, "capture_lines": raw.CaptureLines != nil,
		"capture": raw.Capture != "",
	}
	if !isContainer {
		for _, k := range []string{"container", "container_label", "stop_timeout_seconds", "capture_lines", "capture"} {
			if set[k] {
				if k == "capture_lines" || k == "capture" {
					return keyErrf(k, "%s: only for restart_container, stop_container, start_container and restart_pod", k)
				}
				return keyErrf(k, "%s: only for restart_container, stop_container and start_container", k)
			}
		}
		return nil
	}
	if raw.StopTimeoutSeconds != nil {
		if r.Action == "start_container" {
			return keyErrf("stop_timeout_seconds", "stop_timeout_seconds: not used by start_container")
		}
		if *raw.StopTimeoutSeconds < 0 || *raw.StopTimeoutSeconds > 3600 {
			return keyErrf("stop_timeout_seconds", "stop_timeout_seconds %d: must be between 0 and 3600", *raw.StopTimeoutSeconds)
		}
		r.StopTimeout = *raw.StopTimeoutSeconds
	}
	return captureKeys(r, raw)
}

// captureKeys reads the keys of the evidence kept before acting.
func captureKeys(r *Rule, raw *rawRule) error {
	for k, set := range map[string]bool{"container": len(raw.Container) > 0, "container_label": raw.ContainerLabel != "", "stop_timeout_seconds": raw.StopTimeoutSeconds != nil} {
		if set && r.Action == "restart_pod" {
			return keyErrf(k, "%s: only for restart_container, stop_container and start_container", k)
		}
	}
	if raw.CaptureLines != nil {
		if *raw.CaptureLines < 1 || *raw.CaptureLines > 100000 {
			return keyErrf("capture_lines", "capture_lines %d: must be between 1 and 100000", *raw.CaptureLines)
		}
		r.CaptureLines = *raw.CaptureLines
	}
	switch raw.Capture {
	case "", "required":
	case "best_effort":
		r.CaptureBestEff = true
	default:
		return keyErrf("capture", "capture %q: want required (the default: no action without the evidence) or best_effort", raw.Capture)
	}
	return nil
}

// checkContainer validates a container action's scope: the containers it
// may touch are named in the rule, never taken from an event alone.
func checkContainer(r *Rule) error {
	if err := noCommand(r); err != nil {
		return err
	}
	if len(r.Containers) == 0 && r.ContainerLabel == "" {
		return keyErrf("container", "action %s: container: missing; name the container(s) the rule may touch (container: web, a list, an id prefix) or container_label: KEY=VALUE", r.Action)
	}
	for _, c := range r.Containers {
		if !docker.ValidName(c) {
			return keyErrf("container", "container %q: not a Docker container name or id prefix ([a-zA-Z0-9][a-zA-Z0-9_.-]*)", c)
		}
	}
	if l := r.ContainerLabel; l != "" {
		k, _, _ := strings.Cut(l, "=")
		if k == "" || strings.ContainsAny(k, " \t\n\x00") || strings.ContainsRune(l, 0) {
			return keyErrf("container_label", "container_label %q: want KEY or KEY=VALUE", l)
		}
	}
	return nil
}
