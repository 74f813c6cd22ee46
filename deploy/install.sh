#!/usr/bin/env bash
# Installs vxnet on a Debian host, from this checkout (built with `npm run build`) or from the
# tarball that `npm pack` makes:
#
#   deploy/install.sh                      # from the checkout this script is in
#   deploy/install.sh --from vxnet-0.1.0.tgz
#   deploy/install.sh --uninstall
#
# Installs /usr/lib/vxnet (the program and its production npm dependencies), /usr/bin/vxnet,
# the systemd units /etc/systemd/system/vxnet-agent.service and vxnet-dns.service, the example config
# /etc/vxnet/agent.yaml (only when there is none) and the CNI plugin into /opt/cni/bin when that
# directory exists. Running it again updates in place. --uninstall removes exactly that, keeps a
# config that was changed, and never touches the data plane (devices, entries) or etcd's data.
# --root DIR installs below DIR instead of / (for packaging and tests).
set -euo pipefail

ROOT=/
FROM=
UNINSTALL=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=$2; shift 2 ;;
    --from) FROM=$2; shift 2 ;;
    --uninstall) UNINSTALL=1; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
ROOT=${ROOT%/}
LIB=$ROOT/usr/lib/vxnet
BIN=$ROOT/usr/bin/vxnet
UNIT=$ROOT/etc/systemd/system/vxnet-agent.service
DNS_UNIT=$ROOT/etc/systemd/system/vxnet-dns.service
CONF=$ROOT/etc/vxnet/agent.yaml
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)

say() { echo "install.sh: $*"; }

reload_systemd() {
  if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
}

if [ $UNINSTALL = 1 ]; then
  if [ -f "$CONF" ] && [ -f "$LIB/deploy/agent.yaml" ] && cmp -s "$CONF" "$LIB/deploy/agent.yaml"; then
    rm -f "$CONF"; rmdir "$ROOT/etc/vxnet" 2>/dev/null || true
  elif [ -f "$CONF" ]; then
    say "keeping $CONF (it was changed)"
  fi
  rm -f "$UNIT" "$DNS_UNIT" "$BIN"
  if [ -f "$LIB/.cni-installed" ]; then while read -r f; do rm -f "$f"; done < "$LIB/.cni-installed"; fi
  rm -rf "$LIB"
  reload_systemd
  say "removed vxnet; the data plane and etcd's data are untouched (a running agent keeps running until stopped)"
  exit 0
fi

command -v node >/dev/null || { echo "install.sh: Node.js 20 or newer is required (apt-get install nodejs npm)" >&2; exit 1; }

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
if [ -n "$FROM" ]; then
  tar -xzf "$FROM" -C "$STAGE"
  SRC=$STAGE/package
else
  SRC=$SRC_DIR
  [ -f "$SRC/dist/cli/main.js" ] || { echo "install.sh: $SRC is not built: run npm run build first" >&2; exit 1; }
fi
[ -f "$SRC/native/build/Release/vxnet_native.node" ] || { echo "install.sh: the native addon is missing in $SRC (npm run build)" >&2; exit 1; }

mkdir -p "$LIB.new"
trap 'rm -rf "$STAGE" "$LIB.new"' EXIT
for item in package.json package-lock.json README.md docs bin proto deploy; do
  [ -e "$SRC/$item" ] && cp -a "$SRC/$item" "$LIB.new/"
done
mkdir -p "$LIB.new/dist" "$LIB.new/native/build/Release"
for d in agent cli control lib bundle proto; do [ -d "$SRC/dist/$d" ] && cp -a "$SRC/dist/$d" "$LIB.new/dist/"; done
cp -a "$SRC/native/build/Release/vxnet_native.node" "$LIB.new/native/build/Release/"
if [ -d "$SRC/dist/cni" ]; then cp -a "$SRC/dist/cni" "$LIB.new/dist/"; fi
if [ -f "$SRC/native/build/Release/vxnet-cni" ]; then cp -a "$SRC/native/build/Release/vxnet-cni" "$LIB.new/native/build/Release/"; fi

say "installing production dependencies into $LIB"
(cd "$LIB.new" && if [ -f package-lock.json ]; then npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error; else npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error; fi) >/dev/null
rm -rf "$LIB.old"
[ -d "$LIB" ] && mv "$LIB" "$LIB.old"
mv "$LIB.new" "$LIB"
rm -rf "$LIB.old"
chmod 0755 "$LIB/bin/vxnet"

mkdir -p "$(dirname "$BIN")" "$(dirname "$UNIT")" "$(dirname "$CONF")"
ln -sfn ../lib/vxnet/bin/vxnet "$BIN"
install -m 0644 "$LIB/deploy/systemd/vxnet-agent.service" "$UNIT"
install -m 0644 "$LIB/deploy/systemd/vxnet-dns.service" "$DNS_UNIT"
if [ ! -e "$CONF" ]; then
  install -m 0600 "$LIB/deploy/agent.yaml" "$CONF"
  say "wrote the example config $CONF: set vtep/vtep_interface and etcd before starting"
fi
# The CNI plugin goes where CNI runtimes look: /opt/cni/bin (containerd, CRI-O; created if absent)
# and /usr/lib/cni (Debian's podman and plugins) when that exists.
if [ -f "$LIB/native/build/Release/vxnet-cni" ]; then
  mkdir -p "$ROOT/opt/cni/bin"
  for d in "$ROOT/opt/cni/bin" "$ROOT/usr/lib/cni"; do
    [ -d "$d" ] && install -m 0755 "$LIB/native/build/Release/vxnet-cni" "$d/vxnet" && echo "$d/vxnet" >> "$LIB/.cni-installed"
  done
fi
reload_systemd
say "installed vxnet $(node -p "require('$LIB/package.json').version") into ${ROOT:-/}"
say "next: edit $CONF, then: vxnet agent --check-config $CONF && systemctl enable --now vxnet-dns vxnet-agent"
