#!/usr/bin/env bash
# Builds the image sre-systemd:local on the Docker daemon named by
# DOCKER_HOST (the private one of scripts/dockerd-test.sh): a minimal Debian
# bookworm whose PID 1 is a real systemd, with journald, logind and D-Bus,
# for the tests that run the agent as a service (internal/service/systemdtest).
#
#   eval "$(scripts/dockerd-test.sh /tmp/sre-dockerd)"
#   scripts/systemd-test-image.sh            # build once; later runs return at once
#   scripts/systemd-test-image.sh --rebuild  # build the root file system again
#
# No registry is reachable here, so the root file system comes from
# debootstrap (installed when missing) and the Debian mirror apt already
# uses, read at run time from /etc/apt/sources.list.d/debian.sources or
# /etc/apt/sources.list (or given as SRE_DEBIAN_MIRROR). That takes one to
# four minutes (network, load) for a 144 MB tarball, kept in a cache
# outside the clone (SRE_CACHE_DIR; else /var/cache/sre-agent as root,
# ${XDG_CACHE_HOME:-~/.cache}/sre-agent otherwise): a second run, or a CI
# machine that ran it before, only imports it, in seconds.
#
# In the image beyond the base system: libpam-systemd (as on any Debian
# host with systemd: without it a user's service manager, user@UID.service,
# gets no XDG_RUNTIME_DIR and exits, so lingering starts nothing), procps
# (ps, pgrep for the tests), an unprivileged user "sre" with a home (for
# user units), and an empty /etc/machine-id so that each container gets
# its own. Run it as internal/service/systemdtest does (RunArgs there says
# why each flag), without --privileged (refused here, and not needed):
#
#   docker run -d --network none --tmpfs /run --tmpfs /run/lock \
#     -v /sys/fs/cgroup:/sys/fs/cgroup:rw --cap-add SYS_ADMIN \
#     --cap-add NET_ADMIN --security-opt seccomp=unconfined sre-systemd:local
#
# Progress goes to stderr. Building needs root (debootstrap, chroot);
# importing a cached tarball does not.
set -euo pipefail

image=sre-systemd:local
suite=bookworm
# Bump when what goes into the root file system changes: the cached
# tarball's name carries it, so an old one is not imported by mistake.
recipe=2
include=systemd,systemd-sysv,dbus,libpam-systemd,procps

log() { echo "systemd-test-image: $*" >&2; }
die() {
	log "$*"
	exit 1
}

rebuild=false
case "${1:-}" in
--rebuild) rebuild=true ;;
-h | --help)
	sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
"") ;;
*) die "unknown argument $1 (want --rebuild or nothing)" ;;
esac

if [ -n "${SRE_CACHE_DIR:-}" ]; then
	cache=$SRE_CACHE_DIR
elif [ "$(id -u)" = 0 ]; then
	cache=/var/cache/sre-agent
else
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/sre-agent
fi
tarball=$cache/systemd-$suite-r$recipe.tar

command -v docker >/dev/null || die "no docker CLI on PATH"
docker version >/dev/null 2>&1 ||
	die "no Docker daemon answers on ${DOCKER_HOST:-the default socket}; start one: eval \"\$(scripts/dockerd-test.sh)\""

if ! $rebuild && docker image inspect "$image" >/dev/null 2>&1; then
	log "$image is present"
	exit 0
fi

# mirror prints the first URI of the main Debian archive that apt uses.
mirror() {
	local f uri
	if [ -n "${SRE_DEBIAN_MIRROR:-}" ]; then
		echo "$SRE_DEBIAN_MIRROR"
		return
	fi
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# deb822: a URIs: line; skip the security archive, which has no bookworm suite.
		uri=$(awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' "$f" |
			grep -v -- '-security' | head -1 || true)
		[ -n "$uri" ] && {
			echo "$uri"
			return
		}
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# one-line form: deb [options] URI suite components
		uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; break } }' "$f" |
			grep -v -- '-security' | head -1 || true)
		[ -n "$uri" ] && {
			echo "$uri"
			return
		}
	done
	return 1
}

rootfs='' partial=''
cleanup() {
	local m
	# A debootstrap that failed half-way may leave its mounts inside.
	for m in proc sys dev/pts; do
		if [ -n "$rootfs" ] && mountpoint -q "$rootfs/$m" 2>/dev/null; then umount -l "$rootfs/$m" || true; fi
	done
	[ -n "$rootfs" ] && rm -rf --one-file-system "$rootfs"
	[ -n "$partial" ] && rm -f "$partial"
	rootfs='' partial=''
}

build() {
	[ "$(id -u)" = 0 ] || die "no cached $tarball, and only root can build one (debootstrap, chroot)"
	if ! command -v debootstrap >/dev/null; then
		log "installing debootstrap"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >&2
		apt-get install -y -qq --no-install-recommends debootstrap >&2
	fi
	local uri start
	uri=$(mirror) || die "no Debian mirror in /etc/apt/sources.list{,.d}; set SRE_DEBIAN_MIRROR"
	mkdir -p "$cache"
	# Names of their own, so that two builds at once (two CI jobs) do not
	# mix; removed however the build ends, and the tarball appears whole
	# or not at all.
	rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
	partial=$(mktemp "$cache/partial.XXXXXX")
	trap cleanup EXIT
	start=$SECONDS
	log "debootstrap $suite from $uri into $rootfs (one to four minutes)"
	debootstrap --variant=minbase --include="$include" "$suite" "$rootfs" "$uri" >"$cache/debootstrap.log" 2>&1 || {
		tail -20 "$cache/debootstrap.log" >&2
		die "debootstrap failed; see $cache/debootstrap.log"
	}
	# The user of the user-unit tests, with a home, as useradd makes one.
	chroot "$rootfs" useradd --create-home --shell /bin/bash sre
	# Each container makes its own machine id at boot (an empty file means
	# "not yet set" to systemd, so it does not run first-boot setup either).
	: >"$rootfs/etc/machine-id"
	rm -f "$rootfs/var/lib/dbus/machine-id"
	# What apt downloaded is not needed in a container without a network.
	rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
	tar -C "$rootfs" --numeric-owner -cf "$partial" .
	chmod 644 "$partial"
	mv "$partial" "$tarball"
	# Tarballs of an older recipe are of no more use.
	find "$cache" -maxdepth 1 -name "systemd-$suite-r*.tar" ! -name "${tarball##*/}" -delete
	cleanup
	trap - EXIT
	log "built $tarball ($(du -h "$tarball" | cut -f1)) in $((SECONDS - start)) s"
}

if $rebuild || [ ! -s "$tarball" ]; then
	build
else
	log "using the cached $tarball"
fi

start=$SECONDS
# (docker import takes no STOPSIGNAL; the tests remove containers with
# docker rm -f, which does not ask PID 1 to stop anyway.)
docker import -c 'CMD ["/lib/systemd/systemd"]' \
	-m "debootstrap $suite minbase + $include, recipe $recipe" "$tarball" "$image" >/dev/null
log "imported $image in $((SECONDS - start)) s"
