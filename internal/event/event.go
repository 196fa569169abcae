package event

import (
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Version is the newest schema version this build reads and writes.
const Version = 1

// Record kinds.
const (
	KindSample  = "sample"
	KindEvent   = "event"
	KindAction  = "action"
	KindScore   = "score"
	KindSummary = "summary"
	KindNotice  = "notice"
)

// SchemaFS holds schema/v1.json, the JSON Schema of every record.
//
//go:embed schema/v1.json
var SchemaFS embed.FS

// SchemaPath is the name of the JSON Schema inside SchemaFS.
const SchemaPath = "schema/v1.json"

// TimeLayout is RFC 3339 in UTC with fixed nanoseconds, so timestamps sort
// as text (`sort`, `jq`) in the same order as in time.
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Time is a timestamp that marshals in TimeLayout, always in UTC.
type Time struct{ time.Time }

// At wraps t as a record timestamp.
func At(t time.Time) Time { return Time{t.UTC()} }

// MarshalJSON writes the fixed-width UTC form.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimeLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON accepts any RFC 3339 timestamp.
func (t *Time) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil // encoding/json convention: null leaves the value alone
	}
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return fmt.Errorf("timestamp %s: not a string", s)
	}
	v, err := time.Parse(time.RFC3339Nano, s[1:len(s)-1])
	if err != nil {
		return fmt.Errorf("timestamp %s: %w", s, err)
	}
	t.Time = v.UTC()
	return nil
}

// Header holds the fields common to every record.
type Header struct {
	V    int    `json:"v"`
	Kind string `json:"kind"`
	TS   Time   `json:"ts"`
	Host string `json:"host"`
	Src  string `json:"src"`
}

// NewHeader fills the common fields for a record of kind made by src.
func NewHeader(kind, src, host string, ts time.Time) Header {
	return Header{V: Version, Kind: kind, TS: At(ts), Host: host, Src: src}
}

// ErrInvalid is wrapped by every validation failure.
var ErrInvalid = errors.New("invalid record")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Validate checks the common fields.
func (h Header) Validate() error {
	switch {
	case h.V < 1:
		return invalid("v %d: must be >= 1", h.V)
	case h.V > Version:
		return invalid("v %d: newer than this build knows (%d)", h.V, Version)
	case !knownKind(h.Kind):
		return invalid("kind %q: unknown", h.Kind)
	case h.TS.IsZero():
		return invalid("ts: missing")
	case h.Src == "":
		return invalid("src: missing")
	}
	return nil
}

func knownKind(k string) bool {
	switch k {
	case KindSample, KindEvent, KindAction, KindScore, KindSummary, KindNotice:
		return true
	}
	return false
}

// Process is what a sample knows of one process. Pointer and omitempty
// fields are absent when they could not be read; Sample.Unavailable then
// says why. A zero there is a measured zero, never a stand-in.
type Process struct {
	PID        int      `json:"pid"`
	PPID       int      `json:"ppid"`
	Start      Time     `json:"start"`
	StartTicks uint64   `json:"start_ticks"`
	Name       string   `json:"name"`
	Exe        string   `json:"exe,omitempty"`
	Args       []string `json:"args,omitempty"`
	User       string   `json:"user,omitempty"`
	UID        *int     `json:"uid,omitempty"`
	State      string   `json:"state"`
	Exiting    bool     `json:"exiting,omitempty"` // the kernel is ending it: a teardown reading
	CPUPct     *float64 `json:"cpu_pct,omitempty"`
	CPUTimeS   float64  `json:"cpu_time_s"`
	RSSBytes   uint64   `json:"rss_bytes"`
	VMSBytes   uint64   `json:"vms_bytes"`
	Threads    int      `json:"threads"`
	FDs        *int     `json:"fds,omitempty"`
	FDsLimit   *uint64  `json:"fds_limit,omitempty"`
	Cgroup     string   `json:"cgroup,omitempty"`
	// ContainerID is the Docker/containerd/podman/CRI id found in the cgroup path.
	ContainerID string `json:"container_id,omitempty"`
	// Runtime names who owns ContainerID: docker, containerd, podman, crio or kubepods.
	Runtime string `json:"container_runtime,omitempty"`
	// PodUID is the Kubernetes pod UID when the cgroup is under kubepods.
	PodUID string `json:"pod_uid,omitempty"`
	// CgroupMemMaxBytes is the cgroup's memory limit (memory.max), when set.
	CgroupMemMaxBytes *uint64 `json:"cgroup_mem_max_bytes,omitempty"`
	// CgroupOOM and CgroupOOMKills are the cgroup v2 memory.events counters.
	CgroupOOM      *uint64 `json:"cgroup_oom,omitempty"`
	CgroupOOMKills *uint64 `json:"cgroup_oom_kills,omitempty"`
}

// Identity is what makes a process itself: a PID seen again with another
// start time is another process.
type Identity struct {
	PID        int    `json:"pid"`
	StartTicks uint64 `json:"start_ticks"`
}

// ID returns the process identity.
func (p *Process) ID() Identity { return Identity{p.PID, p.StartTicks} }

func (id Identity) String() string { return fmt.Sprintf("%d@%d", id.PID, id.StartTicks) }

// Disk is the usage of one filesystem.
type Disk struct {
	Path       string  `json:"path"`
	TotalBytes uint64  `json:"total_bytes"`
	UsedBytes  uint64  `json:"used_bytes"`
	FreeBytes  uint64  `json:"free_bytes"`
	UsedPct    float64 `json:"used_pct"`
}

// System is the host state at the time of a sample.
type System struct {
	MemTotalBytes     *uint64  `json:"mem_total_bytes,omitempty"`
	MemAvailableBytes *uint64  `json:"mem_available_bytes,omitempty"`
	SwapTotalBytes    *uint64  `json:"swap_total_bytes,omitempty"`
	SwapUsedBytes     *uint64  `json:"swap_used_bytes,omitempty"`
	Load1             *float64 `json:"load1,omitempty"`
	Load5             *float64 `json:"load5,omitempty"`
	Load15            *float64 `json:"load15,omitempty"`
	Disk              []Disk   `json:"disk,omitempty"`
	PSIMemSomeAvg10   *float64 `json:"psi_mem_some_avg10,omitempty"`
	PSIMemFullAvg10   *float64 `json:"psi_mem_full_avg10,omitempty"`
	OOMKills          *uint64  `json:"oom_kills,omitempty"`
}

// Exit says how a watched process ended.
type Exit struct {
	PID int `json:"pid"`
	// Noticed is how the end was seen: pidfd (kernel notification), wait
	// (our own child), zombie (state Z at a check), gone (no longer in /proc
	// at a check) or reused (the PID now belongs to another process).
	Noticed string `json:"noticed"`
	// Code is the exit status when the process exited normally and the
	// status could be read (own child, or a zombie's /proc stat).
	Code *int `json:"code,omitempty"`
	// Signal is the terminating signal's name (SIGKILL), when known.
	Signal    string `json:"signal,omitempty"`
	SignalNum int    `json:"signal_num,omitempty"`
	CoreDump  bool   `json:"core_dumped,omitempty"`
	// UptimeS is how long the process ran, from its start to the notice.
	UptimeS float64 `json:"uptime_s"`
	// OOMKilled says whether the kernel's log names this process as the
	// OOM killer's victim. It is present only when the host's OOM kill
	// counter rose since the process's last sample and the log could be
	// read (else Sample.Unavailable["exit.oom_killed"] says why).
	OOMKilled *bool `json:"oom_killed,omitempty"`
	// OOMKernelMsg is the kernel's line that names it, when OOMKilled.
	OOMKernelMsg string `json:"oom_kernel_msg,omitempty"`
}

// Exit notice methods.
const (
	NoticedPidfd  = "pidfd"
	NoticedWait   = "wait"
	NoticedZombie = "zombie"
	NoticedGone   = "gone"
	NoticedReused = "reused"
	// NoticedDockerEvent: a container's death, told by the Docker
	// daemon's die event as it happened.
	NoticedDockerEvent = "docker_event"
	// NoticedDockerInspect: a container's death found by inspecting it
	// (the daemon was away when it died, or its event is still on its way).
	NoticedDockerInspect = "docker_inspect"
)

// Container is what the Docker daemon says of a container target: its
// identity, state and limits, and on a death how it ended. Times and
// counts are Docker's own.
type Container struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Image string `json:"image,omitempty"`
	// ComposeProject and ComposeService are its com.docker.compose.project
	// and com.docker.compose.service labels.
	ComposeProject string `json:"compose_project,omitempty"`
	ComposeService string `json:"compose_service,omitempty"`
	// State is Docker's: created, running, paused, restarting, removing,
	// exited or dead.
	State string `json:"state"`
	// Health is the health check's status (starting, healthy, unhealthy),
	// absent without a health check.
	Health string `json:"health,omitempty"`
	// HealthOutput is the last health check's output while unhealthy.
	HealthOutput string `json:"health_output,omitempty"`
	// RestartCount is how often Docker's restart policy restarted it.
	RestartCount int   `json:"restart_count"`
	StartedAt    *Time `json:"started_at,omitempty"`
	// MemoryLimitBytes is its memory limit (docker run --memory), when set.
	MemoryLimitBytes *uint64 `json:"memory_limit_bytes,omitempty"`
	// ExitCode and OOMKilled are Docker's account of its last end, given
	// on the sample that reports a death.
	ExitCode  *int  `json:"exit_code,omitempty"`
	OOMKilled *bool `json:"oom_killed,omitempty"`
}

// Sample is one observation of one process (or of its absence) and the host.
type Sample struct {
	Header
	Target string `json:"target"`
	Seq    uint64 `json:"seq"`
	Up     bool   `json:"up"`
	// Matches is how many processes the target matched at this tick.
	Matches int      `json:"matches"`
	Process *Process `json:"process,omitempty"`
	// Container is the container a container target watches; its main
	// process is Process.
	Container *Container `json:"container,omitempty"`
	// Pod is the pod a pod target watches (sre-sample --pod); such a
	// sample has no process: the pod's containers run on a node of the
	// cluster, and are known by what the API says of them.
	Pod    *Pod    `json:"pod,omitempty"`
	System *System `json:"system,omitempty"`
	Exit   *Exit   `json:"exit,omitempty"`
	// Unavailable maps a field path (process.fds) to why it is absent.
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// Validate checks a sample's own rules.
func (s *Sample) Validate() error {
	if err := s.Header.Validate(); err != nil {
		return err
	}
	switch {
	case s.Kind != KindSample:
		return invalid("kind %q: want sample", s.Kind)
	case s.Target == "":
		return invalid("target: missing")
	case s.Up && s.Process == nil && s.Pod == nil:
		return invalid("up sample without process")
	case s.Up && s.Exit != nil:
		return invalid("up sample with exit")
	case s.Exit != nil && s.Process != nil && s.Exit.PID != s.Process.PID:
		return invalid("exit.pid %d differs from process.pid %d", s.Exit.PID, s.Process.PID)
	}
	if s.Process != nil && s.Process.PID <= 0 {
		return invalid("process.pid %d: must be > 0", s.Process.PID)
	}
	return nil
}

// Severity levels of an event.
const (
	SevCritical = "critical"
	SevWarning  = "warning"
	SevInfo     = "info"
)

// Event is something a person may need to know about a target.
type Event struct {
	Header
	ID       string         `json:"id"`
	Type     string         `json:"type"`
	Severity string         `json:"severity"`
	Target   string         `json:"target"`
	Msg      string         `json:"msg"`
	Process  *Process       `json:"process,omitempty"`
	System   *System        `json:"system,omitempty"`
	Detail   map[string]any `json:"detail,omitempty"`
	// Report is the path of the forensic report written for this event.
	Report string `json:"report,omitempty"`
}

// Validate checks an event's own rules.
func (e *Event) Validate() error {
	if err := e.Header.Validate(); err != nil {
		return err
	}
	switch {
	case e.Kind != KindEvent:
		return invalid("kind %q: want event", e.Kind)
	case e.ID == "":
		return invalid("id: missing")
	case e.Type == "":
		return invalid("type: missing")
	case e.Severity != SevCritical && e.Severity != SevWarning && e.Severity != SevInfo:
		return invalid("severity %q: want critical, warning or info", e.Severity)
	case e.Target == "":
		return invalid("target: missing")
	case strings.TrimSpace(e.Msg) == "":
		return invalid("msg: missing")
	}
	return nil
}

// Action results.
const (
	ResultPlanned = "planned"
	ResultOK      = "ok"
	ResultFailed  = "failed"
	ResultSkipped = "skipped"
	ResultGaveUp  = "gave_up"
)

// Action is what sre-heal did, or would do, about an event.
type Action struct {
	Header
	Rule        string   `json:"rule"`
	Action      string   `json:"action"`
	EventID     string   `json:"event_id"`
	Target      string   `json:"target,omitempty"`
	DryRun      bool     `json:"dry_run"`
	Attempt     int      `json:"attempt"`
	MaxAttempts int      `json:"max_attempts"`
	DelayS      float64  `json:"delay_s"`
	Argv        []string `json:"argv,omitempty"`
	PID         int      `json:"pid,omitempty"`
	Result      string   `json:"result"`
	Error       string   `json:"error,omitempty"`
	// Evidence names the files kept before the action (a container's
	// logs and inspect), in the report directory.
	Evidence []string `json:"evidence,omitempty"`
}

// Validate checks an action's own rules.
func (a *Action) Validate() error {
	if err := a.Header.Validate(); err != nil {
		return err
	}
	if a.Kind != KindAction {
		return invalid("kind %q: want action", a.Kind)
	}
	switch a.Result {
	case ResultPlanned, ResultOK, ResultFailed, ResultSkipped, ResultGaveUp:
	default:
		return invalid("result %q: unknown", a.Result)
	}
	if a.Rule == "" || a.Action == "" {
		return invalid("rule and action: required")
	}
	return nil
}

// Score is a target's stability over one window.
type Score struct {
	Header
	Target       string         `json:"target"`
	Window       string         `json:"window"`
	Crashes      int            `json:"crashes"`
	Restarts     int            `json:"restarts"`
	OOMKills     int            `json:"oom_kills"`
	UptimeS      float64        `json:"uptime_s"`
	DowntimeS    float64        `json:"downtime_s"`
	MTBFS        *float64       `json:"mtbf_s,omitempty"`
	MTTRS        *float64       `json:"mttr_s,omitempty"`
	Availability *float64       `json:"availability,omitempty"`
	Score        float64        `json:"score"`
	Explain      map[string]any `json:"explain,omitempty"`
}

// Stat is min/avg/max of one measure over a summary period.
type Stat struct {
	Min float64 `json:"min"`
	Avg float64 `json:"avg"`
	Max float64 `json:"max"`
}

// Summary is the trend of one target over one period.
type Summary struct {
	Header
	Target  string  `json:"target"`
	From    Time    `json:"from"`
	To      Time    `json:"to"`
	Samples int     `json:"samples"`
	CPUPct  *Stat   `json:"cpu_pct,omitempty"`
	RSS     *Stat   `json:"rss_bytes,omitempty"`
	Threads *Stat   `json:"threads,omitempty"`
	FDs     *Stat   `json:"fds,omitempty"`
	Slope   float64 `json:"rss_slope_bytes_per_s"`
}

// Notice is a tool's own operational message, as data.
type Notice struct {
	Header
	Code   string         `json:"code"`
	Msg    string         `json:"msg"`
	Detail map[string]any `json:"detail,omitempty"`
}
