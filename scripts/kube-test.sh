#!/usr/bin/env bash
# Starts a real Kubernetes control plane for the tests, on loopback only:
# etcd, kube-apiserver and kube-controller-manager, built from the Go module
# proxy (scripts/kubeplane: k8s.io/kubernetes v1.34.4, etcd's embed
# package), and prints the line to eval:
#
#   eval "$(scripts/kube-test.sh [DIR])"      # default DIR /tmp/sre-kube
#   scripts/kube-test.sh build                 # only build (cached)
#   scripts/kube-test.sh restart-apiserver [DIR]
#   scripts/kube-test.sh stop-apiserver [DIR] | start-apiserver [DIR]
#   scripts/kube-test.sh apiserver OWN-DIR [DIR]   # a second API server
#   scripts/kube-test.sh stop [DIR]
#
# The export line names SRE_KUBE_DIR=DIR and SRE_KUBECONFIG=DIR/admin.kubeconfig
# (token auth, the API server's own CA). DIR/tokens.csv has three users:
# admin (group system:masters), sre-agent and sre-viewer (no groups: RBAC
# grants them nothing until a test binds a Role). RBAC is on.
#
# What runs: etcd (one member, its data in DIR/etcd), kube-apiserver
# (--cert-dir DIR/certs, self-signed for 127.0.0.1) and
# kube-controller-manager with the deployment, replicaset, serviceaccount,
# namespace and garbage-collector controllers, using the admin token, and no
# HTTPS port of its own. There is no kubelet and no scheduler: pods stay
# Pending with no node, and a test writes their status through the status
# subresource as a kubelet would (internal/kube/kubetest). Unscheduled pods
# are deleted at once (no grace period), so a deleted pod is recreated by its
# ReplicaSet within a second or two.
#
# Ports: free ones above 20000 on 127.0.0.1, picked at start and kept in
# DIR/plane.env (etcd client and peer, the API server's secure port).
# Nothing listens beyond loopback, and no port is privileged: it runs as any
# user who can write DIR and the cache (below). Logs: DIR/*.log.
#
# Build: `build` runs go mod download and go build in scripts/kubeplane into
# SRE_KUBE_CACHE/kubeplane-KEY/ (SRE_KUBE_CACHE defaults to
# /var/cache/sre-agent when writable, else ~/.cache/sre-agent), KEY a hash of
# the module's files and the go version; a cache that has the three binaries
# is used as is. Cold (empty GOCACHE, modules downloaded), measured here on 2
# cores: 849 s user + 125 s system CPU, 2.3 GB peak RSS, 22.5 min wall at
# nice 19 on a machine loaded 4-7 (about 8-10 min on 2 idle cores); with
# GOCACHE warm, a rebuild only links (48 s). A start with the binaries built
# took 7 s until /readyz answered and the default ServiceAccount existed;
# restart-apiserver 7-10 s with a watch open; each API server holds ~270 MB.
#
# `apiserver OWN-DIR [DIR]` starts another kube-apiserver on DIR's etcd with
# the same tokens and keys, its port, certificates, log and pid in OWN-DIR,
# and writes OWN-DIR/admin.kubeconfig: a test that restarts an API server
# restarts its own, not the one every other test talks to. Stop it with
# `stop OWN-DIR`.
#
# Idempotent: a plane already answering in DIR is reused; one that does not
# answer is stopped and started afresh (a new etcd). stop removes nothing but
# pid files. The plane is a throwaway on loopback, so its files are readable
# by all (the tests also run as nobody), the service-account key included.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
module="$here/kubeplane"

log() { echo "kube-test: $*" >&2; }
die() {
	log "$*"
	exit 1
}

cache_dir() {
	local base key
	if [ -n "${SRE_KUBE_CACHE:-}" ]; then
		base=$SRE_KUBE_CACHE
	elif mkdir -p /var/cache/sre-agent 2>/dev/null && [ -w /var/cache/sre-agent ]; then
		base=/var/cache/sre-agent
	else
		base=${XDG_CACHE_HOME:-$HOME/.cache}/sre-agent
	fi
	command -v go >/dev/null || die "no go command on PATH to build the control plane with"
	key=$({
		cat "$module/go.mod" "$module/go.sum" "$module/tools.go" "$module/etcd/main.go"
		go version
	} | sha256sum | cut -c1-16)
	echo "$base/kubeplane-$key"
}

have_bins() { [ -x "$1/kube-apiserver" ] && [ -x "$1/kube-controller-manager" ] && [ -x "$1/etcd" ]; }

build() {
	local bin tmp t0
	bin=$(cache_dir)
	if have_bins "$bin"; then
		log "built already: $bin"
		echo "$bin"
		return 0
	fi
	mkdir -p "$(dirname "$bin")"
	tmp=$(mktemp -d "$bin.tmp.XXXXXX")
	t0=$(date +%s)
	log "go mod download in $module"
	(cd "$module" && GOWORK=off GOFLAGS=-mod=readonly go mod download) >&2 ||
		die "go mod download failed in $module"
	log "building kube-apiserver, kube-controller-manager and etcd into $bin (cold: 10-25 min on 2 cores)"
	if ! (cd "$module" && GOWORK=off GOFLAGS=-mod=readonly go build -trimpath -o "$tmp/" \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager ./etcd) >&2; then
		rm -rf "$tmp"
		die "go build failed in $module"
	fi
	chmod 755 "$tmp"
	mv -T "$tmp" "$bin" 2>/dev/null || rm -rf "$tmp" # another build won the race: its binaries are the same
	have_bins "$bin" || die "no binaries in $bin after the build"
	log "built in $(($(date +%s) - t0)) s: $bin"
	echo "$bin"
}

# A free TCP port on loopback, in 20000-32767 (below Linux's ephemeral range).
free_port() {
	local p hex
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 12768))
		hex=$(printf ':%04X ' "$p")
		if ! grep -q "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	die "no free port found in 20000-32767"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid NAME DIR: SIGTERM the process in DIR/NAME.pid, wait up to 60 s.
stop_pid() {
	local name=$1 dir=$2 pid
	[ -f "$dir/$name.pid" ] || return 0
	pid=$(cat "$dir/$name.pid")
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 1 600); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			die "$name $pid did not exit within 60 s of SIGTERM; see $dir/$name.log"
		fi
	fi
	rm -f "$dir/$name.pid"
}

stop() {
	local dir=$1 any=
	for n in kube-controller-manager kube-apiserver etcd; do
		[ -f "$dir/$n.pid" ] && any=1
		stop_pid "$n" "$dir"
	done
	if [ -n "$any" ]; then log "stopped the control plane in $dir"; else log "no control plane in $dir"; fi
}

# spawn NAME DIR ARGV...: runs ARGV in its own session, output to DIR/NAME.log,
# pid in DIR/NAME.pid, argv (one per line) in DIR/NAME.args for a restart.
spawn() {
	local name=$1 dir=$2
	shift 2
	printf '%s\n' "$@" >"$dir/$name.args"
	setsid "$@" </dev/null >>"$dir/$name.log" 2>&1 &
	echo $! >"$dir/$name.pid"
}

token_of() { awk -F, -v u="$2" '$2 == u { print $1 }' "$1/tokens.csv"; }

# ready URL TOKEN: /readyz answers ok.
ready() {
	[ "$(curl -sk --max-time 5 -H "Authorization: Bearer $2" "$1/readyz" 2>/dev/null)" = ok ]
}

# wait_ready NAME DIR URL TOKEN SECONDS
wait_ready() {
	for _ in $(seq 1 $(($5 * 5))); do
		ready "$3" "$4" && return 0
		alive "$2/$1.pid" || {
			tail -20 "$2/$1.log" >&2 || true
			die "$1 exited before answering on $3; see $2/$1.log"
		}
		sleep 0.2
	done
	tail -20 "$2/$1.log" >&2 || true
	die "$1 did not answer $3/readyz within $5 s; see $2/$1.log"
}

# kubeconfig FILE SERVER CA-FILE TOKEN
kubeconfig() {
	local ca
	ca=$(base64 -w0 <"$3")
	cat >"$1.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sre-kube
  cluster:
    server: $2
    certificate-authority-data: $ca
users:
- name: admin
  user:
    token: $4
contexts:
- name: sre-kube
  context:
    cluster: sre-kube
    user: admin
current-context: sre-kube
EOF
	chmod 644 "$1.tmp"
	mv "$1.tmp" "$1"
}

# apiserver_argv DIR(shared) OWN-DIR PORT ETCD-URL BIN sets argv.
# No endpoint reconciler: it would write 127.0.0.1 into the kubernetes
# Service's endpoints, which validation refuses (loopback), every 10 s; and
# two servers on two ports would fight over them. --shutdown-send-retry-after:
# on SIGTERM the server answers 429 until its requests drain, then closes
# open watches within 2 s; without it, one open watch holds the shutdown
# for the full 60 s request timeout.
apiserver_argv() {
	local d=$1 own=$2
	argv=("$5/kube-apiserver"
		--etcd-servers="$4"
		--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$3"
		--cert-dir="$own/certs"
		--token-auth-file="$d/tokens.csv"
		--authorization-mode=RBAC
		--service-account-issuer=https://kubernetes.default.svc
		--service-account-key-file="$d/sa.pub"
		--service-account-signing-key-file="$d/sa.key"
		--service-cluster-ip-range=10.0.0.0/24
		--endpoint-reconciler-type=none
		--shutdown-send-retry-after=true
		--profiling=false)
}

start() {
	local dir=$1 bin admin url etcd_url t0
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ -f "$dir/plane.env" ] && [ -f "$dir/tokens.csv" ]; then
		# shellcheck source=/dev/null
		. "$dir/plane.env"
		if ready "https://127.0.0.1:$APISERVER_PORT" "$(token_of "$dir" admin)" && alive "$dir/kube-controller-manager.pid"; then
			log "reusing the control plane in $dir (https://127.0.0.1:$APISERVER_PORT)"
			echo "export SRE_KUBE_DIR=$dir SRE_KUBECONFIG=$dir/admin.kubeconfig"
			return 0
		fi
		if alive "$dir/etcd.pid" || alive "$dir/kube-apiserver.pid" || alive "$dir/kube-controller-manager.pid"; then
			log "the control plane in $dir does not answer: stopping what is left of it"
			stop "$dir"
		fi
	fi
	command -v openssl >/dev/null || die "no openssl on PATH (apt-get install openssl)"
	command -v curl >/dev/null || die "no curl on PATH (apt-get install curl)"
	bin=$(build)
	t0=$(date +%s)
	if [ ! -f "$dir/sa.key" ] || [ ! -f "$dir/sa.pub" ]; then
		openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
		openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
	fi
	if [ ! -f "$dir/tokens.csv" ]; then
		{
			echo "$(openssl rand -hex 16),admin,admin,system:masters"
			echo "$(openssl rand -hex 16),sre-agent,sre-agent"
			echo "$(openssl rand -hex 16),sre-viewer,sre-viewer"
		} >"$dir/tokens.csv"
	fi
	chmod 644 "$dir/sa.key" "$dir/sa.pub" "$dir/tokens.csv"
	admin=$(token_of "$dir" admin)

	local cport pport aport
	cport=$(free_port)
	pport=$(free_port)
	aport=$(free_port)
	while [ "$pport" = "$cport" ]; do pport=$(free_port); done
	while [ "$aport" = "$cport" ] || [ "$aport" = "$pport" ]; do aport=$(free_port); done
	etcd_url=http://127.0.0.1:$cport
	url=https://127.0.0.1:$aport
	cat >"$dir/plane.env" <<EOF
KUBE_BIN=$bin
ETCD_URL=$etcd_url
APISERVER_PORT=$aport
EOF
	chmod 644 "$dir/plane.env"

	# A fresh etcd: its member was told other URLs last time.
	rm -rf "$dir/etcd"
	log "starting etcd on $etcd_url (log $dir/etcd.log)"
	spawn etcd "$dir" "$bin/etcd" "$dir/etcd" "$etcd_url" "http://127.0.0.1:$pport"
	local ok=
	for _ in $(seq 1 300); do
		if curl -s --max-time 2 "$etcd_url/health" 2>/dev/null | grep -q '"health":"true"'; then
			ok=1
			break
		fi
		alive "$dir/etcd.pid" || break
		sleep 0.1
	done
	[ -n "$ok" ] || {
		tail -20 "$dir/etcd.log" >&2 || true
		die "etcd did not answer on $etcd_url within 30 s; see $dir/etcd.log"
	}

	log "starting kube-apiserver on $url (log $dir/kube-apiserver.log)"
	local argv
	apiserver_argv "$dir" "$dir" "$aport" "$etcd_url" "$bin"
	spawn kube-apiserver "$dir" "${argv[@]}"
	wait_ready kube-apiserver "$dir" "$url" "$admin" 120
	kubeconfig "$dir/admin.kubeconfig" "$url" "$dir/certs/apiserver.crt" "$admin"

	log "starting kube-controller-manager (log $dir/kube-controller-manager.log)"
	spawn kube-controller-manager "$dir" "$bin/kube-controller-manager" \
		--kubeconfig="$dir/admin.kubeconfig" \
		--controllers=deployment-controller,replicaset-controller,serviceaccount-controller,namespace-controller,garbage-collector-controller \
		--leader-elect=false --bind-address=127.0.0.1 --secure-port=0 \
		--service-account-private-key-file="$dir/sa.key"
	ok=
	for _ in $(seq 1 600); do
		if [ "$(curl -sk --max-time 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $admin" \
			"$url/api/v1/namespaces/default/serviceaccounts/default")" = 200 ]; then
			ok=1
			break
		fi
		alive "$dir/kube-controller-manager.pid" || break
		sleep 0.1
	done
	[ -n "$ok" ] || {
		tail -20 "$dir/kube-controller-manager.log" >&2 || true
		die "no default ServiceAccount within 60 s: kube-controller-manager does not work; see $dir/kube-controller-manager.log"
	}
	log "control plane ready in $(($(date +%s) - t0)) s: $url"
	echo "export SRE_KUBE_DIR=$dir SRE_KUBECONFIG=$dir/admin.kubeconfig"
}

# A second API server on DIR's etcd, its own state in OWN.
own_apiserver() {
	local own=$1 dir=$2 admin aport url
	[ -f "$dir/plane.env" ] || die "no control plane in $dir; start one: eval \"\$($0 $dir)\""
	mkdir -p "$own"
	own=$(cd "$own" && pwd)
	dir=$(cd "$dir" && pwd)
	[ "$own" != "$dir" ] || die "the API server's own directory must not be the plane's ($dir)"
	alive "$own/kube-apiserver.pid" && die "an API server runs in $own already; stop it first: $0 stop $own"
	# shellcheck source=/dev/null
	. "$dir/plane.env"
	admin=$(token_of "$dir" admin)
	aport=$(free_port)
	url=https://127.0.0.1:$aport
	log "starting a kube-apiserver of its own on $url (log $own/kube-apiserver.log)"
	local argv
	# shellcheck disable=SC2153 # ETCD_URL and KUBE_BIN come from plane.env
	apiserver_argv "$dir" "$own" "$aport" "$ETCD_URL" "$KUBE_BIN"
	spawn kube-apiserver "$own" "${argv[@]}"
	wait_ready kube-apiserver "$own" "$url" "$admin" 120
	kubeconfig "$own/admin.kubeconfig" "$url" "$own/certs/apiserver.crt" "$admin"
	printf 'APISERVER_PORT=%s\nPLANE_DIR=%s\n' "$aport" "$dir" >"$own/plane.env"
	echo "export SRE_KUBE_DIR=$own SRE_KUBECONFIG=$own/admin.kubeconfig"
}

# apiserver_saved reads the flags kube-apiserver was started with in $1
# into argv, its port into port and the admin token into admin.
apiserver_saved() {
	local dir=$1 tokens=
	[ -f "$dir/kube-apiserver.args" ] || die "no kube-apiserver was started in $dir"
	mapfile -t argv <"$dir/kube-apiserver.args"
	port=
	for a in "${argv[@]}"; do
		case $a in
		--secure-port=*) port=${a#*=} ;;
		--token-auth-file=*) tokens=${a#*=} ;;
		esac
	done
	admin=$(token_of "$(dirname "$tokens")" admin)
}

restart_apiserver() {
	local dir=$1 admin port t0 argv=()
	apiserver_saved "$dir"
	t0=$(date +%s%3N)
	stop_pid kube-apiserver "$dir"
	spawn kube-apiserver "$dir" "${argv[@]}"
	wait_ready kube-apiserver "$dir" "https://127.0.0.1:$port" "$admin" 120
	log "kube-apiserver in $dir restarted on port $port: away for $(($(date +%s%3N) - t0)) ms"
}

# stop_apiserver and start_apiserver are restart-apiserver in two steps,
# for a test that changes the cluster (through another API server) while
# this one is away.
stop_apiserver() {
	stop_pid kube-apiserver "$1"
	log "kube-apiserver in $1 stopped"
}

start_apiserver() {
	local dir=$1 admin port argv=()
	apiserver_saved "$dir"
	alive "$dir/kube-apiserver.pid" && die "kube-apiserver in $dir already runs"
	spawn kube-apiserver "$dir" "${argv[@]}"
	wait_ready kube-apiserver "$dir" "https://127.0.0.1:$port" "$admin" 120
	log "kube-apiserver in $dir started again on port $port"
}

case "${1:-}" in
build) build >/dev/null ;;
stop) stop "${2:-/tmp/sre-kube}" ;;
restart-apiserver) restart_apiserver "${2:-/tmp/sre-kube}" ;;
stop-apiserver) stop_apiserver "${2:-/tmp/sre-kube}" ;;
start-apiserver) start_apiserver "${2:-/tmp/sre-kube}" ;;
apiserver)
	[ -n "${2:-}" ] || die "usage: $0 apiserver OWN-DIR [DIR]"
	own_apiserver "$2" "${3:-/tmp/sre-kube}"
	;;
-h | --help) sed -n '2,53p' "$0" | sed 's/^# \{0,1\}//' ;;
-*) die "unknown option $1; see $0 --help" ;;
*) start "${1:-/tmp/sre-kube}" ;;
esac
