#!/usr/bin/env bash
# The test command: install, build (type-check), format check, lint, unit tests, integration tests against a real
# etcd and the real kernel in test-owned namespaces, then the demo once so that it cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== format (prettier --check; npm run format rewrites)"
npx prettier --check . >/dev/null || { npx prettier --list-different .; echo "format: run npm run format" >&2; exit 1; }
echo "== lint"
npx eslint --max-warnings 0 .
echo "== unit tests"
npx mocha 'dist/test/unit/**/*.test.js'
echo "== real runtimes for the integration tests: a libcni client (built from Debian's Go packages), podman, containerd 1.6 (ctr), Docker 20.10, Prometheus, zsh and fish (completion)"
[ -x .cache/cni-runtime ] || bash scripts/build-cni-runtime.sh
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || [ ! -x /usr/bin/busybox ] || [ ! -x /usr/sbin/dockerd ] || ! command -v ctr >/dev/null || ! command -v iptables >/dev/null || ! command -v promtool >/dev/null || ! command -v zsh >/dev/null || ! command -v fish >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends podman runc busybox-static docker.io containerd iptables prometheus zsh fish >/dev/null
fi
echo "== integration tests"
npx mocha 'dist/test/integration/**/*.test.js'
echo "== benchmark smoke run (small sizes; the full run is npm run bench)"
VXNET_SKIP_SETUP=1 bash scripts/bench.sh --smoke
echo "== demo"
VXNET_SKIP_SETUP=1 bash scripts/demo.sh
