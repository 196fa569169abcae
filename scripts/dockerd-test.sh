#!/usr/bin/env bash
# Starts a private Docker daemon for the tests, one that changes nothing on
# the host: its own data root, exec root, pidfile and socket under DIR, no
# bridge and no iptables rules. Installs Debian's docker.io and
# busybox-static when missing, imports the image sre-busybox:local from the
# busybox binary (no registry is reachable here), and prints the line to
# eval:
#
#   eval "$(scripts/dockerd-test.sh [DIR])"     # default DIR /tmp/sre-dockerd
#   scripts/dockerd-test.sh stop [DIR]
#
# SRE_DOCKERD_ARGS adds arguments to a daemon it starts (a TLS listener on
# tcp://127.0.0.1 beside the socket, say); the socket stays the one used.
#
# Idempotent: a daemon already answering on DIR's socket is reused. Progress
# goes to stderr, so stdout is only the export line. Needs root.
set -euo pipefail

image=sre-busybox:local

log() { echo "dockerd-test: $*" >&2; }
die() {
	log "$*"
	exit 1
}

stop() {
	local dir=$1 pid
	[ -f "$dir/dockerd.pid" ] || {
		log "no daemon in $dir"
		return 0
	}
	pid=$(cat "$dir/dockerd.pid")
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		# Containers first: a running one keeps its shim alive after the daemon.
		DOCKER_HOST="unix://$dir/docker.sock" docker ps -aq 2>/dev/null |
			xargs -r env DOCKER_HOST="unix://$dir/docker.sock" docker rm -f >/dev/null 2>&1 || true
		kill -TERM "$pid"
		for _ in $(seq 1 150); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			die "dockerd $pid did not exit within 15 s of SIGTERM; see $dir/dockerd.log"
		fi
	fi
	# containerd, started by dockerd under its exec root, ends with it; a
	# leftover one (daemon killed hard) still holds the pidfile below.
	if [ -f "$dir/exec/containerd/containerd.pid" ]; then
		pid=$(cat "$dir/exec/containerd/containerd.pid")
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" || true; fi
	fi
	rm -f "$dir/dockerd.pid"
	log "stopped the daemon in $dir"
}

install_missing() {
	local need=()
	# docker.io brings dockerd and a CLI; where a newer CLI is already on
	# PATH (these machines have one in /usr/local/bin) that one stays first.
	if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then need+=(docker.io); fi
	# Only the static busybox runs alone in an image without libraries.
	dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || need+=(busybox-static)
	[ ${#need[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || die "missing ${need[*]}, and only root can install them"
	log "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
}

start() {
	local dir=$1 sock pid
	sock="$dir/docker.sock"
	export DOCKER_HOST="unix://$sock"
	install_missing
	mkdir -p "$dir"
	if docker version >/dev/null 2>&1; then
		log "reusing the daemon on $sock"
	else
		if [ -f "$dir/dockerd.pid" ]; then
			pid=$(cat "$dir/dockerd.pid")
			if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
				die "dockerd $pid holds $dir but does not answer; stop it first: $0 stop $dir"
			fi
			rm -f "$dir/dockerd.pid"
		fi
		rm -f "$sock"
		log "starting dockerd on $sock (log $dir/dockerd.log)"
		# SRE_DOCKERD_ARGS is split into words on purpose.
		setsid dockerd --data-root "$dir/root" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
			-H "unix://$sock" --bridge=none --iptables=false --ip6tables=false ${SRE_DOCKERD_ARGS:-} \
			</dev/null >"$dir/dockerd.log" 2>&1 &
		for _ in $(seq 1 300); do
			docker version >/dev/null 2>&1 && break
			sleep 0.1
		done
		docker version >/dev/null 2>&1 || {
			tail -20 "$dir/dockerd.log" >&2 || true
			die "dockerd did not answer on $sock within 30 s"
		}
	fi
	if ! docker image inspect "$image" >/dev/null 2>&1; then
		local bb rootfs
		bb=$(dpkg-query -L busybox-static | grep -m1 '/busybox$')
		rootfs=$(mktemp -d "$dir/rootfs.XXXXXX")
		mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/etc"
		cp "$bb" "$rootfs/bin/busybox"
		for l in sh sleep echo cat ls ps date true; do ln -s busybox "$rootfs/bin/$l"; done
		tar -C "$rootfs" -cf "$dir/rootfs.tar" .
		docker import -c 'CMD ["/bin/sh"]' "$dir/rootfs.tar" "$image" >/dev/null
		rm -rf "$rootfs" "$dir/rootfs.tar"
		log "imported $image"
	fi
	echo "export DOCKER_HOST=unix://$sock"
}

case "${1:-}" in
stop) stop "${2:-/tmp/sre-dockerd}" ;;
-h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' ;;
*) start "${1:-/tmp/sre-dockerd}" ;;
esac
