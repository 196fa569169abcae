#!/usr/bin/env bash
# Container death -> running again through the whole chain
#   sre-sample --container A | sre-detect | sre-report | sre-heal --apply
# with a restart_container rule (backoff 0s), side by side in the same run
# with Docker's own --restart=always on a second container; both timed from
# Docker's die event to its next start event. Bar (issue 14): p99 <= 1 s plus
# the configured backoff (0 s). See bench/container_heal.py.
#
#   bench/container_heal.sh [N]     UP=11 IMAGE=sre-busybox:local NO_BUILD=1 SRE_BIN=DIR
#
# N deaths each (default 20); each container is up UP seconds before each
# death (default 11: Docker's restart manager starts its delay again from
# 100 ms only after a run of 10 s or more), so a run takes about N*UP s.
# Needs a Docker daemon (DOCKER_HOST; scripts/dockerd-test.sh starts a
# private one). Every container it starts carries the label sre-bench=heal
# and is removed at the end.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${1:-20}
UP=${UP:-11}
IMAGE=${IMAGE:-sre-busybox:local}
LABEL=sre-bench=heal
if ! [[ $N =~ ^[0-9]+$ ]] || ((N < 1)); then die "N must be at least 1"; fi
[[ $UP =~ ^[0-9]+([.][0-9]+)?$ ]] || die "UP must be seconds, e.g. 11"
need_docker
build_chain

work=$(mktemp -d)
cleanup() {
	remove_labelled "$LABEL"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
echo "container_heal: $N deaths each, ${UP}s up before each; daemon $(docker version --format '{{.Server.Version}}'); load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$PYTHON" "$BENCH_DIR/container_heal.py" "$bin" "$N" "$work" "$IMAGE" "$LABEL" "$UP"
