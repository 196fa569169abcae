//go:build tools

// The two control-plane commands this module builds; the blank imports keep
// go mod tidy from dropping what they need.
package kubeplane

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)
