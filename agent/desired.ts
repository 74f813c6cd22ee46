import type { EndpointRecord, HostRecord, NetworkRecord } from '../control/model';
import { overlayMtu } from '../control/model';
import { addressOf } from '../control/ipam';
import type { Snapshot } from '../control/store/store';
import { bridgeName, vxlanName } from './names';

export interface Self {
  name: string;
  vtep: string;
  vxlanPort: number;
  underlayMtu: number;
}

// What one network needs on this host. Maps are keyed so that the diff is a set comparison.
export interface DesiredNetwork {
  networkId: string;
  vni: number;
  vxlan: string;
  bridge: string;
  mtu: number;
  gateways: string[];          // "10.0.0.1/24": the anycast gateway on the bridge
  fdb: Map<string, string>;    // remote MAC -> remote VTEP
  neigh: Map<string, string>;  // remote IP -> remote MAC
  local: EndpointRecord[];
}

export interface DesiredState {
  networks: Map<number, DesiredNetwork>; // by VNI
}

function prefixLen(cidr: string): string {
  return cidr.split('/')[1];
}

// Pure: the kernel state this host should hold, from the etcd snapshot and the host's identity.
// A network is present only where it has a local endpoint; peers count only while their host key
// (bound to their lease) exists, so a dead host's entries go when its lease ends.
export function computeDesired(snap: Snapshot, self: Self): DesiredState {
  const byNet = new Map<string, EndpointRecord[]>();
  for (const ep of snap.endpoints.values()) {
    const list = byNet.get(ep.networkId);
    if (list) list.push(ep);
    else byNet.set(ep.networkId, [ep]);
  }
  const networks = new Map<number, DesiredNetwork>();
  for (const [netId, eps] of byNet) {
    const net = snap.networks.get(netId);
    if (!net) continue;
    const local = eps.filter((e) => e.host === self.name);
    if (local.length === 0) continue;
    networks.set(net.vni, desiredNetwork(net, eps, local, snap.hosts, self));
  }
  return { networks };
}

function desiredNetwork(net: NetworkRecord, eps: EndpointRecord[], local: EndpointRecord[], hosts: Map<string, HostRecord>, self: Self): DesiredNetwork {
  const fdb = new Map<string, string>();
  const neigh = new Map<string, string>();
  for (const ep of eps) {
    if (ep.host === self.name) continue;
    const host = hosts.get(ep.host);
    if (!host || host.vtep === self.vtep) continue;
    fdb.set(ep.mac, host.vtep);
    if (ep.ipv4) neigh.set(addressOf(ep.ipv4), ep.mac);
    if (ep.ipv6) neigh.set(addressOf(ep.ipv6), ep.mac);
  }
  const gateways = [...net.ipv4, ...net.ipv6].map((s) => `${s.gateway}/${prefixLen(s.subnet)}`);
  return {
    networkId: net.id,
    vni: net.vni,
    vxlan: vxlanName(net.vni),
    bridge: bridgeName(net.vni),
    mtu: overlayMtu(net, self.underlayMtu, self.vtep.includes(':')),
    gateways,
    fdb,
    neigh,
    local,
  };
}
