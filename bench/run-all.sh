#!/usr/bin/env bash
# Runs every benchmark in bench/ and the Go benchmarks, printing the machine
# first; each script prints its own figures and ratios. Progress goes to
# stderr. Usage: bench/run-all.sh [> results.txt]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "# machine: nproc $(nproc), kernel $(uname -r), $(go version | cut -d' ' -f3-), Debian $(cat /etc/debian_version)"
echo "# started $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
go build -o bin/ ./cmd/...
export NO_BUILD=1

## sre-sample
echo; echo "## sre-sample: kill -9 -> up:false (bench/kill_latency.sh)"
bench/kill_latency.sh
echo; echo "## sre-sample: CPU per 1,000 samples (bench/cpu_per_sample.sh)"
bench/cpu_per_sample.sh
echo; echo "## sre-sample: one pass over 1,000 processes (bench/scan_1000.sh)"
bench/scan_1000.sh
echo; echo "## sre-sample: go test -bench (internal/sampler)"
go test -run '^$' -bench . -benchtime "${BENCHTIME:-1s}" ./internal/sampler/

echo; echo "## every stage: peak RSS, live chain and 10 MiB lines (bench/stage_rss.sh)"
bench/stage_rss.sh
echo; echo "## every stage: RSS over crash/restart cycles (bench/crash_cycles.sh; CRASH_CYCLES=10000 for the full run)"
COUNT=${CRASH_CYCLES:-2000} bench/crash_cycles.sh

## sre-detect
echo; echo "## sre-detect: throughput against jq, RSS (bench/detect_throughput.sh)"
bench/detect_throughput.sh
echo; echo "## sre-detect: kill -9 -> crash event (bench/detect_kill_latency.sh)"
bench/detect_kill_latency.sh

## sre-report
echo; echo "## sre-report: crash -> report fsync'd (bench/report_latency.sh)"
bench/report_latency.sh

## containers (a Docker daemon: DOCKER_HOST, or scripts/dockerd-test.sh for a private one)
if ! command -v docker >/dev/null || ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
	echo; echo "## containers: skipped: no Docker daemon answers at ${DOCKER_HOST:-the default socket} (eval \"\$(scripts/dockerd-test.sh)\" starts a private one)"
elif ! docker image inspect "${IMAGE:-sre-busybox:local}" >/dev/null 2>&1; then
	echo; echo "## containers: skipped: no image ${IMAGE:-sre-busybox:local} (IMAGE=… names one with a busybox sh; scripts/dockerd-test.sh imports sre-busybox:local)"
else
	echo; echo "## containers: death -> crash event (bench/container_latency.sh)"
	bench/container_latency.sh
	echo; echo "## containers: death -> running again, restart_container against --restart=always (bench/container_heal.sh)"
	bench/container_heal.sh
	echo; echo "## containers: CPU of watching 20 containers against 20 processes (bench/container_cpu.sh; CONTAINER_CPU_DURATION=600)"
	DURATION=${CONTAINER_CPU_DURATION:-600} bench/container_cpu.sh
fi

## pods (a Kubernetes control plane: SRE_KUBECONFIG, from scripts/kube-test.sh)
if [ -z "${SRE_KUBECONFIG:-}" ]; then
	echo; echo "## pods: skipped: SRE_KUBECONFIG names no control plane (eval \"\$(scripts/kube-test.sh)\" starts one on loopback)"
else
	echo; echo "## pods: status write -> crash event (bench/pod_bench.go latency)"
	go run bench/pod_bench.go latency bin 30
	echo; echo "## pods: sre-kube's memory watching 200 pods (bench/pod_bench.go memory)"
	go run bench/pod_bench.go memory bin 200
fi

## sre-score
echo; echo "## sre-score: a 1M-event archive (bench/score_1m.sh)"
bench/score_1m.sh

## the dashboard
echo; echo "## the dashboard: 100,000 events and 5,000 reports (bench/dashboard.sh)"
bench/dashboard.sh

echo; echo "# finished $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
