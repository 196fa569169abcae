package cli_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/localsre/sre-agent/internal/cli"
)

func TestCheckListen(t *testing.T) {
	tests := []struct {
		addr   string
		remote bool
		host   string // "" when refused
	}{
		{"127.0.0.1:9478", false, "127.0.0.1"},
		{"[::1]:9478", false, "::1"},
		{"localhost:9478", false, "localhost"},
		{"127.0.0.2:0", false, "127.0.0.2"},
		{"0.0.0.0:9478", false, ""},
		{":9478", false, ""},
		{"[::]:9478", false, ""},
		{"192.0.2.10:9478", false, ""},
		{"192.0.2.10:9478", true, "192.0.2.10"},
		{"[2001:db8::1]:9478", true, "2001:db8::1"},
		{"0.0.0.0:9478", true, ""},
		{"[::]:9478", true, ""},
		{":9478", true, ""},
		{"example.com:9478", true, ""},
		{"9478", false, ""},
		{"", false, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s remote=%v", tt.addr, tt.remote), func(t *testing.T) {
			host, err := cli.CheckListen(tt.addr, "127.0.0.1:9478", tt.remote)
			if (err == nil) != (tt.host != "") {
				t.Fatalf("err %v, want ok %v", err, tt.host != "")
			}
			if err != nil {
				if cli.ExitCode(err) != cli.ExitUsage {
					t.Errorf("exit %d, want 2", cli.ExitCode(err))
				}
				if !strings.HasPrefix(err.Error(), "--listen ") {
					t.Errorf("error %q does not name --listen", err)
				}
				return
			}
			if host != tt.host {
				t.Errorf("host %q, want %q", host, tt.host)
			}
		})
	}
}

func TestHostAllowed(t *testing.T) {
	allowed := cli.HostAllowed("192.0.2.10", "dash.example.org", "2001:db8::1")
	tests := []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:9479", true},
		{"127.0.0.1", true},
		{"127.1.2.3:80", true},
		{"localhost:9479", true},
		{"LocalHost", true},
		{"[::1]:9479", true},
		{"[::1]", true},
		{"192.0.2.10:9479", true},
		{"dash.example.org", true},
		{"DASH.example.org:443", true},
		{"[2001:DB8:0::1]:9479", true},
		{"evil.example", false},
		{"evil.example:9479", false},
		{"localhost.evil.example", false},
		{"dash.example.org.evil.example", false},
		{"192.0.2.11", false},
		{"", false},
		{":9479", false},
		{"[]:9479", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			if got := allowed(tt.host); got != tt.ok {
				t.Errorf("HostAllowed(%q) = %v, want %v", tt.host, got, tt.ok)
			}
		})
	}
	if cli.HostAllowed()("192.0.2.10") {
		t.Error("a host allowed without being named")
	}
}
