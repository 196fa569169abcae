package score_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/localsre/sre-agent/internal/detect"
	"github.com/localsre/sre-agent/internal/event"
)

// podArchive is what sre-detect makes of pod samples (built by the one
// encoder, read by the engine itself): the archive sre-score reads.
func podArchive(t *testing.T, pods []struct {
	off time.Duration
	p   event.Pod
}) []byte {
	t.Helper()
	var b bytes.Buffer
	e, err := detect.New(detect.Defaults(), func(rec any) error {
		if ev, ok := rec.(*event.Event); ok {
			line, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			b.Write(append(line, '\n'))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range pods {
		p := s.p
		up, matches := true, 1
		if p.Deleting { // the deletion, as sre-kube tells it
			up, matches = false, 0
		}
		smp := event.Sample{Header: event.NewHeader(event.KindSample, "sre-sample", "h", at.Add(s.off)), Target: p.Ref(), Up: up, Matches: matches, Pod: &p}
		line, err := smp.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Sample(line); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func podOf(restarts int, startedAt time.Duration, last *event.PodContainerState) event.Pod {
	st := event.At(at.Add(startedAt))
	return event.Pod{Namespace: "shop", Name: "web-1", UID: "u1", Phase: "Running", Ready: true,
		Owner: &event.PodOwner{Kind: "Deployment", Name: "web", ReplicaSet: "web-7d9c"},
		Containers: []event.PodContainer{{Name: "app", Ready: true, RestartCount: restarts,
			State: event.PodContainerState{Status: event.PodRunning, StartedAt: &st}, LastState: last}}}
}

func lastRun(reason string, code int, started, finished time.Duration) *event.PodContainerState {
	s, f := event.At(at.Add(started)), event.At(at.Add(finished))
	return &event.PodContainerState{Status: event.PodTerminated, Reason: reason, ExitCode: &code, StartedAt: &s, FinishedAt: &f}
}

// TestPodScoresLikeProcess: a pod's crash and recovered, as sre-detect
// makes them from the kubelet's times, score as a process's crash and
// recovered at the same times do: the failure counted, the downtime from
// the container's death to its new start, MTTR from it; an OOMKilled
// restart is an OOM kill. Restarts no sample showed count as failures and
// add no incident of a made-up length.
func TestPodScoresLikeProcess(t *testing.T) {
	type podAt = struct {
		off time.Duration
		p   event.Pod
	}
	opt := cmpopts.EquateApprox(0, 1e-9)
	t.Run("one restart", func(t *testing.T) {
		pod := podArchive(t, []podAt{
			{-2 * day, podOf(0, -2*day, nil)},
			// Died 2 h ago, running again 10 min later; the watcher's sample comes 30 s after.
			{-2*h + 10*m + 30*time.Second, podOf(1, -2*h+10*m, lastRun("OOMKilled", 137, -2*day, -2*h))},
		})
		proc := gen(t, []step{{"shop/web-1", "started", -2 * day, 0}, {"shop/web-1", "crash", -2 * h, 10 * m}})
		w := got(snapshot(t, proc, "24h").Results[0])
		w.OOMKills = 1
		s := snapshot(t, pod, "24h")
		if diff := cmp.Diff([]want{w}, []want{got(s.Results[0])}, opt); diff != "" {
			t.Errorf("pod (-process +pod):\n%s", diff)
		}
		if diff := cmp.Diff([]want{expect("shop/web-1", "24h", 1, 1, 1, 86400, 600)}, []want{got(s.Results[0])}, opt, cmpopts.IgnoreFields(want{}, "OOMKills")); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if s.Totals[0].OOMKills != 1 || !s.Totals[0].LastCrash.Equal(at.Add(-2*h)) {
			t.Errorf("totals %+v: want one OOM kill, the last crash when the container died", s.Totals[0])
		}
	})
	t.Run("two restarts between samples", func(t *testing.T) {
		pod := podArchive(t, []podAt{
			{-2 * day, podOf(0, -2*day, nil)},
			{-30 * m, podOf(2, -39*m, lastRun("Error", 1, -45*m, -40*m))},
		})
		s := snapshot(t, pod, "24h")
		// Two failures; one incident, of the restart whose times the status gave.
		if diff := cmp.Diff([]want{expect("shop/web-1", "24h", 2, 2, 1, 86400, 60)}, []want{got(s.Results[0])}, opt); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("deleted while down", func(t *testing.T) {
		// A crash loop (the container waits in back-off), then the pod
		// deleted (restart_pod, say): down from the death to the deletion,
		// and observed no more after it, instead of down forever.
		waiting := podOf(1, 0, lastRun("Error", 1, -2*day, -2*h))
		waiting.Ready = false
		waiting.Containers[0].Ready = false
		waiting.Containers[0].State = event.PodContainerState{Status: event.PodWaiting, Reason: "CrashLoopBackOff"}
		gone := waiting
		gone.Deleting = true
		pod := podArchive(t, []podAt{
			{-2 * day, podOf(0, -2*day, nil)},
			{-2*h + time.Second, waiting},
			{-1 * h, gone},
		})
		s := snapshot(t, pod, "24h")
		if diff := cmp.Diff([]want{expect("shop/web-1", "24h", 1, 1, 1, 23*3600, 3600)}, []want{got(s.Results[0])}, opt); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}
