package procfs

import "testing"

func TestParseKmsgRecord(t *testing.T) {
	for _, tt := range []struct {
		in   string
		usec uint64
		msg  string
		ok   bool
	}{
		{"6,339,5140900,-;Out of memory: Killed process 42 (api)", 5140900, "Out of memory: Killed process 42 (api)", true},
		{"6,339,5140900,-,caller=T1;msg\n SUBSYSTEM=x", 5140900, "msg", true},
		{"6,339,5140900,-;", 5140900, "", true},
		{" SUBSYSTEM=memory", 0, "", false},
		{"6,339,x,-;msg", 0, "", false},
		{"6,339;msg", 0, "", false},
		{"no semicolon", 0, "", false},
		{"", 0, "", false},
	} {
		usec, msg, ok := ParseKmsgRecord([]byte(tt.in))
		if usec != tt.usec || msg != tt.msg || ok != tt.ok {
			t.Errorf("%q: %d %q %v, want %d %q %v", tt.in, usec, msg, ok, tt.usec, tt.msg, tt.ok)
		}
	}
}
