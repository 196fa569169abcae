package kubeprog

import (
	"strings"
	"testing"
)

func TestValidNames(t *testing.T) {
	for s, want := range map[string]bool{
		"shop": true, "a": true, "kube-system": true, strings.Repeat("a", 63): true,
		"": false, "Shop": false, "-shop": false, "shop-": false, "sh_op": false, "a.b": false, strings.Repeat("a", 64): false,
	} {
		if ValidLabel(s) != want {
			t.Errorf("ValidLabel(%q) = %v", s, !want)
		}
	}
	for s, want := range map[string]bool{
		"web-7d9f8b6c5-x2x4q": true, "coredns.1": true, strings.Repeat("a.", 126) + "a": true,
		"": false, "web/x": false, "web..x": false, ".web": false, "Web": false, "--allow-orphan": false,
		strings.Repeat("a", 64): true, strings.Repeat("a", 254): false, strings.Repeat("a.", 127) + "a": false,
	} {
		if ValidSubdomain(s) != want {
			t.Errorf("ValidSubdomain(%q) = %v", s, !want)
		}
	}
}
