package docker

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/moby/moby/client"

	"github.com/localsre/sre-agent/internal/event"
)

// Compose's labels on the containers it makes.
const (
	LabelComposeProject = "com.docker.compose.project"
	LabelComposeService = "com.docker.compose.service"
)

// maxHealthOutput bounds the health check output a sample carries.
const maxHealthOutput = 1024

// Record is what a sample says of the container: its identity, state,
// health, restart count and memory limit, from its inspect answer. The
// health check's last output is kept only while it is unhealthy.
func (ct *Container) Record() event.Container {
	r := event.Container{ID: ct.ID, Name: ct.Name()}
	if ct.Config != nil {
		r.Image = ct.Config.Image
		r.ComposeProject = ct.Config.Labels[LabelComposeProject]
		r.ComposeService = ct.Config.Labels[LabelComposeService]
	}
	r.RestartCount = ct.RestartCount
	if ct.HostConfig != nil && ct.HostConfig.Memory > 0 {
		m := uint64(ct.HostConfig.Memory)
		r.MemoryLimitBytes = &m
	}
	st := ct.State
	if st == nil {
		return r
	}
	r.State = string(st.Status)
	if t, ok := ct.StartedAt(); ok {
		at := event.At(t)
		r.StartedAt = &at
	}
	if h := st.Health; h != nil && h.Status != "none" && h.Status != "" {
		r.Health = string(h.Status)
		if h.Status == "unhealthy" && len(h.Log) > 0 && h.Log[len(h.Log)-1] != nil {
			r.HealthOutput = clip(strings.TrimSpace(h.Log[len(h.Log)-1].Output), maxHealthOutput)
		}
	}
	return r
}

// StartedAt is when the container last started; ok is false when it
// never did.
func (ct *Container) StartedAt() (t time.Time, ok bool) {
	if ct.State == nil {
		return time.Time{}, false
	}
	return dockerTime(ct.State.StartedAt)
}

// FinishedAt is when the container last ended; ok is false when it never did.
func (ct *Container) FinishedAt() (t time.Time, ok bool) {
	if ct.State == nil {
		return time.Time{}, false
	}
	return dockerTime(ct.State.FinishedAt)
}

// dockerTime reads the daemon's RFC 3339 times, where the zero time
// (0001-01-01T00:00:00Z) means never.
func dockerTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}, false
	}
	return t, true
}

// Running reports a container whose main process runs: running or paused,
// with a PID.
func (ct *Container) Running() bool {
	return ct.State != nil && ct.State.Running && ct.State.Pid > 0
}

// clip cuts s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// CheckLabel checks a label selector, KEY or KEY=VALUE, as the daemon's
// label filter takes it.
func CheckLabel(s string) error {
	key, _, _ := strings.Cut(s, "=")
	switch {
	case key == "":
		return fmt.Errorf("label %q: no KEY (want KEY=VALUE or KEY)", truncate(s, 80))
	case strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return fmt.Errorf("label %q: control character", truncate(s, 80))
	case strings.ContainsAny(key, " \t"):
		return fmt.Errorf("label %q: space in KEY", truncate(s, 80))
	}
	return nil
}

// HasLabel reports whether labels satisfy a label selector (KEY or KEY=VALUE).
func HasLabel(labels map[string]string, sel string) bool {
	key, value, withValue := strings.Cut(sel, "=")
	v, ok := labels[key]
	return ok && (!withValue || v == value)
}

// Listed is a container of a list: its id and name (no slash).
type Listed struct{ ID, Name string }

// ListLabel returns the running containers with a label (KEY or
// KEY=VALUE), in the daemon's order.
func (c *Client) ListLabel(ctx context.Context, label string) ([]Listed, error) {
	if err := CheckLabel(label); err != nil {
		return nil, err
	}
	r, err := c.api.ContainerList(ctx, client.ContainerListOptions{Filters: client.Filters{}.Add("label", label)})
	if err != nil {
		return nil, fmt.Errorf("list containers with label %s: %w", label, err)
	}
	out := make([]Listed, 0, len(r.Items))
	for _, it := range r.Items {
		l := Listed{ID: it.ID}
		if len(it.Names) > 0 {
			l.Name = strings.TrimPrefix(it.Names[0], "/")
		}
		out = append(out, l)
	}
	return out, nil
}

// Follow runs a Follower of the daemon's container events from since (zero:
// now), narrowed by filters (see Follower.Filters; nil: every container):
// gone and back are told once each way when the daemon goes away and
// answers again.
func (c *Client) Follow(ctx context.Context, since time.Time, filters map[string][]string, gone func(error), back func(time.Duration), fn func(Event) error) error {
	f := &Follower{Client: c, Since: since, Filters: filters, Gone: gone, Back: back}
	return f.Run(ctx, fn)
}
