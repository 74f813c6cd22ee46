#!/usr/bin/env bash
# npm run bench [-- --smoke]: installs what the references need (the CNI reference plugins, iperf3,
# Docker 20.10 for its overlay driver),
# builds, and runs bench/run.ts. Prints a table and writes bench/results.json; a full run also
# rewrites the figures table of docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${VXNET_SKIP_SETUP:-}" != 1 ]; then bash scripts/setup.sh; fi
need=()
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v iperf3 >/dev/null || need+=(iperf3)
[ -x /usr/sbin/dockerd ] || need+=(docker.io containerd runc)
[ -x /usr/bin/busybox ] || need+=(busybox-static)
command -v iptables >/dev/null || need+=(iptables)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
exec node dist/bench/run.js "$@"
