package sampler

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMatchesName(t *testing.T) {
	const long = "my-long-service-name" // comm keeps "my-long-service"
	tests := []struct {
		name     string
		target   string
		comm     string
		args     []string
		exe      string // "" with noExe: exe is nil
		noExe    bool
		want     bool
		wantExec bool // whether the exe link was read
	}{
		{name: "comm equal", target: "nginx", comm: "nginx", args: []string{"nginx: worker process"}, exe: "/usr/sbin/nginx", want: true},
		{name: "comm equal without args (kernel thread)", target: "kthreadd", comm: "kthreadd", noExe: true, want: true},
		{name: "comm truncated, argv[0] full", target: long, comm: "my-long-service", args: []string{long, "--port", "80"}, exe: "/opt/" + long, want: true},
		{name: "argv[0] with a path", target: "app", comm: "main", args: []string{"/srv/bin/app", "-v"}, exe: "/srv/bin/app", want: true},
		{name: "argv[0] relative path", target: "app", comm: "app-wrapper", args: []string{"./bin/app"}, exe: "/srv/bin/app", want: true},
		{name: "interpreter script", target: "app.py", comm: "python3", args: []string{"python3", "/srv/app.py"}, exe: "/usr/bin/python3.11", want: true},
		{name: "interpreter script after options", target: "app.py", comm: "python3", args: []string{"/usr/bin/python3.11", "-u", "-B", "/srv/app.py", "--port", "80"}, exe: "/usr/bin/python3.11", want: true},
		{name: "node script", target: "server.js", comm: "node", args: []string{"node", "--max-old-space-size=4096", "server.js"}, exe: "/usr/bin/node", want: true},
		{name: "shell script", target: "run.sh", comm: "bash", args: []string{"/bin/bash", "/opt/run.sh"}, exe: "/usr/bin/bash", want: true},
		{name: "java jar", target: "app.jar", comm: "java", args: []string{"java", "-jar", "/srv/app.jar"}, exe: "/usr/lib/jvm/bin/java", want: true},
		{name: "interpreter: only the first non-option counts", target: "app.py", comm: "python3", args: []string{"python3", "/srv/other.py", "app.py"}, exe: "/usr/bin/python3", want: false},
		{name: "interpreter named alone", target: "python3", comm: "python3", args: []string{"python3", "/srv/app.py"}, exe: "/usr/bin/python3", want: true},
		{name: "not an interpreter: arguments do not count", target: "app.py", comm: "cat", args: []string{"/usr/bin/cat", "app.py"}, exe: "/usr/bin/cat", want: false},
		{name: "a name starting like an interpreter is not one", target: "app.py", comm: "shellcheck", args: []string{"shellcheck", "app.py"}, exe: "/usr/bin/shellcheck", want: false},
		{name: "exe fallback when comm is a 15-byte truncation", target: long, comm: "my-long-service", args: []string{"worker: idle"}, exe: "/opt/bin/" + long, want: true, wantExec: true},
		{name: "exe fallback that does not match", target: long, comm: "my-long-service", args: []string{"worker: idle"}, exe: "/opt/bin/other", want: false, wantExec: true},
		{name: "exe fallback with the link unreadable", target: long, comm: "my-long-service", args: []string{"worker: idle"}, exe: "", want: false, wantExec: true},
		{name: "truncated comm and no exe func", target: long, comm: "my-long-service", args: []string{"worker: idle"}, noExe: true, want: false},
		{name: "exe not read when comm is short", target: "myapp", comm: "other", args: []string{"other"}, exe: "/usr/bin/myapp", want: false},
		{name: "exe not read when 15-byte comm is not a prefix", target: "zzz", comm: "my-long-service", args: []string{"x"}, exe: "/usr/bin/zzz", want: false},
		{name: "exe not read when name equals the 15-byte comm", target: "my-long-service", comm: "my-long-service", args: []string{"x"}, exe: "/usr/bin/other", want: true},
		{name: "prefix of comm does not match", target: "ngin", comm: "nginx", args: []string{"nginx"}, exe: "/usr/sbin/nginx", want: false},
		{name: "longer than comm does not match", target: "nginx2", comm: "nginx", args: []string{"nginx"}, exe: "/usr/sbin/nginx2", want: false},
		{name: "empty argv[0]", target: "app", comm: "x", args: []string{""}, exe: "/srv/app", want: false},
		{name: "kernel thread", target: "kworker", comm: "kworker/0:1", noExe: true, want: false},
		{name: "case matters", target: "Nginx", comm: "nginx", args: []string{"/usr/sbin/nginx"}, exe: "/usr/sbin/nginx", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read := false
			var exe func() string
			if !tt.noExe {
				exe = func() string { read = true; return tt.exe }
			}
			got := matchesName(tt.target, tt.comm, tt.args, exe)
			if got != tt.want {
				t.Errorf("matchesName(%q, %q, %q) = %v, want %v", tt.target, tt.comm, tt.args, got, tt.want)
			}
			if read != tt.wantExec {
				t.Errorf("matchesName(%q, %q, %q) read the exe link: %v, want %v", tt.target, tt.comm, tt.args, read, tt.wantExec)
			}
		})
	}
}

func TestParseUser(t *testing.T) {
	tests := []struct {
		name    string
		spec    string
		want    *UserFilter
		wantErr string
	}{
		{name: "numeric", spec: "1000", want: &UserFilter{Spec: "1000", UID: 1000}},
		{name: "numeric with no account", spec: "4000000", want: &UserFilter{Spec: "4000000", UID: 4000000}},
		{name: "zero", spec: "0", want: &UserFilter{Spec: "0", UID: 0}},
		{name: "root by name", spec: "root", want: &UserFilter{Spec: "root", UID: 0}},
		{name: "unknown name", spec: "no-such-user-sre", wantErr: `--user "no-such-user-sre": no such user`},
		{name: "negative", spec: "-1", wantErr: `--user "-1": negative uid`},
		{name: "empty", spec: "", wantErr: "--user: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseUser(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseUser(%q) = %+v, %v; want error %q", tt.spec, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseUser(%q): %v", tt.spec, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseUser(%q) (-want +got):\n%s", tt.spec, diff)
			}
		})
	}
}
