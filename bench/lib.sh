# Sourced by the bench scripts: paths, the build, and small helpers.
# shellcheck shell=bash

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# Debian's python3-psutil is for /usr/bin/python3, not a python3 on PATH.
PYTHON=${PYTHON:-/usr/bin/python3}
SRE_SAMPLE=${SRE_SAMPLE:-$ROOT/bin/sre-sample}

die() { echo "bench: $*" >&2; exit 1; }

# build_and_check builds the binaries (unless SRE_SAMPLE is set to another
# build) and checks that the baseline can run.
build_and_check() {
	if [[ $SRE_SAMPLE == "$ROOT/bin/sre-sample" && ${NO_BUILD:-0} != 1 ]]; then
		(cd "$ROOT" && make -s build) || die "go build failed"
	fi
	[[ -x $SRE_SAMPLE ]] || die "$SRE_SAMPLE: not an executable"
	"$PYTHON" -c 'import psutil' 2>/dev/null ||
		die "$PYTHON cannot import psutil: apt-get install python3-psutil (or set PYTHON)"
}

# build_chain builds the binaries (unless NO_BUILD=1, or SRE_BIN names
# another build's directory) and checks that the four stages of the chain
# are there; $bin is their directory.
build_chain() {
	bin=${SRE_BIN:-$ROOT/bin}
	[[ ${NO_BUILD:-0} == 1 || $bin != "$ROOT/bin" ]] || (cd "$ROOT" && make -s build) || die "go build failed"
	local t
	for t in sre-sample sre-detect sre-report sre-heal; do [[ -x $bin/$t ]] || die "$bin/$t: not built"; done
}

# need_docker checks that a Docker daemon answers and has IMAGE.
need_docker() {
	docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "no Docker daemon answers at ${DOCKER_HOST:-the default socket}"
	docker image inspect "$IMAGE" >/dev/null 2>&1 || die "image $IMAGE: not there (IMAGE=…)"
}

# remove_labelled removes every container with label $1 (the bench's own).
remove_labelled() {
	docker ps -aq --filter "label=$1" | xargs -r docker rm -f >/dev/null 2>&1 || true
}

# median reads numbers, one a line, and prints their median.
median() {
	sort -g | awk '{a[NR]=$1} END {if (NR==0) exit 1; if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}
