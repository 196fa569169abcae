package sampler

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/docker"
	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/waitset"
)

// DockerAPI is what container targets need of the Docker daemon.
type DockerAPI interface {
	Inspect(ctx context.Context, nameOrID string) (docker.Container, error)
	ListLabel(ctx context.Context, label string) ([]docker.Listed, error)
	Follow(ctx context.Context, since time.Time, filters map[string][]string, gone func(error), back func(time.Duration), fn func(docker.Event) error) error
	Why(err error) string
}

var _ DockerAPI = (*docker.Client)(nil)

// inspectTimeout bounds one question to the daemon.
const inspectTimeout = 5 * time.Second

// runtimeInitWait bounds, in milliseconds, the wait for a container's
// runtime init to become its command.
const runtimeInitWait = 100

// ctrState is what the sampler knows of one container target.
type ctrState struct {
	ref     string // what is inspected: the name or id given, or the id of a container found by label
	byLabel bool   // found by --container-label: the target ends when the container is removed
	id      string // the full id last seen
	info    event.Container
	known   bool   // info holds an answer of the daemon
	policy  string // its restart policy as last inspected: "no", "always" …
	// The run last reported up: its main process and start.
	up      bool
	upPID   int
	upStart time.Time
	// Told by the daemon's events since that run started.
	killSig int
	oom     bool
	// endSeen is when a tick found that run over before the daemon's die
	// event came: the event is on its way (the daemon tells a death as it
	// records it), so the end waits for it until the next tick.
	endSeen time.Time
}

// How containerSample was prompted.
type prompt int

const (
	byTick   prompt = iota // a tick
	byEvent                // an event of the daemon
	byResync               // the daemon is back: its events while away are lost
)

// ctrMsg is one event of the follower for the sampler's loop; or a line
// for stderr (warn), and resync asks for every container to be inspected
// again (the daemon is back).
type ctrMsg struct {
	ev     docker.Event
	warn   string
	resync bool
}

// ctrQueue hands the follower's events to the sampler's loop in order.
type ctrQueue struct {
	mu     sync.Mutex
	room   *sync.Cond // signalled when the loop takes, or on close
	msgs   []ctrMsg
	closed bool
}

// maxCtrQueue bounds the daemon's messages waiting for the sampler's loop.
// When the loop cannot keep up (its stdout blocks), push waits: the
// follower stops reading the daemon's stream, which holds the events (and
// should it drop the connection, the follower resumes from the last event
// it read), so none is lost and memory stays bounded.
const maxCtrQueue = 4096

func (q *ctrQueue) push(m ctrMsg, ws *waitset.Set) {
	q.mu.Lock()
	if q.room == nil {
		q.room = sync.NewCond(&q.mu)
	}
	for len(q.msgs) >= maxCtrQueue && !q.closed {
		q.room.Wait()
	}
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.msgs = append(q.msgs, m)
	q.mu.Unlock()
	if ws != nil {
		ws.Wake()
	}
}

func (q *ctrQueue) take(buf []ctrMsg) []ctrMsg {
	q.mu.Lock()
	defer q.mu.Unlock()
	buf = append(buf[:0], q.msgs...)
	clear(q.msgs)
	q.msgs = q.msgs[:0]
	if q.room != nil {
		q.room.Broadcast()
	}
	return buf
}

// close ends every push waiting for room: the sampler is stopping.
func (q *ctrQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	if q.room != nil {
		q.room.Broadcast()
	}
}

// hasContainers reports whether any target is a container, or labels may
// bring some.
func (s *Sampler) hasContainers() bool {
	if len(s.cfg.ContainerLabels) > 0 {
		return true
	}
	for _, t := range s.targets {
		if t.Kind == ByContainer {
			return true
		}
	}
	return false
}

// startContainers resolves the container targets, lists the containers
// the labels select, and follows the daemon's events from before that, so
// nothing that happens meanwhile is missed. It returns a function that
// stops the follower and waits for it.
func (s *Sampler) startContainers(ctx context.Context, ws *waitset.Set) (stop func(), err error) {
	api := s.cfg.Docker
	if api == nil {
		return nil, errors.New("container targets without a Docker client")
	}
	since := time.Now()
	for _, t := range s.targets {
		if t.Kind != ByContainer {
			continue
		}
		t.ctr = &ctrState{ref: t.Container}
		ct, err := s.inspect(ctx, t.Container)
		switch {
		case err == nil:
			t.Label = ct.Name() // an id given is named as the daemon names it
			t.ctr.id = ct.ID
		case docker.IsNotFound(err):
			s.cfg.Warnf("container %s: no such container yet: sampled as down until it exists", t.Container)
		default:
			return nil, errors.New("Docker daemon: " + api.Why(err))
		}
	}
	for _, l := range s.cfg.ContainerLabels {
		cs, err := func() ([]docker.Listed, error) {
			c, cancel := context.WithTimeout(ctx, inspectTimeout)
			defer cancel()
			return api.ListLabel(c, l)
		}()
		if err != nil {
			return nil, errors.New("Docker daemon: " + api.Why(err))
		}
		for _, c := range cs {
			s.addLabelTarget(c.ID, c.Name)
		}
	}
	filters := s.eventFilters()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// What the follower tells goes through the queue: the sampler's
		// loop alone writes, and in order with the samples.
		gone := func(err error) {
			s.ctrGone.Store(true)
			s.ctrQ.push(ctrMsg{warn: fmt.Sprintf("Docker daemon gone: %v; container events resume from where they stopped when it answers again", err)}, ws)
		}
		back := func(d time.Duration) {
			s.ctrGone.Store(false)
			s.ctrQ.push(ctrMsg{warn: fmt.Sprintf("Docker daemon back after %v: container events resume from where they stopped", d.Round(time.Millisecond)), resync: true}, ws)
		}
		_ = api.Follow(ctx, since, filters, gone, back, func(ev docker.Event) error {
			s.ctrQ.push(ctrMsg{ev: ev}, ws)
			return nil
		})
	}()
	return func() { cancel(); s.ctrQ.close(); <-done }, nil
}

// eventFilters narrows the daemon's events to the containers watched, when
// the daemon's filters can say which: names and ids alone (a name matches
// its prefix there, so a name is checked again here), or one label (the
// daemon's label filters all hold at once). Otherwise every container's
// events come, and those of others are passed over here.
func (s *Sampler) eventFilters() map[string][]string {
	var refs []string
	for _, t := range s.targets {
		if t.Kind == ByContainer {
			refs = append(refs, t.Container)
		}
	}
	switch labels := s.cfg.ContainerLabels; {
	case len(labels) == 0 && len(refs) > 0:
		return map[string][]string{"container": refs}
	case len(labels) == 1 && len(refs) == 0:
		return map[string][]string{"label": labels}
	}
	return nil
}

// addLabelTarget makes a target of a container a label selected, once.
func (s *Sampler) addLabelTarget(id, name string) {
	for _, t := range s.targets {
		if t.ctr != nil && (t.ctr.id == id || t.ctr.ref == id || t.ctr.ref == name) && !t.done {
			return
		}
	}
	if name == "" {
		name = id
	}
	s.targets = append(s.targets, &targetState{
		Target: Target{Label: name, Kind: ByContainer, Container: id},
		ctr:    &ctrState{ref: id, id: id, byLabel: true},
	})
}

func (s *Sampler) inspect(ctx context.Context, ref string) (docker.Container, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	return s.cfg.Docker.Inspect(ctx, ref)
}

// containerEvents handles the daemon's events that arrived: a death is
// reported at once, a start, restart or health change sampled at once.
func (s *Sampler) containerEvents(emit Emit) error {
	s.ctrBuf = s.ctrQ.take(s.ctrBuf)
	for _, m := range s.ctrBuf {
		now := s.cfg.Now()
		if m.warn != "" {
			s.cfg.Warnf("%s", m.warn)
		}
		if m.resync {
			for ti, t := range s.targets {
				if t.Kind == ByContainer && !t.done {
					if err := s.containerSample(ti, nil, byResync, now, emit); err != nil {
						return err
					}
				}
			}
		}
		if m.warn != "" || m.resync {
			continue
		}
		ev := m.ev
		if ev.Action == "start" {
			for _, l := range s.cfg.ContainerLabels {
				if docker.HasLabel(ev.Attrs, l) {
					s.addLabelTarget(ev.ID, ev.Name)
				}
			}
		}
		for ti, t := range s.targets {
			c := t.ctr
			if c == nil || t.done || !c.matches(ev) {
				continue
			}
			switch {
			case ev.Action == "kill":
				if n, err := strconv.Atoi(ev.Attrs["signal"]); err == nil && n > 0 {
					c.killSig = n
				}
			case ev.Action == "oom":
				c.oom = true
			case ev.Action == "die" && c.up && c.policy == "no" && ev.ID == c.id && !ev.Time().Before(c.upStart):
				// No restart policy: Docker will not bring it back, and
				// the die event holds all the death says (its exit
				// code; the oom and kill events before it, the rest).
				// Asking the daemon first would wait for its clean-up
				// of the container, 10 to 50 ms (bench/README.md,
				// Containers): the end is told from the event alone.
				if _, err := s.reconcile(ti, nil, &ev, now, emit); err != nil {
					return err
				}
			default: // die, start, restart, health_status
				if err := s.containerSample(ti, &ev, byEvent, now, emit); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// matches reports whether an event is about this target's container.
func (c *ctrState) matches(ev docker.Event) bool {
	if c.id != "" && ev.ID == c.id {
		return true
	}
	return ev.Name == c.ref || len(c.ref) >= 12 && strings.HasPrefix(ev.ID, c.ref)
}

// containerSample samples container target ti now: it asks the daemon,
// reports the end of the run last reported up when that run is over, and
// samples the container's main process when it runs. ev is the event
// that prompted it, if any.
func (s *Sampler) containerSample(ti int, ev *docker.Event, why prompt, now time.Time, emit Emit) error {
	t := s.targets[ti]
	c := t.ctr
	if why == byTick && c.up && c.known && c.endSeen.IsZero() && !s.ctrGone.Load() {
		// A running container changes state only through the daemon's
		// events (start, die, restart, health_status), each of which
		// samples it at once after asking the daemon: a tick reads its
		// main process from /proc alone, as for any process, while that
		// process is the one last reported up. Asking the daemon every
		// tick cost about 0.5 ms of CPU per container (bench/README.md,
		// Containers), and as much again in dockerd.
		p := s.byPID[c.upPID]
		st, err := s.statOf(c.upPID)
		if err == nil && alive(st) && p != nil && p.id.StartTicks == st.StartTicks {
			sys, sysUnav := s.readSystem(now, false)
			return s.sampleOne(ti, candidate{st: st}, 1, now, sys, sysUnav, emit)
		}
	}
	ct, err := s.inspect(s.ctx, c.ref)
	var cur *docker.Container
	switch {
	case err == nil:
		cur = &ct
	case docker.IsNotFound(err):
	default:
		return s.containerAway(ti, err, now, emit)
	}
	if why == byTick && c.up && c.endSeen.IsZero() && !s.ctrGone.Load() && c.over(cur) {
		// Its die event, with Docker's exit code, is on its way: the
		// death waits for it until the next tick, and this tick says
		// nothing of the container.
		c.endSeen = now
		return nil
	}
	ended, err := s.reconcile(ti, cur, ev, now, emit)
	if err != nil {
		return err
	}
	if cur == nil {
		if c.byLabel {
			t.done = true // removed: a container found by label ends with it
			return nil
		}
		if ended {
			return nil
		}
		smp := s.newSample(t.Label, now)
		sys, sysUnav := s.readSystem(now, false)
		smp.System = sys
		smp.Unavailable = maps.Clone(sysUnav)
		if smp.Unavailable == nil {
			smp.Unavailable = map[string]string{}
		}
		smp.Unavailable["container"] = "no such container: " + c.ref
		return emit(smp)
	}
	c.id, c.info, c.known, c.policy = cur.ID, cur.Record(), true, cur.RestartPolicy()
	if ended && !cur.Running() {
		return nil // the exit sample said it
	}
	sys, sysUnav := s.readSystem(now, false)
	if !cur.Running() {
		smp := s.newSample(t.Label, now)
		smp.Container, smp.System, smp.Unavailable = &c.info, sys, orNil(sysUnav)
		return emit(smp)
	}
	pid := cur.State.Pid
	st, err := s.statOf(pid)
	// Just started, the main process may still be the runtime's init
	// (runc:[2:INIT], a Go program), a few threads and megabytes, not yet
	// the container's command it becomes within milliseconds: that is no
	// reading of the container's process.
	for wait := 0; err == nil && strings.HasPrefix(st.Comm, "runc:") && wait < runtimeInitWait; wait++ {
		time.Sleep(time.Millisecond)
		st, err = s.readStat(pid)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.warnOnce(warnKey{"container-pid", t.Label}, "container %s: its main process, pid %d, cannot be read here (%s): sampled when it can be", t.Label, pid, reasonOf(err))
	}
	if err != nil || !alive(st) || strings.HasPrefix(st.Comm, "runc:") {
		// Its end is on its way from the daemon, or its command is not
		// there yet: the next tick samples it.
		return nil
	}
	started, _ := cur.StartedAt()
	c.up, c.upPID, c.upStart = true, pid, started
	return s.sampleOne(ti, candidate{st: st}, 1, now, sys, sysUnav, emit)
}

// containerAway samples a container while the daemon does not answer: its
// main process, as long as it runs, with the container as last seen.
func (s *Sampler) containerAway(ti int, err error, now time.Time, emit Emit) error {
	t := s.targets[ti]
	c := t.ctr
	why := s.cfg.Docker.Why(err)
	if !c.up {
		// Down as last seen: no container starts without its daemon. The
		// daemon's absence is told once, by the follower.
		if !c.known {
			return nil
		}
		smp := s.newSample(t.Label, now)
		sys, sysUnav := s.readSystem(now, false)
		smp.Container, smp.System = &c.info, sys
		smp.Unavailable = maps.Clone(sysUnav)
		if smp.Unavailable == nil {
			smp.Unavailable = map[string]string{}
		}
		smp.Unavailable["container.state"] = "Docker daemon: " + why
		return emit(smp)
	}
	p := s.byPID[c.upPID]
	st, serr := s.statOf(c.upPID)
	if serr != nil || !alive(st) || p == nil || p.id.StartTicks != st.StartTicks {
		return nil // it ended: told when the daemon answers again
	}
	sys, sysUnav := s.readSystem(now, false)
	unav := maps.Clone(sysUnav)
	if unav == nil {
		unav = map[string]string{}
	}
	unav["container.state"] = "Docker daemon: " + why
	return s.sampleOne(ti, candidate{st: st}, 1, now, sys, unav, emit)
}

// over reports whether cur (nil: the container is gone) shows the run last
// reported up over.
func (c *ctrState) over(cur *docker.Container) bool {
	if cur == nil {
		return true
	}
	started, _ := cur.StartedAt()
	return cur.ID != c.id || !cur.Running() || cur.State.Pid != c.upPID || !started.Equal(c.upStart)
}

// reconcile reports the end of the run of target ti last reported up,
// when cur (nil: the container is gone) shows it over. It reports whether
// it did.
func (s *Sampler) reconcile(ti int, cur *docker.Container, ev *docker.Event, now time.Time, emit Emit) (bool, error) {
	c := s.targets[ti].ctr
	if !c.up || !c.over(cur) {
		return false, nil // none reported up, or the same run goes on
	}
	started := time.Time{}
	if cur != nil {
		started, _ = cur.StartedAt()
	}
	// The run is over. The daemon's account of its end holds only while
	// no later run started (a restart resets it).
	sameRun := cur != nil && cur.ID == c.id && started.Equal(c.upStart) && !cur.Running()
	ex := &event.Exit{PID: c.upPID, Noticed: event.NoticedDockerInspect}
	rec := c.info
	if cur != nil && cur.ID == c.id {
		rec = cur.Record()
	} else {
		// Removed, or replaced by another of its name: as Docker last
		// had it, its run over.
		rec.State = "exited"
	}
	rec.Health, rec.HealthOutput = "", ""
	end := now
	if ev != nil && ev.Action == "die" && ev.ID == c.id && !ev.Time().Before(c.upStart) {
		ex.Noticed = event.NoticedDockerEvent
		if code, ok := ev.ExitCode(); ok {
			ex.Code = &code
		}
		end = ev.Time()
	} else if sameRun {
		code := cur.State.ExitCode
		ex.Code = &code
	}
	if sameRun {
		if t, ok := cur.FinishedAt(); ok {
			end = t
		}
	}
	oom := c.oom || sameRun && cur.State.OOMKilled
	if ex.Code != nil || oom {
		ex.OOMKilled = &oom
		rec.ExitCode, rec.OOMKilled = ex.Code, &oom
	}
	if c.killSig > 0 {
		sig := unix.Signal(c.killSig)
		ex.Signal, ex.SignalNum = unix.SignalName(sig), c.killSig
		if ex.Signal == "" {
			ex.Signal = "SIG" + strconv.Itoa(c.killSig)
		}
	}
	if up := end.Sub(c.upStart).Seconds(); up > 0 && !c.upStart.IsZero() {
		ex.UptimeS = float64(int64(up*1000)) / 1000
	}
	p := s.byPID[c.upPID]
	if p == nil || !p.targets[ti] {
		p = &proc{id: event.Identity{PID: c.upPID}, targets: map[int]bool{ti: true}, child: true}
	}
	c.up, c.killSig, c.oom, c.endSeen = false, 0, false, time.Time{}
	return true, s.reportExit(p, ex, &rec, now, emit)
}
