package score

import "github.com/localsre/sre-agent/internal/event"

// Rec is the part of an archive record the score reads: the wire format's
// own view of it (event.RecordView).
type Rec = event.RecordView

// Decode reads the fields of one record of kind. Kinds the score does not
// use return ok false and no error.
func Decode(kind string, raw []byte) (r Rec, ok bool, err error) {
	return event.ReadRecord(kind, raw, nil)
}
