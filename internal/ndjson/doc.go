// Package ndjson reads and writes the newline-delimited JSON stream between
// the sre-* tools. The Reader bounds memory per line, numbers lines, and skips
// and counts what it cannot use; the Writer emits one whole record per write
// so a downstream stage sees each record at once, and reports a closed
// downstream as ErrClosed so the tool can stop quietly.
package ndjson
