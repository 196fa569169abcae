#!/usr/bin/env bash
# Runs the tests again as an ordinary user (nobody), as most users run the
# tools: every package's unit tests and the end-to-end scripts, built here
# and run from a copy of the tree that user can read. Root only: as anyone
# else, `make test` already is that run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "test-nonroot: not root; the normal test run already runs as an ordinary user"
	exit 0
fi
user=${NONROOT_USER:-nobody}
dir=$(mktemp -d /tmp/sre-nonroot.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/src" "$dir/bin" "$dir/tmp"
git ls-files -z | xargs -0 cp --parents -t "$dir/src"
go test -c -o "$dir/e2e.test" .
# The tools themselves, for the tests that run them (internal/service): an
# ordinary user's PATH has no go command to build them with.
go build -o "$dir/tools/" ./cmd/...
pkgs=$(go list -f '{{if .TestGoFiles}}{{.ImportPath}}{{end}}' ./internal/...)
for pkg in $pkgs; do
	go test -c -o "$dir/bin/$(echo "${pkg#*/sre-agent/}" | tr / _).test" "$pkg"
done
chmod -R a+rX "$dir"
chown "$user" "$dir/tmp"
# The Kubernetes control plane scripts/kube-test.sh started, when there is
# one: its kubeconfig and token file are readable by all (a throwaway plane
# on loopback), and a test that restarts an API server starts one of its own
# as this user, so the pod tests run here too rather than skip.
kube=()
[ -n "${SRE_KUBE_DIR:-}" ] && kube+=("SRE_KUBE_DIR=$SRE_KUBE_DIR")
[ -n "${SRE_KUBECONFIG:-}" ] && kube+=("SRE_KUBECONFIG=$SRE_KUBECONFIG")
as_user() {
	runuser -u "$user" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$dir/tmp" TMPDIR="$dir/tmp" SRE_TEST_BIN="$dir/tools" "${kube[@]}" "$@"
}
failed=0
for pkg in $pkgs; do
	rel=${pkg#*/sre-agent/}
	if ! out=$(cd "$dir/src/$rel" && as_user "$dir/bin/$(echo "$rel" | tr / _).test" -test.count=1 2>&1); then
		printf '%s\n' "$out" | tail -40
		echo "FAIL (as $user) $pkg"
		failed=1
	else
		echo "ok (as $user) $pkg"
	fi
done
cd "$dir"
cp -r "$dir/src/testdata" "$dir/src/scripts" "$dir/"
as_user ./e2e.test -test.run 'TestScripts' -test.count=1 "$@" || failed=1
exit "$failed"
