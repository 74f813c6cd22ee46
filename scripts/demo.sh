#!/usr/bin/env bash
# vxnet demo: three hosts (network namespaces on one underlay bridge), one agent per host, an
# overlay network with two containers (namespaces) per host, cross-host pings by address and by
# name, the kernel state behind them, isolation between networks, and disconnect. Exits 0 only if
# every check held; leaves nothing behind (namespaces, processes, temp dirs), also on Ctrl-C.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ "${VXNET_SKIP_SETUP:-}" != 1 ]; then bash scripts/setup.sh || exit 1; fi

P="vxdemo$$"                       # every namespace this demo makes starts with this
TMP=$(mktemp -d /tmp/vxdemo.XXXXXX)
PIDS=()
FAILED=0
vxnet() { node "$ROOT/dist/cli/main.js" "$@"; }

cleanup() {
  trap - EXIT INT TERM
  # The resolvers the agents started (they outlive an agent by design), by the PIDs they wrote.
  for f in "$TMP"/h*-dns.sock.pid; do [ -f "$f" ] && PIDS+=("$(cat "$f")"); done
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  for ns in $(ip netns list | awk '{print $1}' | grep "^$P-"); do ip netns del "$ns" 2>/dev/null; rm -rf "/etc/netns/$ns"; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo; echo "interrupted: cleaning up"; exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
check() { # check "what" command...: prints ok/FAIL, counts failures
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then printf '  ok    %s\n' "$what"; else printf '  FAIL  %s\n' "$what"; FAILED=$((FAILED + 1)); fi
}
check_not() {
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then printf '  FAIL  %s\n' "$what"; FAILED=$((FAILED + 1)); else printf '  ok    %s\n' "$what"; fi
}
wait_for() { # wait_for seconds command...: bounded poll
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.1; done
}

say "1. etcd on loopback (and on a unix socket that the host namespaces reach through the file system)"
PORT=$((20000 + RANDOM % 20000)); PEER=$((PORT + 1))
(cd "$TMP" && exec etcd --data-dir "$TMP/etcd" --listen-client-urls "http://127.0.0.1:$PORT,unix://etcd.sock:0" \
  --advertise-client-urls "http://127.0.0.1:$PORT" --listen-peer-urls "http://127.0.0.1:$PEER" \
  --initial-advertise-peer-urls "http://127.0.0.1:$PEER" --initial-cluster "default=http://127.0.0.1:$PEER" \
  --log-level warn >"$TMP/etcd.log" 2>&1) &
PIDS+=($!)
ETCD="unix://$TMP/etcd.sock:0"
wait_for 15 test -S "$TMP/etcd.sock:0" || { echo "etcd did not start:"; cat "$TMP/etcd.log"; exit 1; }
echo "etcd pid ${PIDS[0]}, client socket $TMP/etcd.sock:0"

say "2. three hosts: namespaces $P-h1..h3 joined by bridge 'ul' in $P-ul (underlay 192.168.231.0/24)"
ip netns add "$P-ul"
ip -n "$P-ul" link add ul type bridge && ip -n "$P-ul" link set ul up && ip -n "$P-ul" link set lo up
for i in 1 2 3; do
  ip netns add "$P-h$i"
  ip link add "$P-e$i" netns "$P-h$i" type veth peer name "h$i" netns "$P-ul"
  ip -n "$P-h$i" link set "$P-e$i" name eth0
  ip -n "$P-h$i" addr add "192.168.231.1$i/24" dev eth0
  ip -n "$P-h$i" link set eth0 up && ip -n "$P-h$i" link set lo up
  ip -n "$P-ul" link set "h$i" master ul up
  echo "host h$i: 192.168.231.1$i"
done

say "3. one vxnet agent per host, inside the host's namespace"
for i in 1 2 3; do
  ip netns exec "$P-h$i" node "$ROOT/dist/cli/main.js" agent --name "h$i" --vtep "192.168.231.1$i" --etcd "$ETCD" \
    --socket "$TMP/h$i.sock" --docker false --lease-ttl 5 --log-format text \
    --dns-socket "$TMP/h$i-dns.sock" --dns-upstreams 127.0.0.1:9 >"$TMP/agent-h$i.log" 2>&1 &
  PIDS+=($!)
done
for i in 1 2 3; do
  wait_for 20 vxnet -H "unix://$TMP/h$i.sock" network ls || { echo "agent h$i did not come up:"; cat "$TMP/agent-h$i.log"; exit 1; }
  echo "agent h$i serving on $TMP/h$i.sock"
done
H1="unix://$TMP/h1.sock"; H2="unix://$TMP/h2.sock"; H3="unix://$TMP/h3.sock"

say "4. create an overlay network (from host 1) and see it from host 3"
run vxnet -H "$H1" network create --subnet 10.77.0.0/24 --label demo=yes blue
run vxnet -H "$H3" network ls
VNI=$(vxnet -H "$H1" network inspect blue | sed -n 's/.*vxlanid_list": "\([0-9]*\)".*/\1/p')
echo "VXLAN id: $VNI"

say "5. two containers (namespaces) per host, connected to blue through their host's agent"
declare -A IP
for i in 1 2 3; do for j in 1 2; do
  c="$P-c$i$j"; ip netns add "$c"; ip -n "$c" link set lo up
  H="unix://$TMP/h$i.sock"
  run vxnet -H "$H" network connect --name "c$i$j" --alias "web$i" blue "$c"
  IP[$i$j]=$(ip -n "$c" -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
  echo "   c$i$j on h$i: ${IP[$i$j]}"
done; done

say "6. every container pings every container on the other hosts, by IP"
for src in 11 12 21 22 31 32; do for dst in 11 12 21 22 31 32; do
  [ "${src:0:1}" = "${dst:0:1}" ] && continue
  check "c$src -> c$dst (${IP[$dst]})" ip netns exec "$P-c$src" ping -c1 -W2 "${IP[$dst]}"
done; done
check "c11 -> c12 (same host, through the bridge)" ip netns exec "$P-c11" ping -c1 -W2 "${IP[12]}"
check "c11 -> its gateway 10.77.0.1 (the bridge on h1)" ip netns exec "$P-c11" ping -c1 -W2 10.77.0.1

say "6b. and by name: the resolver on each host's gateway answers for the whole network"
run cat "/etc/netns/$P-c11/resolv.conf"
run ip netns exec "$P-c11" getent hosts c21
check "c11 (h1) resolves c21 (h2) by name" sh -c "ip netns exec $P-c11 getent hosts c21 | grep -q '^${IP[21]} '"
check "c31 (h3) resolves c12.blue.vxnet (h1)" sh -c "ip netns exec $P-c31 getent hosts c12.blue.vxnet | grep -q '^${IP[12]} '"
check "c11 (h1) reaches web2 (an alias on h2) by name" sh -c "ip netns exec $P-c11 ping -c1 -W2 web2"

say "7. the kernel state that made it work, on host 1"
run ip -n "$P-h1" -d link show "vx-$VNI"
run bridge -n "$P-h1" fdb show dev "vx-$VNI"
run ip -n "$P-h1" neigh show dev "vx-$VNI"
run ip -n "$P-h1" -br link show master "vxbr-$VNI"
check "h1 has an FDB entry for c21's MAC -> 192.168.231.12" sh -c "bridge -n $P-h1 fdb show dev vx-$VNI | grep -q 'dst 192.168.231.12'"

say "8. a second network cannot reach the first"
run vxnet -H "$H2" network create --subnet 10.78.0.0/24 red
ip netns add "$P-r1"; ip -n "$P-r1" link set lo up
run vxnet -H "$H2" network connect red "$P-r1"
RIP=$(ip -n "$P-r1" -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
echo "   r1 on h2 in red: $RIP"
check_not "r1 (red) -> c11 (blue, other host) fails" ip netns exec "$P-r1" ping -c1 -W1 "${IP[11]}"
check_not "r1 (red) -> c21 (blue, same host) fails" ip netns exec "$P-r1" ping -c1 -W1 "${IP[21]}"
check_not "c11 (blue) -> r1 (red) fails" ip netns exec "$P-c11" ping -c1 -W1 "$RIP"
check_not "r1 (red) cannot resolve blue's c11.blue.vxnet" sh -c "ip netns exec $P-r1 getent hosts c11.blue.vxnet"

say "9. disconnect c21: its entries disappear from the peers, pings to it fail"
MAC21=$(ip -n "$P-c21" -o link show eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
run vxnet -H "$H2" network disconnect blue "$P-c21"
check "h1 dropped the FDB entry for c21 ($MAC21) within 2 s" wait_for 2 sh -c "! bridge -n $P-h1 fdb show dev vx-$VNI | grep -q $MAC21"
check "h3 dropped the neighbor entry for ${IP[21]} within 2 s" wait_for 2 sh -c "! ip -n $P-h3 neigh show dev vx-$VNI | grep -q '${IP[21]} '"
run bridge -n "$P-h1" fdb show dev "vx-$VNI"
check_not "c11 -> c21 fails after disconnect" ip netns exec "$P-c11" ping -c1 -W1 "${IP[21]}"
check "c21 no longer resolves (within 1 s)" wait_for 1 sh -c "! ip netns exec $P-c11 getent hosts c21.blue.vxnet"
check "the disconnect removed c21's resolv.conf" test ! -e "/etc/netns/$P-c21/resolv.conf"
check "c11 -> c22 still works" ip netns exec "$P-c11" ping -c1 -W2 "${IP[22]}"

say "10. inspect shows the endpoints and the host of each"
run vxnet -H "$H3" network inspect -f '{{range .Containers}}{{.Name}} {{.IPv4Address}} {{.Host}}{{"\n"}}{{end}}' blue

if [ $FAILED -eq 0 ]; then say "demo passed: every check held"; exit 0; fi
say "demo FAILED: $FAILED check(s) did not hold"
for i in 1 2 3; do echo "--- agent h$i log (tail)"; tail -n 15 "$TMP/agent-h$i.log"; done
exit 1
