package docker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// FollowActions are the container events a follower asks for: a death
// (die, with exitCode; oom; kill, with signal), a health check's verdict,
// a start or restart, and the changes a running container's state and
// limits see otherwise (pause, unpause, update): a watcher that asks the
// daemon only at its events misses none of them.
var FollowActions = []string{"die", "oom", "kill", "health_status", "start", "restart", "pause", "unpause", "update"}

// Event is one container event of the daemon.
type Event struct {
	// Action is Docker's: die, oom, kill, start, restart, or
	// "health_status: unhealthy" (and healthy, starting).
	Action string
	ID     string            // the container's full id
	Name   string            // its name (no slash)
	Image  string            // its image as run
	Attrs  map[string]string // Docker's attributes: exitCode, signal, labels …
	// TimeNano is the daemon's time of the event, nanoseconds since the epoch.
	TimeNano int64
}

// Time is the event's time.
func (e Event) Time() time.Time { return time.Unix(0, e.TimeNano) }

// ExitCode is a die event's exit code; ok is false when it has none.
func (e Event) ExitCode() (code int, ok bool) {
	s, found := e.Attrs["exitCode"]
	if !found {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// Follower follows a daemon's container events, across the daemon going
// away and coming back: it says so once each way, then resumes from the
// last event's time (since), skipping what it already delivered, so no
// event the daemon still holds is lost or repeated.
type Follower struct {
	Client *Client
	// Since is where to start; zero: from now.
	Since time.Time
	// Filters narrow the events beyond type=container and FollowActions:
	// "container" (names or ids), "label" (KEY or KEY=VALUE).
	Filters map[string][]string
	// Gone is told once when the daemon stops answering (err says how);
	// Back once when it answers again, after how long.
	Gone func(err error)
	Back func(down time.Duration)
	// Wait waits before attempt n (1-based) to reach the daemon again;
	// nil: 100 ms doubling to 2 s.
	Wait func(ctx context.Context, n int) error

	lastNano int64
	seen     map[string]bool // events delivered at lastNano
}

// Run delivers each event to fn in the daemon's order until ctx ends or fn
// returns an error, which Run returns.
func (f *Follower) Run(ctx context.Context, fn func(Event) error) error {
	since := f.Since
	if since.IsZero() {
		since = time.Now()
	}
	if f.lastNano == 0 {
		f.lastNano = since.UnixNano()
	}
	var goneAt time.Time
	attempt := 0
	for {
		if !goneAt.IsZero() {
			attempt++
			if err := f.wait(ctx, attempt); err != nil {
				return err
			}
			if err := f.Client.Ping(ctx); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				continue
			}
			if f.Back != nil {
				f.Back(time.Since(goneAt))
			}
			goneAt, attempt = time.Time{}, 0
		}
		err := f.stream(ctx, fn)
		var fe *fnError
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &fe):
			return fe.err
		}
		goneAt = time.Now()
		if f.Gone != nil {
			f.Gone(errors.New(f.Client.Why(err)))
		}
	}
}

type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }

// stream follows one connection until it breaks.
func (f *Follower) stream(ctx context.Context, fn func(Event) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	flt := client.Filters{}.Add("type", "container").Add("event", FollowActions...)
	for k, vs := range f.Filters {
		flt = flt.Add(k, vs...)
	}
	r := f.Client.api.Events(ctx, client.EventsListOptions{Since: nanoString(f.lastNano), Filters: flt})
	for {
		select {
		case err := <-r.Err:
			if err == nil {
				err = errors.New("event stream ended")
			}
			return err
		case m, ok := <-r.Messages:
			if !ok {
				return errors.New("event stream ended")
			}
			ev, ok := f.fresh(m)
			if !ok {
				continue
			}
			if err := fn(ev); err != nil {
				return &fnError{err}
			}
		}
	}
}

// fresh keeps an event not yet delivered: the daemon replays every event
// at or after since, so those at the last delivered time are told apart
// by what they are.
func (f *Follower) fresh(m events.Message) (Event, bool) {
	t := m.TimeNano
	if t == 0 {
		t = m.Time * int64(time.Second)
	}
	key := string(m.Action) + "\x00" + m.Actor.ID
	switch {
	case t < f.lastNano:
		return Event{}, false
	case t == f.lastNano && f.seen[key]:
		return Event{}, false
	case t > f.lastNano:
		f.lastNano, f.seen = t, map[string]bool{}
	}
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	f.seen[key] = true
	ev := Event{Action: string(m.Action), ID: m.Actor.ID, Attrs: m.Actor.Attributes, TimeNano: t}
	ev.Name = strings.TrimPrefix(m.Actor.Attributes["name"], "/")
	ev.Image = m.Actor.Attributes["image"]
	return ev, true
}

func (f *Follower) wait(ctx context.Context, n int) error {
	if f.Wait != nil {
		return f.Wait(ctx, n)
	}
	d := 100 * time.Millisecond << min(n-1, 5)
	d = min(d, 2*time.Second)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// nanoString is a time as the API's since wants it: seconds.nanoseconds.
func nanoString(ns int64) string {
	return fmt.Sprintf("%d.%09d", ns/int64(time.Second), ns%int64(time.Second))
}
