package detect

import (
	"fmt"
	"strings"

	"github.com/localsre/sre-agent/internal/event"
)

// crash: a process identity that was up is gone — the sampler reported its
// exit, or a complete tick no longer had it. Each identity crashes once.
type crash struct{ cfg *Config }

var _ Detector = (*crash)(nil)

func newCrash(cfg *Config) Detector { return &crash{cfg} }

func (d *crash) Observe(o *Obs) {
	if o.Kind != KindEnd || o.Cause == CauseReplaced || o.Cause == CausePolicy {
		return
	}
	p, s := o.P, o.S
	detail := map[string]any{
		"noticed": o.Cause,
		"history": p.History(),
	}
	uptime := -1.0
	how := "is gone"
	if o.Cause == CauseExit {
		x := s.Exit
		detail["noticed"] = x.Noticed
		if x.UptimeS.OK {
			uptime = x.UptimeS.V
		}
		if x.Code.OK && x.Signal != "" {
			detail["exit_code"] = x.Code.V // a container's: Docker's code, and the signal it sent
		}
		switch {
		case x.Signal != "":
			detail["signal"] = x.Signal
			how = "was killed by " + x.Signal
		case x.Code.OK:
			detail["exit_code"] = x.Code.V
			how = fmt.Sprintf("exited with code %d", x.Code.V)
		default:
			how = "is gone (exit status unknown)"
		}
	} else {
		how = "is gone: a tick no longer found it"
	}
	if uptime < 0 && !p.Start.IsZero() && s.TS.After(p.Start) {
		uptime = s.TS.Sub(p.Start).Seconds()
	}
	if uptime >= 0 {
		detail["uptime_s"] = round(uptime, 3)
	}
	pt, state, torn := p.Teardown()
	if torn {
		// process is the last live reading; this one is the kernel's
		// teardown, kept for what it tells of the end.
		td := map[string]any{"ts": pt.TS, "rss_bytes": pt.RSS, "threads": pt.Threads}
		if state != "" {
			td["state"] = state
		}
		vms, exiting := p.TeardownSigns()
		if vms.OK {
			td["vms_bytes"] = vms.V
		}
		if exiting {
			td["exiting"] = true
		}
		detail["teardown"] = td
		detail["last_sight"] = event.At(p.LastLive())
	}
	conf, evidence, killed := oomEvidence(p, s)
	detail["oom_suspected"] = conf != ""
	if conf != "" {
		detail["oom_confidence"] = conf
		detail["oom_evidence"] = evidence
	}
	if killed {
		detail["oom_killed"] = true
		if s.HasProc && ownCgroup(s.Cgroup) && !oomCounted(p, s) {
			o.T.tellOOM(s.Cgroup, s.TS)
		}
	}
	if s.HasContainer {
		detail["container_id"] = s.Container.ID
		detail["restart_count"] = s.Container.RestartCount
	}
	msg := fmt.Sprintf("%s %s", subject(o.T, p), how)
	if uptime >= 0 {
		msg += " after " + FormatDuration(uptime) + " up"
	}
	if conf != "" {
		msg += fmt.Sprintf("; OOM kill suspected (%s confidence: %s)", conf, strings.Join(evidence, ", "))
	}
	o.emit(ev{typ: "crash", sev: event.SevCritical, msg: msg + ".", detail: detail, proc: p, live: torn})
}

// oomCounted reports whether the exit sample itself shows its cgroup's
// OOM counter risen: the kill is then in the counter the oom detector has
// seen, and no live sibling will show it again.
func oomCounted(p *Proc, s *Sample) bool {
	return s.HasProc && s.CgroupOOMs.OK && p.cgroupOOM.OK && s.CgroupOOMs.V > p.cgroupOOM.V
}

// oomEvidence weighs whether the kernel's OOM killer ended p: the kernel's
// log naming it (the sampler looks when the host's counter rose), its
// cgroup's OOM counter rising between its last sample and its end, the
// host's counter rising, a SIGKILL (the OOM killer's signal), and memory
// close to its limit. The host's counter says only that something on the
// host was killed: without the log it is a medium suspicion, and it is no
// evidence once the log, read, named another process. killed is the
// verdict the score counts as an OOM kill of the target: the kernel named
// it, or its own cgroup counted a kill as it died by SIGKILL.
func oomEvidence(p *Proc, s *Sample) (confidence string, evidence []string, killed bool) {
	if s.HasExit && s.HasContainer && s.Exit.OOMKilled.OK {
		// Docker's own account: the kernel's OOM kill in its cgroup.
		if !s.Exit.OOMKilled.V {
			return "", nil, false
		}
		return "high", []string{"Docker says the OOM killer ended it (State.OOMKilled)"}, true
	}
	if s.HasExit && (s.Exit.Code.OK || s.Exit.Signal != "" && s.Exit.Signal != "SIGKILL") {
		return "", nil, false // it exited, or another signal ended it
	}
	sigkill := s.HasExit && s.Exit.Signal == "SIGKILL"
	named := s.HasExit && s.Exit.OOMKilled.OK && s.Exit.OOMKilled.V
	cleared := s.HasExit && s.Exit.OOMKilled.OK && !s.Exit.OOMKilled.V
	host := s.OOMKills.OK && p.hostOOM.OK && s.OOMKills.V > p.hostOOM.V && !cleared
	group := s.HasProc && s.ID() == p.ID && ownCgroup(s.Cgroup) && s.CgroupOOMs.OK && p.cgroupOOM.OK && s.CgroupOOMs.V > p.cgroupOOM.V
	near := p.memMax.OK && p.memMax.V > 0 && float64(p.Last.rss) >= 0.9*float64(p.memMax.V)
	if named {
		evidence = append(evidence, "the kernel's log names it")
	}
	if group {
		evidence = append(evidence, "cgroup oom_kill counter rose")
	}
	if host {
		evidence = append(evidence, "host oom_kill counter rose")
	}
	if sigkill {
		evidence = append(evidence, "killed by SIGKILL")
	}
	if near {
		evidence = append(evidence, "RSS within 10% of the cgroup limit")
	}
	killed = named || group && sigkill
	switch {
	case named, group && (sigkill || near):
		return "high", evidence, killed
	case group || host:
		return "medium", evidence, killed
	case sigkill && near:
		return "low", evidence, killed
	}
	return "", nil, false
}
