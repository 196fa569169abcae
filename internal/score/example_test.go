package score_test

import (
	"fmt"
	"time"

	"github.com/localsre/sre-agent/internal/score"
)

// One crash in a 7-day window, 10 minutes down: the terms of the score.
func ExampleCompute() {
	observed := 7 * 86400.0
	down := 600.0
	s, e := score.Compute((observed-down)/observed, 1, observed, down)
	fmt.Printf("score %.2f = 100 − %.2f (downtime) − %.2f (failures)\n", s, e.LostDowntime, e.LostFailures)
	// Output: score 87.41 = 100 − 0.10 (downtime) − 12.49 (failures)
}

func ExampleAggregator() {
	at := time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)
	w, _ := score.ParseWindows("24h")
	agg := score.New(w, at)
	agg.Add(&score.Rec{Kind: "event", Type: "started", Target: "web", TS: at.Add(-48 * time.Hour)})
	agg.Add(&score.Rec{Kind: "event", Type: "crash", ID: "c1", Target: "web", TS: at.Add(-time.Hour)})
	for _, r := range agg.Snapshot(at).Results {
		fmt.Printf("%s %s: %d failure, %.0fs down (open), score %.2f\n", r.Target, r.Window, r.Failures, r.DowntimeS, r.Score)
	}
	// Output: web 24h: 1 failure, 3600s down (open), score 47.92
}

// The worked example of docs/score.md.
func ExampleAggregator_Snapshot() {
	at := time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)
	w, _ := score.ParseWindows("1h,24h,7d")
	agg := score.New(w, at)
	crash2h, down := at.Add(-2*time.Hour), 600.0
	for _, r := range []score.Rec{
		{Kind: "event", Type: "started", Target: "web", TS: at.Add(-8 * 24 * time.Hour)},
		{Kind: "event", Type: "crash", ID: "c1", Target: "web", TS: crash2h},
		{Kind: "event", Type: "recovered", Target: "web", TS: crash2h.Add(10 * time.Minute), CrashID: "c1", DownSince: &crash2h, DowntimeS: &down},
		{Kind: "event", Type: "crash", ID: "c2", Target: "web", TS: at.Add(-30 * time.Minute)},
	} {
		agg.Add(&r)
	}
	for _, r := range agg.Snapshot(at).Results {
		fmt.Printf("%-3s down %5.0fs MTBF %6.0fs MTTR %4.0fs availability %.6f lost %5.2f + %5.2f score %.2f\n", r.Window, r.DowntimeS,
			*r.MTBFS, *r.MTTRS, r.Availability, r.Explain.LostDowntime, r.Explain.LostFailures, r.Score)
	}
	// Output:
	// 1h  down  1800s MTBF   1800s MTTR 1800s availability 0.500000 lost 50.00 + 25.00 score 25.00
	// 24h down  2400s MTBF  42000s MTTR 1200s availability 0.972222 lost  2.78 + 64.81 score 32.41
	// 7d  down  2400s MTBF 301200s MTTR 1200s availability 0.996032 lost  0.40 + 22.13 score 77.47
}
