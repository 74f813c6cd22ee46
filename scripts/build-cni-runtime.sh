#!/usr/bin/env bash
# Builds test/tools/cni-runtime (a libcni runtime for the CNI tests) from Debian's packages only:
# golang-go and golang-github-appc-cni-dev (libcni 1.1.2 sources), in GOPATH mode, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-.cache/cni-runtime}
if ! command -v go >/dev/null || [ ! -d /usr/share/gocode/src/github.com/containernetworking/cni/libcni ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends golang-go golang-github-appc-cni-dev >/dev/null
fi
mkdir -p "$(dirname "$OUT")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp test/tools/cni-runtime/main.go "$tmp/"
(cd "$tmp" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$tmp/cache" GOFLAGS= CGO_ENABLED=0 go build -o "$OLDPWD/$OUT" main.go)
echo "built $OUT"
