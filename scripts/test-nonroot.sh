#!/usr/bin/env bash
# Runs the end-to-end scripts as an ordinary user (nobody), as most users
# run the tools. Root only: as anyone else, `make test` already is that run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "test-nonroot: not root; the normal test run already runs as an ordinary user"
	exit 0
fi
user=${NONROOT_USER:-nobody}
dir=$(mktemp -d /tmp/sre-nonroot.XXXXXX)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/e2e.test" .
cp -r testdata scripts "$dir/"
chmod -R a+rX "$dir"
mkdir "$dir/tmp" && chown "$user" "$dir/tmp"
cd "$dir"
runuser -u "$user" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$dir/tmp" TMPDIR="$dir/tmp" \
	./e2e.test -test.run 'TestScripts' -test.count=1 "$@"
