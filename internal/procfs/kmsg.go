package procfs

import (
	"bytes"
	"strconv"
)

// ParseKmsgRecord splits one /dev/kmsg record, "6,339,5140900,-;message",
// into the microseconds after boot and the message's first line. A
// continuation line (" SUBSYSTEM=…", starting with a space) and anything
// not in that form give ok false.
func ParseKmsgRecord(rec []byte) (usec uint64, msg string, ok bool) {
	if len(rec) == 0 || rec[0] == ' ' {
		return 0, "", false
	}
	if i := bytes.IndexByte(rec, '\n'); i >= 0 {
		rec = rec[:i]
	}
	head, body, ok := bytes.Cut(rec, []byte{';'})
	if !ok {
		return 0, "", false
	}
	f := bytes.SplitN(head, []byte{','}, 4)
	if len(f) < 3 {
		return 0, "", false
	}
	usec, err := strconv.ParseUint(string(f[2]), 10, 64)
	if err != nil {
		return 0, "", false
	}
	return usec, string(body), true
}
