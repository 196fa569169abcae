package kube

import (
	"strings"
	"testing"
)

func TestParsePodRef(t *testing.T) {
	good := map[string]PodRef{
		"default/web-7d9f8b6c5-x2x4q": {"default", "web-7d9f8b6c5-x2x4q"},
		"kube-system/coredns.1":       {"kube-system", "coredns.1"},
	}
	for in, want := range good {
		got, err := ParsePodRef(in)
		if err != nil || got != want {
			t.Errorf("ParsePodRef(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"web":                            "want NAMESPACE/NAME",
		"/web":                           `namespace ""`,
		"Default/web":                    `namespace "Default"`,
		"ns/Web":                         `pod name "Web"`,
		"ns/web/x":                       `pod name "web/x"`,
		"ns/-web":                        `pod name "-web"`,
		"ns/" + strings.Repeat("a", 254): "must be no more than 253 characters",
		"ns/web --all":                   `pod name "web --all"`,
	}
	for in, want := range bad {
		_, err := ParsePodRef(in)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "regex") {
			t.Errorf("ParsePodRef(%q) = %v; want a one-line error with %q", in, err, want)
		}
	}
}

func TestParseSelector(t *testing.T) {
	s, err := ParseSelector("shop:app=web,tier!=cache")
	if err != nil || s.Namespace != "shop" || s.Labels.String() != "app=web,tier!=cache" {
		t.Fatalf("ParseSelector = %v, %v", s, err)
	}
	for in, want := range map[string]string{
		"app=web":       "want NAMESPACE:LABEL-SELECTOR",
		"shop:":         "the label selector is empty",
		"shop:   ":      "the label selector is empty",
		"Shop:app=web":  `namespace "Shop"`,
		"shop:app=a b":  "pod selector",
		"shop:app in (": "pod selector",
	} {
		_, err := ParseSelector(in)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseSelector(%q) = %v; want an error with %q", in, err, want)
		}
	}
}
