package kubecmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/durable"
	"github.com/localsre/sre-agent/internal/kube"
)

const evidenceAbout = `Keeps a pod's evidence as files under --dir: the previous run of each
container's log (the last --tail lines, with the kubelet's timestamps; the
current run's when the container has not restarted, and the file's name
says which), the pod's recent events, and the pod object as read. It
prints one JSON line: the files written, and what could not be read and
why (RBAC: "forbidden: User … cannot get resource "pods/log" …"). Exit 0
when anything was kept, 1 when nothing could be, 2 on a usage error.
sre-report runs it for a pod incident, and restart-pod before it deletes.

Files: TIME_NAMESPACE_POD_CONTAINER_previous.log (or _current.log),
TIME_NAMESPACE_POD_events.log and TIME_NAMESPACE_POD_pod.json, TIME the
UTC second; never over an existing file, mode 0444 once whole and on disk.
`

// Bounds of the evidence kept.
const (
	defaultTail   = 200
	maxTail       = 100000
	logLimitBytes = 4 << 20 // per container
	maxContainers = 8       // logs kept per pod
)

func runEvidence(ctx context.Context, std cli.IO, args []string) error {
	var pod, container, dir string
	var tail int
	fs := subFlagSet("evidence --pod NAMESPACE/NAME [--container NAME] --dir DIR [--tail N]", evidenceAbout, std.Out)
	fs.StringVar(&pod, "pod", "", "the pod `NAMESPACE/NAME`")
	fs.StringVar(&container, "container", "", "keep this container's log (default: each container's)")
	fs.StringVar(&dir, "dir", "", "write the evidence files in `DIR` (it must exist)")
	fs.IntVar(&tail, "tail", defaultTail, "log lines kept per container")
	cfg := clusterFlags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("evidence: unexpected argument %q", fs.Arg(0))
	}
	ref, err := podFlag(pod)
	if err != nil {
		return err
	}
	if container != "" {
		if err := kube.CheckName("container", container); err != nil {
			return cli.Usagef("--container: %v", err)
		}
	}
	if err := checkEvidenceFlags(dir, tail, "--dir", "--tail"); err != nil {
		return err
	}
	c, err := client(cfg)
	if err != nil {
		return err
	}
	r := &result{Verb: "evidence", Resource: "pods", Namespace: ref.Namespace, Name: ref.Name, Result: resultOK}
	p, _ := keepEvidence(ctx, c, ref, container, dir, tail, std.Now(), r)
	if p != nil {
		r.UID = string(p.UID)
		if o := kube.Controller(p); o != nil {
			r.Owner = o.Kind + "/" + o.Name
		}
	}
	if len(r.Files) == 0 {
		r.Result = resultFailed
		r.Error = "nothing could be kept"
		if len(r.Unread) > 0 {
			r.Error += ": " + r.Unread[0].What + ": " + r.Unread[0].Why
		}
	}
	return finish(std.Out, r)
}

func podFlag(s string) (kube.PodRef, error) {
	if s == "" {
		return kube.PodRef{}, cli.Usagef("--pod: missing: give NAMESPACE/NAME")
	}
	ref, err := kube.ParsePodRef(s)
	if err != nil {
		return kube.PodRef{}, cli.Usagef("--pod: %v", err)
	}
	return ref, nil
}

func checkEvidenceFlags(dir string, tail int, dirFlag, tailFlag string) error {
	if tail < 1 || tail > maxTail {
		return cli.Usagef("%s %d: must be between 1 and %d", tailFlag, tail, maxTail)
	}
	if dir == "" {
		return cli.Usagef("%s: missing: the directory to keep the evidence in", dirFlag)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return cli.Usagef("%s %s: %v", dirFlag, dir, unwrapPath(err))
	}
	if !fi.IsDir() {
		return cli.Usagef("%s %s: not a directory", dirFlag, dir)
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// keepEvidence writes pod ref's evidence under dir, adding the files and
// what could not be read to r. It returns the pod as read (nil when it
// could not be) and the pod read's error.
func keepEvidence(ctx context.Context, c *kube.Client, ref kube.PodRef, container, dir string, tail int, now time.Time, r *result) (*corev1.Pod, error) {
	stem := now.UTC().Format("20060102T150405Z") + "_" + ref.Namespace + "_" + ref.Name
	p, perr := c.Pod(ctx, ref.Namespace, ref.Name)
	if perr != nil {
		p = nil
		r.Unread = append(r.Unread, unread{What: "pod " + ref.String(), Why: "could not read the pod: " + kube.Why(perr)})
	}
	containers := []string{container}
	if container == "" && p != nil {
		containers = containers[:0]
		for _, sc := range p.Spec.Containers {
			containers = append(containers, sc.Name)
		}
		if len(containers) > maxContainers {
			r.Unread = append(r.Unread, unread{What: "logs", Why: fmt.Sprintf("only the first %d of %d containers' logs kept", maxContainers, len(containers))})
			containers = containers[:maxContainers]
		}
	}
	for _, cn := range containers {
		what := "logs"
		if cn != "" {
			what = "logs of container " + cn
		}
		if p != nil && p.Spec.NodeName == "" {
			r.Unread = append(r.Unread, unread{What: what, Why: "could not read logs: " + kube.ErrNoNode.Error(), None: true})
			continue
		}
		l, err := c.PreviousLogs(ctx, ref.Namespace, ref.Name, cn, int64(tail), logLimitBytes)
		if err != nil {
			r.Unread = append(r.Unread, unread{What: what, Why: "could not read logs: " + kube.Why(err)})
			continue
		}
		run := "previous"
		if !l.Previous {
			run = "current"
			r.Messages = append(r.Messages, fmt.Sprintf("%s: no previous run's log (%s): the current run's kept", what, l.NoPrevious))
		}
		name := stem
		if cn != "" {
			name += "_" + cn
		}
		desc := run + " run's log"
		if cn != "" {
			desc = "container " + cn + ": " + desc
		}
		if l.Cut {
			desc += fmt.Sprintf(" (cut at %d bytes)", logLimitBytes)
		}
		writeEvidence(r, dir, name+"_"+run+".log", desc, l.Data)
	}
	evs, err := c.PodEvents(ctx, ref.Namespace, ref.Name)
	if err != nil {
		r.Unread = append(r.Unread, unread{What: "events", Why: "could not read events: " + kube.Why(err)})
	} else {
		var b bytes.Buffer
		fmt.Fprintf(&b, "# events of pod %s, oldest first (%s)\n", ref, kube.EventsCall(ref.Namespace, ref.Name))
		for _, e := range evs {
			b.WriteString(e.String() + "\n")
		}
		if len(evs) == 0 {
			b.WriteString("# none: the API server keeps events an hour by default\n")
		}
		// Not .txt: TIME_….txt in a report directory is a report's name.
		writeEvidence(r, dir, stem+"_events.log", strconv.Itoa(len(evs))+" events", b.Bytes())
	}
	if p != nil {
		pj := p.DeepCopy()
		pj.ManagedFields = nil
		pj.APIVersion, pj.Kind = "v1", "Pod"
		if b, err := json.MarshalIndent(pj, "", "  "); err == nil {
			writeEvidence(r, dir, stem+"_pod.json", "the pod as read", append(b, '\n'))
		}
	}
	return p, perr
}

func writeEvidence(r *result, dir, name, what string, data []byte) {
	path, err := durable.WriteNew(dir, name, data)
	if err != nil {
		r.Unread = append(r.Unread, unread{What: what, Why: "could not write " + filepath.Join(dir, name) + ": " + unwrapPath(err).Error()})
		return
	}
	r.Files = append(r.Files, file{Path: path, What: what, Bytes: len(data)})
}
