// Package score turns the event archive into stability figures per target
// and rolling window: crashes, heal restarts, OOM kills, uptime, downtime,
// MTBF, MTTR, availability and a 0–100 score whose every term is explained
// (docs/score.md). It reads records one at a time and keeps only what the
// windows need, and renders the result as score records or Prometheus
// metrics.
package score
