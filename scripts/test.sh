#!/usr/bin/env bash
# The test command: install, build (type-check), lint, unit tests, integration tests against a real
# etcd and the real kernel in test-owned namespaces, then the demo once so that it cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== lint"
npx eslint --max-warnings 0 .
echo "== unit tests"
npx mocha 'dist/test/unit/**/*.test.js'
echo "== a real CNI runtime (libcni) for the CNI tests, built from Debian's packages by the shared lab's recipe"
if [ ! -x .cache/cni-client ]; then
  if ! command -v go >/dev/null || [ ! -d /usr/share/gocode/src/github.com/containernetworking/cni/libcni ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends golang-go golang-github-appc-cni-dev >/dev/null
  fi
  mkdir -p .cache
  bash ../shared/recipes/build-cni-client.sh "$PWD/.cache/cni-client"
fi
echo "== integration tests"
npx mocha 'dist/test/integration/**/*.test.js'
echo "== benchmark smoke run (small sizes; the full run is npm run bench)"
VXNET_SKIP_SETUP=1 bash scripts/bench.sh --smoke
echo "== demo"
VXNET_SKIP_SETUP=1 bash scripts/demo.sh
