package detect

import "github.com/localsre/sre-agent/internal/event"

// Sample is the part of a sample record the detectors use: the wire
// format's own view of it (event.SampleView), read without building the
// whole record.
type Sample = event.SampleView

// opt is a field that may be absent: absent is not zero (DESIGN §3).
type opt[T any] = event.Opt[T]

func some[T any](v T) opt[T] { return event.Some(v) }
