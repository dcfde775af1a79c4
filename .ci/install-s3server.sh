#!/usr/bin/env bash
# Installs the S3 API server used by the storage tests (internal/s3test):
# versitygw with its posix backend, pinned. Skips the build when the binary is
# already in GOBIN. If the build fails, the tests fall back to moto_server
# (python3 -m moto.server), so this script never fails the CI run.
set -u
VERSION=${VERSITYGW_VERSION:-v1.8.0}
GOBIN_DIR=$(go env GOBIN)
[ -n "$GOBIN_DIR" ] || GOBIN_DIR="$(go env GOPATH)/bin"
BIN="$GOBIN_DIR/versitygw"
MARK="$GOBIN_DIR/.versitygw-version" # the binary does not print its module version
if [ -x "$BIN" ] && [ "$(cat "$MARK" 2>/dev/null)" = "$VERSION" ]; then
	echo "versitygw $VERSION already installed at $BIN"
	exit 0
fi
start=$(date +%s)
if go install "github.com/versity/versitygw/cmd/versitygw@$VERSION"; then
	echo "$VERSION" >"$MARK"
	echo "versitygw $VERSION installed at $BIN in $(( $(date +%s) - start ))s"
else
	echo "versitygw $VERSION did not install; storage tests will use moto_server" >&2
	python3 -c 'import moto' 2>/dev/null || echo "moto is not installed either: pip install 'moto[server]'" >&2
fi
exit 0
