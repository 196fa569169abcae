// Package dashboard is the read-only web view of a report directory: a
// timeline of each target's up and down time, the incident history with
// each incident's report, its chain status and the heal actions taken for
// it, and trend graphs of memory, CPU, threads and descriptors. It reads
// the directory and its archive (events.ndjson, rotated and compressed
// ones too) as they grow, and can change nothing: it serves GET and HEAD
// only, and nothing it serves writes, signals or runs anything.
package dashboard
