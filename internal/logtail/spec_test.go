package logtail

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSpecs(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []Spec
		wantErr string
	}{
		{"file", []string{"/var/log/app.log"}, []Spec{{Path: "/var/log/app.log"}}, ""},
		{"relative file", []string{"app.log"}, []Spec{{Path: "app.log"}}, ""},
		{"target and file", []string{"api=/var/log/api.log"}, []Spec{{Target: "api", Path: "/var/log/api.log"}}, ""},
		{"target and relative file", []string{"api=logs/api.log"}, []Spec{{Target: "api", Path: "logs/api.log"}}, ""},
		{"'=' in an absolute path", []string{"/var/log/a=b.log"}, []Spec{{Path: "/var/log/a=b.log"}}, ""},
		{"'=' in a ./ path", []string{"./a=b.log"}, []Spec{{Path: "./a=b.log"}}, ""},
		{"pidfile target", []string{"/run/app.pid=/var/log/app.log"}, []Spec{{Target: "/run/app.pid", Path: "/var/log/app.log"}}, ""},
		{"target with '='", []string{"a=b=/var/log/x.log"}, []Spec{{Target: "a=b", Path: "/var/log/x.log"}}, ""},
		{"pid target", []string{"pid:42=/var/log/x.log"}, []Spec{{Target: "pid:42", Path: "/var/log/x.log"}}, ""},
		{"spaces kept", []string{"my app=/var/log/my app.log"}, []Spec{{Target: "my app", Path: "/var/log/my app.log"}}, ""},
		{"repeated, duplicates dropped", []string{"/a.log", "api=/b.log", "/a.log", "web=/a.log"},
			[]Spec{{Path: "/a.log"}, {Target: "api", Path: "/b.log"}, {Target: "web", Path: "/a.log"}}, ""},
		{"none", nil, []Spec{}, ""},
		{"empty", []string{""}, nil, `--log "": empty file name`},
		{"empty target", []string{"=/var/log/x.log"}, nil, `--log "=/var/log/x.log": empty target before '='`},
		{"empty target, relative", []string{"=x.log"}, nil, `--log "=x.log": empty target before '='`},
		{"empty file", []string{"api="}, nil, `--log "api=": empty file name after '='`},
		{"NUL", []string{"/var/log/a\x00b"}, nil, `--log "/var/log/a\x00b": contains a NUL byte`},
		{"bad one among good", []string{"/a.log", "="}, nil, `--log "=": empty file name after '='`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSpecs(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("specs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewFollowers(t *testing.T) {
	specs := []Spec{{Path: "/a.log"}, {Target: "api", Path: "/b.log"}, {Target: "web", Path: "/x/../a.log"}}
	var got []string
	for _, f := range NewFollowers(specs, 10) {
		got = append(got, f.Path())
	}
	if diff := cmp.Diff([]string{"/a.log", "/b.log"}, got); diff != "" {
		t.Errorf("one follower per file (-want +got):\n%s", diff)
	}
}

// FuzzParseSpecs: a spec is parsed or refused, never mangled: what is
// parsed puts back together into the value given.
func FuzzParseSpecs(f *testing.F) {
	for _, s := range []string{"/var/log/a.log", "api=/x", "a=b", "/a=b", "=/x", "x=", "a=b=/c", "/run/p=/l", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := ParseSpecs([]string{v})
		if err != nil {
			if !strings.Contains(err.Error(), "--log ") {
				t.Errorf("error %q does not name the flag", err)
			}
			return
		}
		s := got[0]
		if s.Path == "" {
			t.Fatalf("%q: empty path accepted", v)
		}
		back := s.Path
		if s.Target != "" {
			back = s.Target + "=" + s.Path
		}
		if back != v {
			t.Errorf("%q parsed as %+v", v, s)
		}
	})
}
