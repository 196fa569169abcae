package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// A pod target (sre-sample --pod, --pod-selector) is a Kubernetes pod,
// named "NAMESPACE/NAME". Its containers run on a node of the cluster and
// are known only by what the API says of them: no pid, no start ticks, so
// none of the process life cycle (tick, exit, end, begin) applies. Its
// samples take this path instead, and the pod detector reads them as
// KindPod observations. What the cluster counts is the truth: a
// container's restart is its restart_count rising, and its times are the
// kubelet's.

// podTrack is what the engine keeps of a pod target.
type podTrack struct {
	st  podState  // the pod detector's
	ts  time.Time // the last sample used
	up  bool
	raw []byte // the last sample with a pod, for Sightings
	// prior is the pod as the last run saw it (--state), and priorTS when,
	// until this run's first pod of the target.
	prior   *event.Pod
	priorTS time.Time
}

// priorPod is the pod of a target's last sighting, when it was a pod.
func priorPod(sg Sighting) *event.Pod {
	if !bytes.Contains(sg.Sample, []byte(`"pod":`)) {
		return nil
	}
	var s event.Sample
	if json.Unmarshal(sg.Sample, &s) != nil {
		return nil
	}
	return s.Pod
}

func (pt *podTrack) sighting(t *Target) Sighting {
	return Sighting{Host: t.Host, Target: t.Name, Up: pt.up, TS: pt.ts, Sample: append(json.RawMessage(nil), pt.raw...)}
}

// usePod runs the detectors on a sample of a pod target.
func (e *Engine) usePod(t *Target, s *Sample) error {
	pt := t.pod
	if pt == nil {
		pt = &podTrack{}
		t.pod = pt
	}
	if !pt.ts.IsZero() && s.TS.Before(pt.ts) {
		return skip(SkipOutOfOrder, "sample of pod %q at %s is older than %s", s.Target, s.TS.Format(time.RFC3339Nano), pt.ts.Format(time.RFC3339Nano))
	}
	if p := s.Pod; p != nil {
		if err := checkPod(p); err != nil {
			return &SkipError{Reason: SkipBadSample, Err: err}
		}
		pt.raw = append(pt.raw[:0], s.Raw...)
	}
	pt.ts, pt.up = s.TS, s.Up
	if e.podDet != nil && e.err == nil {
		e.ob = Obs{Kind: KindPod, S: s, T: t, e: e, slot: -1}
		e.podDet.Observe(&e.ob)
	}
	e.observe(Obs{Kind: KindPod, S: s, T: t})
	e.observe(Obs{Kind: KindSample, S: s, T: t})
	return e.err
}

// checkPod refuses what the pod detector cannot count with: a negative
// restart count, a container without a name or named twice.
func checkPod(p *event.Pod) error {
	for i := range p.Containers {
		c := &p.Containers[i]
		switch {
		case c.Name == "":
			return fmt.Errorf("pod.containers[%d].name: missing", i)
		case c.RestartCount < 0:
			return fmt.Errorf("pod.containers[%d].restart_count %d: negative", i, c.RestartCount)
		case c.RestartCount > math.MaxInt32:
			return fmt.Errorf("pod.containers[%d].restart_count %d: more than the API's int32", i, c.RestartCount)
		}
		for j := range i {
			if p.Containers[j].Name == c.Name {
				return fmt.Errorf("pod.containers[%d].name %q: given twice", i, c.Name)
			}
		}
	}
	return nil
}

// pod: the events of a pod target. started at the first up sample;
// for each container, one crash per restart (its restart_count rose), its
// recovered when it runs again, crashloop when it enters CrashLoopBackOff;
// for the pod, unready when its Ready condition turns false while it runs,
// evicted when the kubelet evicted it. A sample that says again what an
// earlier one said (the same status re-sent, a relist after the API server
// came back) says nothing new. The engine calls it for pod targets'
// samples alone, so that the process path does not pay for it.
type pod struct{}

var _ Detector = pod{}

func newPod(*Config) Detector { return pod{} }

type podState struct {
	seen    bool // a pod of this target seen in this run
	uid     string
	everUp  bool
	ready   bool // ready since the last unready (or since first seen)
	evicted bool
	gone    bool // its deletion told
	ctrs    map[string]*podCtr
}

// podCtr is one container as last counted.
type podCtr struct {
	restarts  int // the highest restart_count seen: counts never go back
	crashloop bool
	pending   *podCrash // a crash not answered by a recovered yet
	unwatched bool      // restarts counts from the last run's sighting
}

type podCrash struct {
	id      string
	ts      time.Time
	restart int
}

func (pod) Observe(o *Obs) {
	if o.Kind != KindPod || o.S.Pod == nil {
		return
	}
	p, st := o.S.Pod, &o.T.pod.st
	if !st.seen || st.uid != p.UID {
		// A new pod under this target (a first sight, or one recreated
		// under the same name): its restarts count from here, or from the
		// last run's sighting of the same pod.
		*st = podState{seen: true, uid: p.UID, everUp: st.everUp, ctrs: map[string]*podCtr{}}
		if pt := o.T.pod; pt.prior != nil {
			if pt.prior.UID == p.UID && pt.prior.Name == p.Name && pt.prior.Namespace == p.Namespace {
				for _, c := range pt.prior.Containers {
					st.ctrs[c.Name] = &podCtr{restarts: c.RestartCount, unwatched: true}
				}
			}
			pt.prior = nil
		}
		o.e.changes++
	}
	if o.S.Up && !st.everUp {
		st.everUp = true
		podStarted(o, p)
	}
	for i := range p.Containers {
		c := &p.Containers[i]
		cs := st.ctrs[c.Name]
		if cs == nil {
			cs = &podCtr{restarts: c.RestartCount}
			st.ctrs[c.Name] = cs
		}
		if n := c.RestartCount - cs.restarts; n > 0 {
			podRestarts(o, p, c, cs, n)
			cs.restarts = c.RestartCount
			o.e.changes++
		}
		cs.unwatched = false
		loop := c.State.Status == event.PodWaiting && c.State.Reason == "CrashLoopBackOff"
		if loop && !cs.crashloop {
			podCrashloop(o, p, c)
		}
		cs.crashloop = loop
		if cs.pending != nil && c.State.Status == event.PodRunning {
			back := o.S.TS
			if c.State.StartedAt != nil {
				back = c.State.StartedAt.Time
			}
			podRecovered(o, p, c, cs.pending, back, true)
			cs.pending = nil
		}
	}
	if p.Ready {
		st.ready = true
	} else if st.ready && p.Phase == "Running" && !p.Deleting {
		st.ready = false
		podUnready(o, p)
	}
	if p.Phase == "Failed" && p.Reason == "Evicted" && !st.evicted {
		st.evicted = true
		podEvicted(o, p)
	}
	if p.Deleting && o.S.Matches == 0 && !st.gone {
		// The API server deleted it (a terminating pod still matches).
		st.gone = true
		podDeleted(o, p, st)
	}
}

// podDeleted tells that the pod is gone: one deleted event, which ends
// the target in sre-score. A container down at the time (a crash no
// recovered answered: restart_pod on a crash loop, say) was down until
// then, and the event says so with the crash's id and that downtime, once
// per such crash: no container of a deleted pod runs again.
func podDeleted(o *Obs, p *event.Pod, st *podState) {
	var pending []*podCrash
	var names []string
	for i := range p.Containers {
		if cs := st.ctrs[p.Containers[i].Name]; cs != nil && cs.pending != nil {
			pending = append(pending, cs.pending)
			names = append(names, p.Containers[i].Name)
			cs.pending = nil
		}
	}
	msg := fmt.Sprintf("%s was deleted", o.T.Name)
	if len(pending) == 0 {
		o.emit(ev{typ: event.TypeDeleted, sev: event.SevInfo, key: "pod:" + p.UID, detail: podDetail(p), noProcess: true, msg: msg + "."})
		return
	}
	for i, cr := range pending {
		d := podDetail(p)
		down := max(0, o.S.TS.Sub(cr.ts).Seconds())
		d["container"] = names[i]
		d["crash_id"] = cr.id
		d["restart_count"] = cr.restart
		d["down_since"] = event.At(cr.ts)
		d["downtime_s"] = round(down, 3)
		m := fmt.Sprintf("%s, its container %s down since restart %d, %s before", msg, names[i], cr.restart, FormatDuration(down))
		o.emit(ev{typ: event.TypeDeleted, sev: event.SevInfo, key: fmt.Sprintf("pod:%s/%s#%d:deleted", p.UID, names[i], cr.restart), detail: d, noProcess: true, msg: m + "."})
	}
}

// podRestarts tells the n restarts of container c since it was last
// counted: one crash each. Only the last restart's end is in the status
// (last_state): the others happened while no sample showed them, so their
// crash says how they ended is not known (observed: false) and a recovered
// without a downtime answers each at once — the container ran again, when
// is not known. A crash still unanswered was answered by the run that
// followed it: at last_state.started_at when that run is the one that
// ended last (n = 1), at a time not known otherwise.
func podRestarts(o *Obs, p *event.Pod, c *event.PodContainer, cs *podCtr, n int) {
	ls := c.LastState
	if ls != nil && ls.Status != event.PodTerminated {
		ls = nil
	}
	if cs.pending != nil {
		if n == 1 && ls != nil && ls.StartedAt != nil {
			podRecovered(o, p, c, cs.pending, ls.StartedAt.Time, true)
		} else {
			podRecovered(o, p, c, cs.pending, time.Time{}, false)
		}
		cs.pending = nil
	}
	at := o.S.TS
	if ls != nil && ls.StartedAt != nil && ls.StartedAt.Before(at) {
		at = ls.StartedAt.Time // they had all happened by then
	}
	r := c.RestartCount - n + 1
	if lump := n - 1 - maxUnseen; lump > 0 {
		// More than a stream of samples can have missed (a count off
		// by millions would be as many events): the oldest are one crash.
		cr := podCrashEvent(o, p, c, cs, r+lump, at, nil, lump+1)
		podRecovered(o, p, c, &cr, time.Time{}, false)
		r += lump + 1
	}
	for ; r < c.RestartCount; r++ {
		cr := podCrashEvent(o, p, c, cs, r, at, nil, 1)
		podRecovered(o, p, c, &cr, time.Time{}, false)
	}
	at = o.S.TS
	if ls != nil && ls.FinishedAt != nil {
		at = ls.FinishedAt.Time // the death, not its sighting
	}
	cr := podCrashEvent(o, p, c, cs, c.RestartCount, at, ls, 1)
	cs.pending = &cr
}

// podDetail is what every event of a pod says of it.
func podDetail(p *event.Pod) map[string]any {
	d := map[string]any{"namespace": p.Namespace, "pod": p.Name}
	if p.UID != "" {
		d["uid"] = p.UID
	}
	if ow := p.Owner; ow != nil {
		d["owner_kind"], d["owner_name"] = ow.Kind, ow.Name
		if ow.ReplicaSet != "" {
			d["replicaset"] = ow.ReplicaSet
		}
	}
	if p.Node != "" {
		d["node"] = p.Node
	}
	return d
}

// endDetail adds how a container's run ended (its last_state) to d, and
// returns it in words.
func endDetail(d map[string]any, ls *event.PodContainerState) string {
	if ls == nil {
		return "ended; how is not known"
	}
	oom := ls.Reason == "OOMKilled"
	d["oom_killed"] = oom
	if ls.Reason != "" {
		d["reason"] = ls.Reason
	}
	if ls.ExitCode != nil {
		d["exit_code"] = *ls.ExitCode
	}
	if ls.Signal != 0 {
		d["signal"] = ls.Signal
	}
	if ls.StartedAt != nil {
		d["started_at"] = *ls.StartedAt
	}
	if ls.FinishedAt != nil {
		d["finished_at"] = *ls.FinishedAt
	}
	if ls.StartedAt != nil && ls.FinishedAt != nil && !ls.FinishedAt.Before(ls.StartedAt.Time) {
		d["uptime_s"] = round(ls.FinishedAt.Sub(ls.StartedAt.Time).Seconds(), 3)
	}
	code := ""
	if ls.ExitCode != nil {
		code = fmt.Sprintf("exit code %d", *ls.ExitCode)
	}
	var how string
	switch {
	case oom:
		how = "was OOM-killed"
		if code != "" {
			how += " (" + code + ")"
		}
	case ls.Signal != 0:
		how = fmt.Sprintf("was killed by signal %d", ls.Signal)
		if code != "" {
			how += " (" + code + ")"
		}
	case ls.ExitCode != nil:
		how = fmt.Sprintf("exited with code %d", *ls.ExitCode)
		if ls.Reason != "" {
			how += " (" + ls.Reason + ")"
		}
	case ls.Reason != "":
		how = "ended (" + ls.Reason + ")"
	default:
		how = "ended; how is not known"
	}
	if up, ok := d["uptime_s"].(float64); ok {
		how += " after " + FormatDuration(up) + " up"
	}
	return how
}

// maxUnseen is the most restarts no sample showed that are told one crash
// each, in one sample; those before them are told as one.
const maxUnseen = 1000

func podCrashKey(p *event.Pod, c *event.PodContainer, restart int) string {
	return fmt.Sprintf("pod:%s/%s#%d", p.UID, c.Name, restart)
}

// podCrashEvent tells restart number restart of c, at ts: how it ended
// when ls (its last_state) says, else as not observed.
func podCrashEvent(o *Obs, p *event.Pod, c *event.PodContainer, cs *podCtr, restart int, ts time.Time, ls *event.PodContainerState, lumped int) podCrash {
	d := podDetail(p)
	d["container"] = c.Name
	d["restart_count"] = restart
	d["observed"] = ls != nil
	var msg string
	if lumped > 1 {
		d["restarts"] = lumped
		msg = fmt.Sprintf("%s container %s restarted %d times while no sample showed it (restarts %d to %d); how they ended is not known", o.T.Name, c.Name, lumped, restart-lumped+1, restart)
	} else if restart < c.RestartCount {
		msg = fmt.Sprintf("%s container %s restarted while no sample showed it (restart %d); how it ended is not known", o.T.Name, c.Name, restart)
	} else {
		msg = fmt.Sprintf("%s container %s %s; restart %d", o.T.Name, c.Name, endDetail(d, ls), restart)
	}
	if cs.unwatched {
		d["unwatched"] = true
		if pt := o.T.pod; !pt.priorTS.IsZero() {
			d["last_seen"] = event.At(pt.priorTS)
		}
		msg += ", while nothing watched"
	}
	id := o.emit(ev{typ: event.TypeCrash, sev: event.SevCritical, key: podCrashKey(p, c, restart), ts: ts, detail: d, noProcess: true, msg: msg + "."})
	return podCrash{id: id, ts: ts, restart: restart}
}

// podRecovered answers crash cr: c ran again at back (known), or at a
// time not known (!known: no downtime is told).
func podRecovered(o *Obs, p *event.Pod, c *event.PodContainer, cr *podCrash, back time.Time, known bool) {
	d := podDetail(p)
	d["container"] = c.Name
	d["restart_count"] = cr.restart
	d["crash_id"] = cr.id
	var msg string
	ts := time.Time{}
	if known {
		down := max(0, back.Sub(cr.ts).Seconds())
		d["downtime_s"] = round(down, 3)
		d["down_since"] = event.At(cr.ts)
		d["started_at"] = event.At(back)
		msg = fmt.Sprintf("%s container %s is running again, %s after it ended (restart %d)", o.T.Name, c.Name, FormatDuration(down), cr.restart)
	} else {
		d["observed"] = false
		ts = cr.ts
		if o.S.TS.After(ts) {
			ts = o.S.TS
		}
		msg = fmt.Sprintf("%s container %s ran again after restart %d, at a time no sample showed: its downtime is not known", o.T.Name, c.Name, cr.restart)
	}
	o.emit(ev{typ: event.TypeRecovered, sev: event.SevInfo, key: podCrashKey(p, c, cr.restart), ts: ts, detail: d, noProcess: true, msg: msg + "."})
}

func podStarted(o *Obs, p *event.Pod) {
	d := podDetail(p)
	d["phase"] = p.Phase
	d["ready"] = p.Ready
	names := make([]string, 0, len(p.Containers))
	var latest *event.Time
	for i := range p.Containers {
		c := &p.Containers[i]
		names = append(names, c.Name)
		if sa := c.State.StartedAt; c.State.Status == event.PodRunning && sa != nil && (latest == nil || sa.After(latest.Time)) {
			latest = sa
		}
	}
	d["containers"] = names
	if latest != nil {
		// sre-score dates the end of a crash this watch cannot answer
		// (one before it started) by process_start.
		d["process_start"] = *latest
	}
	about := "containers: " + strings.Join(names, ", ")
	if ow := p.Owner; ow != nil {
		about = ow.Kind + " " + ow.Name + "; " + about
	}
	o.emit(ev{typ: event.TypeStarted, sev: event.SevInfo, detail: d, noProcess: true,
		msg: fmt.Sprintf("%s is up on node %s (%s).", o.T.Name, nodeName(p), about)})
}

func nodeName(p *event.Pod) string {
	if p.Node == "" {
		return "(none yet)"
	}
	return p.Node
}

func podCrashloop(o *Obs, p *event.Pod, c *event.PodContainer) {
	d := podDetail(p)
	d["container"] = c.Name
	d["restart_count"] = c.RestartCount
	d["waiting_reason"] = c.State.Reason
	msg := fmt.Sprintf("%s container %s is in CrashLoopBackOff after %d restarts", o.T.Name, c.Name, c.RestartCount)
	if ls := c.LastState; ls != nil && ls.Status == event.PodTerminated {
		msg += "; its last run " + endDetail(d, ls)
	}
	if c.State.Message != "" {
		d["message"] = c.State.Message
		msg += fmt.Sprintf(" (%s)", c.State.Message)
	}
	o.emit(ev{typ: "crashloop", sev: event.SevCritical, key: podCrashKey(p, c, c.RestartCount), detail: d, noProcess: true, msg: msg + "."})
}

func podUnready(o *Obs, p *event.Pod) {
	d := podDetail(p)
	d["phase"] = p.Phase
	var names []string
	for i := range p.Containers {
		if !p.Containers[i].Ready {
			names = append(names, p.Containers[i].Name)
		}
	}
	d["not_ready"] = names
	msg := fmt.Sprintf("%s is running but not ready", o.T.Name)
	if len(names) > 0 {
		msg += " (not ready: " + strings.Join(names, ", ") + ")"
	}
	o.emit(ev{typ: "unready", sev: event.SevWarning, key: "pod:" + p.UID, detail: d, noProcess: true, msg: msg + "."})
}

func podEvicted(o *Obs, p *event.Pod) {
	d := podDetail(p)
	d["phase"], d["reason"] = p.Phase, p.Reason
	msg := fmt.Sprintf("%s was evicted from node %s", o.T.Name, nodeName(p))
	if p.Message != "" {
		d["message"] = p.Message
		msg += ": " + strings.TrimRight(p.Message, ".")
	}
	o.emit(ev{typ: "evicted", sev: event.SevCritical, key: "pod:" + p.UID, detail: d, noProcess: true, msg: msg + "."})
}
