// Package kube is the project's one Kubernetes client: the pod watcher,
// the report's pod evidence and sre-heal's pod actions all reach the
// cluster through it. It wraps client-go configured as kubectl is: the
// kubeconfig from --kubeconfig, else KUBECONFIG, else ~/.kube/config, its
// current context or --context, and the in-cluster service account when
// run in a pod without any of those.
//
// It speaks to the API with REST clients for the few groups it needs
// (core/v1, apps/v1, autoscaling/v1) rather than client-go's generated
// clientset: the clientset registers every API group at start, which
// costs a process about 14 MiB more (bench/README.md, Kubernetes). Even
// so, only the sre-kube binary links this package: the pipeline's stages
// run sre-kube when a pod is involved, and pay nothing otherwise.
package kube
