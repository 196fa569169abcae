package score

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// Rec is the part of an archive record the score reads.
type Rec struct {
	Kind   string
	TS     time.Time
	ID     string
	Type   string
	Target string
	// recovered
	CrashID   string
	DownSince *time.Time
	DowntimeS *float64
	// started: the process's start (detail.process_start)
	UpSince *time.Time
	// oom_kill: detail.scope; "host" is a kill somewhere on the host, which
	// older sre-detect builds told as an event of whichever target's sample
	// showed it, and which counts for no target.
	Scope string
	// crash: detail.oom_killed, the kernel's OOM killer ended it (docs/detect.md)
	OOMKilled bool
	// action
	Rule, Action, Result string
	DryRun               bool
	// summary
	RSSAvg, Slope *float64
}

type leanDetail struct {
	DowntimeS    *float64    `json:"downtime_s"`
	CrashID      string      `json:"crash_id"`
	DownSince    *event.Time `json:"down_since"`
	ProcessStart *event.Time `json:"process_start"`
	Scope        string      `json:"scope"`
	OOMKilled    bool        `json:"oom_killed"`
}

type lean struct {
	TS     event.Time `json:"ts"`
	ID     string     `json:"id"`
	Type   string     `json:"type"`
	Target string     `json:"target"`
	// Detail is decoded only for recovered events: a crash's detail carries
	// its sample history, the bulk of the archive.
	Detail json.RawMessage `json:"detail"`
	Rule   string          `json:"rule"`
	Action string          `json:"action"`
	Result string          `json:"result"`
	DryRun bool            `json:"dry_run"`
	RSS    *event.Stat     `json:"rss_bytes"`
	Slope  *float64        `json:"rss_slope_bytes_per_s"`
}

// Decode reads the fields of one record of kind. Kinds the score does not
// use return ok false and no error.
func Decode(kind string, raw []byte) (r Rec, ok bool, err error) {
	return decode(kind, raw, nil)
}

func decode(kind string, raw []byte, in interner) (r Rec, ok bool, err error) {
	switch kind {
	case event.KindEvent, event.KindAction, event.KindSummary:
	default:
		return r, false, nil
	}
	if err := decodeFast(kind, raw, &r, in); err == nil {
		return r, true, nil
	} else if !errors.Is(err, errSlow) {
		return Rec{}, false, fmt.Errorf("decode %s: %w", kind, err)
	}
	r = Rec{}
	var l lean
	if err := json.Unmarshal(raw, &l); err != nil {
		return r, false, fmt.Errorf("decode %s: %w", kind, err)
	}
	r = Rec{Kind: kind, TS: l.TS.Time, ID: l.ID, Type: l.Type, Target: l.Target,
		Rule: l.Rule, Action: l.Action, Result: l.Result, DryRun: l.DryRun, Slope: l.Slope}
	if l.RSS != nil {
		v := l.RSS.Avg
		r.RSSAvg = &v
	}
	if kind == event.KindEvent && (l.Type == TypeRecovered || l.Type == TypeStarted || l.Type == TypeOOMKill || l.Type == TypeCrash) && len(l.Detail) > 0 && string(l.Detail) != "null" {
		var d leanDetail
		if err := json.Unmarshal(l.Detail, &d); err != nil {
			return r, false, fmt.Errorf("decode %s detail: %w", l.Type, err)
		}
		if l.Type == TypeStarted {
			if d.ProcessStart != nil {
				t := d.ProcessStart.Time
				r.UpSince = &t
			}
			return r, true, nil
		}
		r.Scope, r.OOMKilled, r.CrashID, r.DowntimeS = d.Scope, d.OOMKilled, d.CrashID, d.DowntimeS
		if d.DownSince != nil {
			t := d.DownSince.Time
			r.DownSince = &t
		}
	}
	return r, true, nil
}
