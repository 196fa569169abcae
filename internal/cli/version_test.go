package cli

import (
	"runtime/debug"
	"testing"
)

func TestVersionOf(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	devel := debug.Module{Version: "(devel)"}
	tests := []struct {
		name   string
		linked string
		bi     *debug.BuildInfo
		want   string
	}{
		{"git describe at link time", "v0.4.0-3-g4f59ebd-dirty", &debug.BuildInfo{GoVersion: "go1.26.8", Main: devel}, "v0.4.0-3-g4f59ebd-dirty go1.26.8"},
		{"linked wins over the module version", "4f59ebd", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.4.0"}}, "4f59ebd go1.26.8"},
		{"go install at a version", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.4.0"}}, "v0.4.0 go1.26.8"},
		{"vcs settings of a clean tree", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: devel,
			Settings: vcs("vcs", "git", "vcs.revision", "4f59ebd0123456789abcdef0123456789abcdef0", "vcs.time", "2026-12-06T19:58:00Z", "vcs.modified", "false")},
			"devel+4f59ebd01234 (2026-12-06T19:58:00Z) go1.26.8"},
		{"vcs settings of an edited tree", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: devel,
			Settings: vcs("vcs.revision", "4f59ebd0123456789abcdef0123456789abcdef0", "vcs.modified", "true")},
			"devel+4f59ebd01234-dirty go1.26.8"},
		{"no vcs at all", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: devel}, "devel go1.26.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionOf(tt.linked, tt.bi); got != tt.want {
				t.Errorf("versionOf = %q, want %q", got, tt.want)
			}
		})
	}
}
