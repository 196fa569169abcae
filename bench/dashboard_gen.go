//go:build ignore

// dashboard_gen fills a report directory for bench/dashboard.sh: EVENTS
// events over 30 days for 20 targets (started, crash, recovered,
// memory_high, leak_suspected, restarted), REPORTS of the crashes with a
// real report written through the report directory's own writer (so the
// chain verifies), a heal action for each report, and a summary per target
// every 15 minutes. Usage: go run bench/dashboard_gen.go DIR EVENTS REPORTS
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/report"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: dashboard_gen DIR EVENTS REPORTS")
		os.Exit(2)
	}
	dir := os.Args[1]
	events, err1 := strconv.Atoi(os.Args[2])
	reports, err2 := strconv.Atoi(os.Args[3])
	if err1 != nil || err2 != nil || reports > events {
		fmt.Fprintln(os.Stderr, "dashboard_gen: EVENTS and REPORTS: numbers, REPORTS <= EVENTS")
		os.Exit(2)
	}
	if err := run(dir, events, reports); err != nil {
		fmt.Fprintln(os.Stderr, "dashboard_gen:", err)
		os.Exit(1)
	}
}

func run(dir string, events, reports int) error {
	// Lines without a report are written straight to the archive, in
	// time order with the reports' own records: this generator is the only
	// writer.
	rd, err := report.Open(dir)
	if err != nil {
		return err
	}
	defer rd.Close()
	end := time.Now().UTC().Truncate(time.Second)
	start := end.Add(-30 * 24 * time.Hour)
	step := end.Sub(start) / time.Duration(events)
	every := max(events/max(reports, 1), 1)
	const targets = 20
	proc := &event.Process{PID: 4242, PPID: 1, Name: "app", Exe: "/usr/bin/app", User: "app", State: "S",
		CPUTimeS: 12.5, RSSBytes: 104857600, VMSBytes: 524288000, Threads: 12}
	total, avail, load := uint64(8589934592), uint64(4294967296), 0.42
	sys := &event.System{MemTotalBytes: &total, MemAvailableBytes: &avail, Load1: &load}
	var buf []byte
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		err := rd.AppendArchive(buf[:len(buf)-1], false)
		buf = buf[:0]
		return err
	}
	add := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		buf = append(append(buf, b...), '\n')
		if len(buf) > 1<<20 {
			return flush()
		}
		return nil
	}
	lastCrash := map[int]*event.Event{}
	nextSummary := start
	written := 0
	for i := range events {
		ts := start.Add(time.Duration(i) * step)
		for ; nextSummary.Before(ts); nextSummary = nextSummary.Add(15 * time.Minute) {
			for t := range targets {
				rss := float64(100<<20 + t<<20)
				if err := add(&event.Summary{Header: event.NewHeader(event.KindSummary, "sre-detect", "box", nextSummary),
					Target: name(t), From: event.Time{Time: nextSummary.Add(-time.Minute)}, To: event.Time{Time: nextSummary}, Samples: 60,
					RSS: &event.Stat{Min: rss, Avg: rss, Max: rss}, CPUPct: &event.Stat{Min: 1, Avg: 2, Max: 5},
					Threads: &event.Stat{Min: 12, Avg: 12, Max: 12}, FDs: &event.Stat{Min: 30, Avg: 31, Max: 33}}); err != nil {
					return err
				}
			}
		}
		t := (i + i/targets) % targets // so that the crashes (every REPORTS-th event) fall on every target in turn
		e := &event.Event{Header: event.NewHeader(event.KindEvent, "sre-detect", "box", ts), ID: fmt.Sprintf("e%07d", i),
			Target: name(t), Process: proc, System: sys}
		switch {
		case i%every == 0 && written < reports:
			e.Type, e.Severity, e.Msg = event.TypeCrash, event.SevCritical, fmt.Sprintf("app (pid 4242) of %s was killed by SIGKILL after 1h up.", e.Target)
			if err := flush(); err != nil {
				return err
			}
			id := short(e.ID)
			r := &report.Report{Event: e, ShortID: id, Name: report.FileName(ts, e.Target, e.Type, id), WrittenAt: ts}
			var action []byte
			if _, _, _, err := rd.Write(r, func(path, sum string) [][]byte {
				e.Report = path
				b, _ := json.Marshal(e)
				n := event.Notice{Header: event.NewHeader(event.KindNotice, "sre-report", "box", ts), Code: report.NoticeReportWritten,
					Msg: "report written", Detail: map[string]any{"name": filepath.Base(path), "path": path, "sha256": sum, "event_id": e.ID}}
				nb, _ := json.Marshal(&n)
				a := event.Action{Header: event.NewHeader(event.KindAction, "sre-heal", "box", ts.Add(time.Second)), Rule: "restart-" + e.Target,
					Action: "restart", EventID: e.ID, Target: e.Target, Attempt: 1, MaxAttempts: 3, Result: event.ResultOK,
					Argv: []string{"systemctl", "restart", e.Target}}
				action, _ = json.Marshal(&a)
				return [][]byte{b, nb}
			}); err != nil {
				return err
			}
			written++
			lastCrash[t] = e
			buf = append(append(buf, action...), '\n')
			continue
		case lastCrash[t] != nil:
			c := lastCrash[t]
			e.Type, e.Severity, e.Msg = event.TypeRecovered, event.SevInfo, e.Target+" is back."
			e.Detail = map[string]any{"crash_id": c.ID, "down_since": c.TS.Format(time.RFC3339Nano), "downtime_s": ts.Sub(c.TS.Time).Seconds()}
			e.Process, e.System = nil, nil
			delete(lastCrash, t)
		case i%7 == 0:
			e.Type, e.Severity, e.Msg = "memory_high", event.SevWarning, e.Target+" uses 100 MiB, over its 90 MiB."
		case i%11 == 0:
			e.Type, e.Severity, e.Msg = "leak_suspected", event.SevWarning, e.Target+" may leak: RSS grows 1 MiB/s."
		case i%13 == 0:
			e.Type, e.Severity, e.Msg = event.TypeRestarted, event.SevWarning, e.Target+" was restarted."
		default:
			e.Type, e.Severity, e.Msg = event.TypeStarted, event.SevInfo, e.Target+" is up."
			e.System = nil
		}
		if err := add(e); err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stderr)
	fmt.Fprintf(w, "dashboard_gen: %d events, %d reports in %s\n", events, written, dir)
	return w.Flush()
}

func name(t int) string { return fmt.Sprintf("svc-%02d", t) }

func short(id string) string {
	s := sha256.Sum256([]byte(id))
	return hex.EncodeToString(s[:4])
}
