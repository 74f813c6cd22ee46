import type { EndpointRecord, HostRecord, NetworkRecord } from '../control/model';
import { overlayMtu } from '../control/model';
import { addressOf } from '../control/ipam';
import type { ClusterView } from '../control/store/store';
import { bridgeName, vxlanName } from './names';

// This host as the data plane sees it; every module that derives kernel state from it takes this type
// (or a Pick of it).
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
  gateways: string[]; // "10.0.0.1/24": the anycast gateway on the bridge
  fdb: Map<string, string>; // remote MAC -> remote VTEP
  neigh: Map<string, string>; // remote IP -> remote MAC
  local: EndpointRecord[];
}

export interface DesiredState {
  networks: Map<number, DesiredNetwork>; // by VNI
}

function prefixLen(cidr: string): string {
  return cidr.split('/')[1];
}

// What this host derives from a network record, each from one function: the reconciler's desired
// state, Connect, Docker's Join and a veth's re-attach must agree on every one of them.

// The MTU of the network's devices and sandbox interfaces on this host.
export function networkMtu(net: Pick<NetworkRecord, 'mtu'>, self: Pick<Self, 'vtep' | 'underlayMtu'>): number {
  return overlayMtu(net, self.underlayMtu, self.vtep.includes(':'));
}

// The gateways a sandbox of the network routes through: the first subnet's of each family.
export function gatewaysOf(net: Pick<NetworkRecord, 'ipv4' | 'ipv6'>): {
  v4: string | undefined;
  v6: string | undefined;
} {
  return { v4: net.ipv4[0]?.gateway, v6: net.ipv6[0]?.gateway };
}

// The network's devices on this host (the bridge holds every subnet's gateway), without entries.
export function networkDevices(
  net: NetworkRecord,
  self: Pick<Self, 'vtep' | 'underlayMtu'>,
  local: EndpointRecord[] = [],
): DesiredNetwork {
  return {
    networkId: net.id,
    vni: net.vni,
    vxlan: vxlanName(net.vni),
    bridge: bridgeName(net.vni),
    mtu: networkMtu(net, self),
    gateways: [...net.ipv4, ...net.ipv6].map((s) => `${s.gateway}/${prefixLen(s.subnet)}`),
    fdb: new Map(),
    neigh: new Map(),
    local,
  };
}

// Pure: the kernel state this host should hold, from the etcd snapshot and the host's identity.
// A network is present only where it has a local endpoint; peers count only while their host key
// (bound to their lease) exists, so a dead host's entries go when its lease ends.
export function computeDesired(snap: ClusterView, self: Self): DesiredState {
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

function desiredNetwork(
  net: NetworkRecord,
  eps: EndpointRecord[],
  local: EndpointRecord[],
  hosts: Map<string, HostRecord>,
  self: Self,
): DesiredNetwork {
  const dn = networkDevices(net, self, local);
  for (const ep of eps) {
    if (ep.host === self.name) continue;
    const host = hosts.get(ep.host);
    if (!host || host.vtep === self.vtep) continue;
    dn.fdb.set(ep.mac, host.vtep);
    if (ep.ipv4) dn.neigh.set(addressOf(ep.ipv4), ep.mac);
    if (ep.ipv6) dn.neigh.set(addressOf(ep.ipv6), ep.mac);
  }
  return dn;
}

// A change of the view's endpoints since a desired state was computed (ClusterState's journal).
export interface EndpointChange {
  ep: EndpointRecord;
  kind: 'created' | 'updated' | 'deleted';
}

// One network's entries added (or changed) and removed by a patch.
export interface EntryDelta {
  added: { fdb: Map<string, string>; neigh: Map<string, string> };
  removed: { fdb: Set<string>; neigh: Set<string> };
}

// What `changes` add to and remove from each network's entries, applied to `desired` (computed
// from the view before them) in place: with 10,000 endpoints, computing desired state again and
// comparing every entry cost 25-70 ms per reconcile for a change of a few. Undefined, and `desired`
// untouched, when a change needs the whole computation: this host's own endpoints, an update in a
// network this host serves, and a removal whose MAC or address another endpoint of the network
// still holds (the view counts them). Equal to computeDesired(snap) where it answers (unit test):
// a new record is the last of the view's insertion order, so it wins a shared key there as here.
export function patchDesired(
  desired: DesiredState,
  snap: ClusterView,
  self: Self,
  changes: readonly EndpointChange[],
): Map<number, EntryDelta> | undefined {
  const served = (ep: EndpointRecord): DesiredNetwork | undefined => {
    const net = snap.networks.get(ep.networkId);
    const dn = net && desired.networks.get(net.vni);
    return dn?.networkId === ep.networkId ? dn : undefined;
  };
  const held = (ep: EndpointRecord): boolean =>
    snap.endpoints.macCount(ep.networkId, ep.mac) > 0 ||
    [ep.ipv4, ep.ipv6].some((a) => a && snap.endpoints.hasAddress(ep.networkId, a));
  for (const c of changes) {
    if (c.ep.host === self.name) return undefined;
    if (c.kind === 'created' || !served(c.ep)) continue;
    if (c.kind === 'updated' || held(c.ep)) return undefined;
  }
  const delta = new Map<number, EntryDelta>();
  // A bulk change is thousands of endpoints of one network: its desired state and delta are looked
  // up once per run of changes in it, and a set that is empty is not asked to delete.
  let lastNet: string | undefined;
  let dn: DesiredNetwork | undefined;
  let d: EntryDelta | undefined;
  for (const { ep, kind } of changes) {
    if (ep.networkId !== lastNet) {
      lastNet = ep.networkId;
      dn = served(ep);
      d = dn && delta.get(dn.vni);
      if (dn && !d)
        delta.set(
          dn.vni,
          (d = { added: { fdb: new Map(), neigh: new Map() }, removed: { fdb: new Set(), neigh: new Set() } }),
        );
    }
    if (!dn || !d) continue;
    const { added, removed } = d;
    const v4 = ep.ipv4 ? addressOf(ep.ipv4) : undefined;
    const v6 = ep.ipv6 ? addressOf(ep.ipv6) : undefined;
    if (kind === 'deleted') {
      dn.fdb.delete(ep.mac);
      if (added.fdb.size) added.fdb.delete(ep.mac);
      removed.fdb.add(ep.mac);
      for (const ip of [v4, v6]) {
        if (ip === undefined) continue;
        dn.neigh.delete(ip);
        if (added.neigh.size) added.neigh.delete(ip);
        removed.neigh.add(ip);
      }
      continue;
    }
    const host = snap.hosts.get(ep.host);
    if (!host || host.vtep === self.vtep) continue;
    dn.fdb.set(ep.mac, host.vtep);
    added.fdb.set(ep.mac, host.vtep);
    if (removed.fdb.size) removed.fdb.delete(ep.mac);
    for (const ip of [v4, v6]) {
      if (ip === undefined) continue;
      dn.neigh.set(ip, ep.mac);
      added.neigh.set(ip, ep.mac);
      if (removed.neigh.size) removed.neigh.delete(ip);
    }
  }
  return delta;
}
