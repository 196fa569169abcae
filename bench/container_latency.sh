#!/usr/bin/env bash
# Container death -> crash event out of
#   sre-sample --container NAME --interval 1s | sre-detect
# p50/p99 over N deaths (default 20), measured from Docker's own die event
# (timeNano), beside a bare `docker events` subscriber in the same run. Bar
# (issue 14): p99 <= 50 ms after Docker's event. See
# bench/container_latency.py.
#
#   bench/container_latency.sh [N]     IMAGE=sre-busybox:local NO_BUILD=1 SRE_BIN=DIR
#
# Needs a Docker daemon (DOCKER_HOST; scripts/dockerd-test.sh starts a
# private one) and the image IMAGE with a busybox sh. Every container it
# starts carries the label sre-bench=latency and is removed at the end.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${1:-20}
IMAGE=${IMAGE:-sre-busybox:local}
LABEL=sre-bench=latency
if ! [[ $N =~ ^[0-9]+$ ]] || ((N < 1)); then die "N must be at least 1"; fi
need_docker
build_chain

work=$(mktemp -d)
cleanup() {
	remove_labelled "$LABEL"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
echo "container_latency: $N deaths; daemon $(docker version --format '{{.Server.Version}}'); load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$PYTHON" "$BENCH_DIR/container_latency.py" "$bin" "$N" "$work" "$IMAGE" "$LABEL"
