// Package report writes the forensic reports and the event archive of a
// report directory, and reads them back: listing, showing and verifying.
//
// A report is plain text in a fixed section order with grep-friendly
// "Key: value" lines. It is written once (temp file, fsync, rename without
// replacing, fsync of the directory, mode 0444) and records the SHA-256 of
// the report before it, so Verify can prove that nothing was altered,
// removed or inserted. The archive, events.ndjson, is append-only; every
// event, action and notice goes there, and a critical record is fsync'd
// before the stream moves on.
package report
