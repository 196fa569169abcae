package score

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/localsre/sre-agent/internal/forensics"
)

var (
	descCrashes = prometheus.NewDesc("sre_crashes_total",
		"Crash events of the target in the archive.", []string{"target"}, nil)
	descOOM = prometheus.NewDesc("sre_oom_kills_total",
		"OOM kills of the target in the archive: oom_kill events and crashes the kernel's OOM killer caused.", []string{"target"}, nil)
	descActions = prometheus.NewDesc("sre_heal_actions_total",
		"sre-heal actions on the target in the archive, by rule, action and result.",
		[]string{"target", "rule", "action", "result"}, nil)
	descLastCrash = prometheus.NewDesc("sre_last_crash_timestamp_seconds",
		"Time of the target's latest crash, in seconds since the Unix epoch.", []string{"target"}, nil)
	descRSS = prometheus.NewDesc("sre_process_resident_memory_bytes",
		"Average resident memory of the target over its latest summary period.", []string{"target"}, nil)
	descSlope = prometheus.NewDesc("sre_process_resident_memory_slope_bytes_per_second",
		"Least-squares slope of the target's resident memory over its latest summary period.", []string{"target"}, nil)
	descMTBF = prometheus.NewDesc("sre_mtbf_seconds",
		"Mean time between failures in the window: uptime / failures.", []string{"target", "window"}, nil)
	descMTTR = prometheus.NewDesc("sre_mttr_seconds",
		"Mean time to recovery in the window: downtime / incidents.", []string{"target", "window"}, nil)
	descAvail = prometheus.NewDesc("sre_availability_ratio",
		"Uptime / observed time in the window.", []string{"target", "window"}, nil)
	descScore = prometheus.NewDesc("sre_stability_score",
		"Stability score 0-100 in the window (docs/score.md).", []string{"target", "window"}, nil)
	descFailures = prometheus.NewDesc("sre_window_failures",
		"Crash and restarted events in the window.", []string{"target", "window"}, nil)
	descDowntime = prometheus.NewDesc("sre_downtime_seconds",
		"Downtime in the window.", []string{"target", "window"}, nil)
)

// Label returns a target as a label value: secrets redacted, at most 128
// bytes, and never a command line — only its first word is kept.
func Label(target string) string {
	s := forensics.RedactLine(target)
	if i := strings.IndexAny(s, " \t\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 128 {
		s = s[:128]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// Collector exposes the snapshot that Get returns as Prometheus metrics.
type Collector struct{ Get func() Snapshot }

var _ prometheus.Collector = Collector{}

// Describe sends every metric description.
func (Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCrashes, descOOM, descActions, descLastCrash, descRSS,
		descSlope, descMTBF, descMTTR, descAvail, descScore, descFailures, descDowntime} {
		ch <- d
	}
}

// Collect sends the metrics of one snapshot.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.Get()
	for _, t := range s.Totals {
		l := Label(t.Target)
		if l == "" {
			continue
		}
		ch <- prometheus.MustNewConstMetric(descCrashes, prometheus.CounterValue, float64(t.Crashes), l)
		ch <- prometheus.MustNewConstMetric(descOOM, prometheus.CounterValue, float64(t.OOMKills), l)
		keys := make([]ActionKey, 0, len(t.Actions))
		for k := range t.Actions {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			ch <- prometheus.MustNewConstMetric(descActions, prometheus.CounterValue, float64(t.Actions[k]),
				l, Label(k.Rule), Label(k.Action), Label(k.Result))
		}
		if !t.LastCrash.IsZero() {
			ch <- prometheus.MustNewConstMetric(descLastCrash, prometheus.GaugeValue,
				float64(t.LastCrash.UnixNano())/1e9, l)
		}
		if t.RSSBytes != nil {
			ch <- prometheus.MustNewConstMetric(descRSS, prometheus.GaugeValue, *t.RSSBytes, l)
		}
		if t.RSSSlope != nil {
			ch <- prometheus.MustNewConstMetric(descSlope, prometheus.GaugeValue, *t.RSSSlope, l)
		}
	}
	for _, r := range s.Results {
		l := Label(r.Target)
		if l == "" {
			continue
		}
		if r.MTBFS != nil {
			ch <- prometheus.MustNewConstMetric(descMTBF, prometheus.GaugeValue, *r.MTBFS, l, r.Window)
		}
		if r.MTTRS != nil {
			ch <- prometheus.MustNewConstMetric(descMTTR, prometheus.GaugeValue, *r.MTTRS, l, r.Window)
		}
		ch <- prometheus.MustNewConstMetric(descAvail, prometheus.GaugeValue, r.Availability, l, r.Window)
		ch <- prometheus.MustNewConstMetric(descScore, prometheus.GaugeValue, r.Score, l, r.Window)
		ch <- prometheus.MustNewConstMetric(descFailures, prometheus.GaugeValue, float64(r.Failures), l, r.Window)
		ch <- prometheus.MustNewConstMetric(descDowntime, prometheus.GaugeValue, r.DowntimeS, l, r.Window)
	}
}

// Registry returns a registry holding only the score metrics of get.
func Registry(get func() Snapshot) *prometheus.Registry {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(Collector{Get: get})
	return reg
}

// WriteText writes s in the Prometheus text exposition format.
func WriteText(w io.Writer, s Snapshot) error {
	mfs, err := Registry(func() Snapshot { return s }).Gather()
	if err != nil {
		return fmt.Errorf("gather metrics: %w", err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("write metrics: %w", err)
		}
	}
	return nil
}
