package kube

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// CheckNamespace checks a namespace name: a DNS-1123 label.
func CheckNamespace(s string) error {
	if errs := validation.IsDNS1123Label(s); len(errs) > 0 {
		return fmt.Errorf("namespace %q: %s", s, short(errs[0]))
	}
	return nil
}

// CheckName checks an object's name (a pod, a Deployment): a DNS-1123
// subdomain.
func CheckName(what, s string) error {
	if errs := validation.IsDNS1123Subdomain(s); len(errs) > 0 {
		return fmt.Errorf("%s name %q: %s", what, s, short(errs[0]))
	}
	return nil
}

// PodRef is one pod: NAMESPACE/NAME.
type PodRef struct{ Namespace, Name string }

func (r PodRef) String() string { return r.Namespace + "/" + r.Name }

// ParsePodRef reads NAMESPACE/NAME, each checked.
func ParsePodRef(s string) (PodRef, error) {
	ns, name, ok := strings.Cut(s, "/")
	if !ok {
		return PodRef{}, fmt.Errorf("pod %q: want NAMESPACE/NAME", s)
	}
	if err := CheckNamespace(ns); err != nil {
		return PodRef{}, fmt.Errorf("pod %q: %w", s, err)
	}
	if err := CheckName("pod", name); err != nil {
		return PodRef{}, fmt.Errorf("pod %q: %w", s, err)
	}
	return PodRef{ns, name}, nil
}

// Selector is the pods of one namespace a label selector picks:
// NAMESPACE:SELECTOR, the selector in kubectl's -l syntax.
type Selector struct {
	Namespace string
	Labels    labels.Selector
}

func (s Selector) String() string { return s.Namespace + ":" + s.Labels.String() }

// ParseSelector reads NAMESPACE:SELECTOR, each checked. An empty selector
// (every pod of the namespace) must be said so: NAMESPACE:* is refused, to
// keep a typo from watching a whole namespace.
func ParseSelector(s string) (Selector, error) {
	ns, sel, ok := strings.Cut(s, ":")
	if !ok {
		return Selector{}, fmt.Errorf("pod selector %q: want NAMESPACE:LABEL-SELECTOR (app=web,tier!=cache)", s)
	}
	if err := CheckNamespace(ns); err != nil {
		return Selector{}, fmt.Errorf("pod selector %q: %w", s, err)
	}
	if strings.TrimSpace(sel) == "" {
		return Selector{}, fmt.Errorf("pod selector %q: the label selector is empty", s)
	}
	ls, err := labels.Parse(sel)
	if err != nil {
		return Selector{}, fmt.Errorf("pod selector %q: %s", s, oneLine(err.Error()))
	}
	if ls.Empty() {
		return Selector{}, fmt.Errorf("pod selector %q: the label selector selects every pod", s)
	}
	return Selector{ns, ls}, nil
}

// short drops the example and the regular expression from a validation
// message, which stays one readable line.
func short(msg string) string {
	if i := strings.Index(msg, " (e.g."); i > 0 {
		return msg[:i]
	}
	return msg
}
