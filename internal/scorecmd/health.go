package scorecmd

import (
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/ndjson"
	"github.com/localsre/sre-agent/internal/score"
)

// The exporter's own metrics: whether its source can be read, so that an
// archive gone missing or unreadable is not an empty, healthy-looking
// answer (docs/score.md).
var (
	descArchiveUp = prometheus.NewDesc("sre_archive_up",
		"1 when the archive could be read at this scrape, 0 when it is missing or unreadable (the figures are then those read before).",
		[]string{"archive"}, nil)
	descArchiveRead = prometheus.NewDesc("sre_archive_last_read_timestamp_seconds",
		"Time of the last scrape that could read the archive, in seconds since the Unix epoch.",
		[]string{"archive"}, nil)
	descArchiveSkipped = prometheus.NewDesc("sre_archive_lines_skipped_total",
		"Archive lines skipped, by reason, since the archive was last read from its start.",
		[]string{"archive", "reason"}, nil)
	descBuild = prometheus.NewDesc("sre_build_info",
		"A constant 1 labelled with the build of sre-score serving these metrics.",
		[]string{"version", "revision", "goversion"}, nil)
)

// skipReasons are every reason a line is skipped for, each exposed from
// the start so that the first skip is an increase.
var skipReasons = []string{ndjson.SkipBadJSON, ndjson.SkipNoVersion, ndjson.SkipNoKind, ndjson.SkipNewer,
	ndjson.SkipOversize, ndjson.SkipPartial, score.SkipBadRecord}

// archiveState is one archive's health at a scrape.
type archiveState struct {
	path     string
	up       bool
	lastRead time.Time
	skipped  map[string]int64
}

// exporterCollector is what --listen serves: the score metrics and the
// exporter's own, from one read of the archives per scrape.
type exporterCollector struct{ f *follower }

var _ prometheus.Collector = exporterCollector{}

func (exporterCollector) Describe(ch chan<- *prometheus.Desc) {
	score.Collector{}.Describe(ch)
	for _, d := range []*prometheus.Desc{descArchiveUp, descArchiveRead, descArchiveSkipped, descBuild} {
		ch <- d
	}
}

func (c exporterCollector) Collect(ch chan<- prometheus.Metric) {
	snap, states := c.f.snapshot()
	score.Collector{Get: func() score.Snapshot { return snap }}.Collect(ch)
	for _, st := range states {
		l := strings.ToValidUTF8(st.path, "\uFFFD")
		up := 0.0
		if st.up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descArchiveUp, prometheus.GaugeValue, up, l)
		if !st.lastRead.IsZero() {
			ch <- prometheus.MustNewConstMetric(descArchiveRead, prometheus.GaugeValue, float64(st.lastRead.UnixNano())/1e9, l)
		}
		reasons := append([]string(nil), skipReasons...)
		for r := range st.skipped {
			if !slices.Contains(reasons, r) {
				reasons = append(reasons, r)
			}
		}
		slices.Sort(reasons)
		for _, r := range reasons {
			ch <- prometheus.MustNewConstMetric(descArchiveSkipped, prometheus.CounterValue, float64(st.skipped[r]), l, r)
		}
	}
	ch <- prometheus.MustNewConstMetric(descBuild, prometheus.GaugeValue, 1, buildVersion, buildRevision, runtime.Version())
}

// buildVersion and buildRevision are sre_build_info's labels: they never
// change while the exporter runs.
var buildVersion, buildRevision = cli.Build()
