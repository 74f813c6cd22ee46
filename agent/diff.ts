import type { EndpointRecord } from '../control/model';
import type { EntryDelta, DesiredNetwork, DesiredState, Self as HostSelf } from './desired';
import { hostVethName } from './names';
import type { ActualNetwork, ActualState, ActualVeth, ActualVxlan, FdbEntry, NeighEntry } from './dataplane/types';

export type Op =
  | { kind: 'ensureDevices'; net: DesiredNetwork; reason: string }
  | { kind: 'removeDevices'; vni: number }
  | { kind: 'fdbAdd' | 'fdbDel'; vni: number; entries: FdbEntry[] }
  | { kind: 'neighAdd' | 'neighDel'; vni: number; entries: NeighEntry[] }
  | { kind: 'attachPort'; vni: number; veth: string; mac: string; reason: string }
  | { kind: 'repairEndpoint'; endpoint: EndpointRecord }
  | { kind: 'removeVeth'; veth: string };

// The host's identity as far as the devices depend on it (the one Self type is desired.ts's).
type Self = Pick<HostSelf, 'vtep' | 'vxlanPort'>;

// Why the devices of a network must be (re)created, or undefined when they are right as they are.
function devicesProblem(want: DesiredNetwork, have: ActualNetwork | undefined, self: Self): string | undefined {
  const vx = have?.vxlan;
  const br = have?.bridge;
  if (!vx) return `vxlan ${want.vxlan} missing`;
  if (!br) return `bridge ${want.bridge} missing`;
  const mismatch = vxlanMismatch(want, vx, self);
  if (mismatch) return mismatch;
  if (!vx.up || !br.up) return `${!vx.up ? want.vxlan : want.bridge} is down`;
  if (vx.master !== br.index) return `vxlan ${want.vxlan} is not a port of ${want.bridge}`;
  if (vx.mtu !== want.mtu || br.mtu !== want.mtu) return `mtu ${vx.mtu}/${br.mtu} instead of ${want.mtu}`;
  const missing = want.gateways.filter((g) => !br.addresses.includes(g));
  if (missing.length) return `bridge ${want.bridge} lacks ${missing.join(', ')}`;
  return undefined;
}

// Why an existing vxlan device cannot serve the network and must be replaced (its settings cannot
// be changed in place), or undefined. The one rule: the planner's diff and the adapter that
// replaces the device (dataplane/host.ts) must agree, or one would replace what the other keeps.
export function vxlanMismatch(
  want: Pick<DesiredNetwork, 'vni' | 'vxlan'>,
  have: Pick<ActualVxlan, 'vni' | 'local' | 'port' | 'learning' | 'proxy'>,
  self: Self,
): string | undefined {
  if (have.vni !== want.vni || have.local !== self.vtep || have.port !== self.vxlanPort)
    return `vxlan ${want.vxlan} has vni ${have.vni} local ${have.local} port ${have.port}`;
  if (have.learning || !have.proxy) return `vxlan ${want.vxlan} has learning=${have.learning} proxy=${have.proxy}`;
  return undefined;
}

// A vxlan device that must be replaced loses its entries with it, so they are all re-added.
function mustReplaceVxlan(want: DesiredNetwork, have: ActualNetwork | undefined, self: Self): boolean {
  const vx = have?.vxlan;
  return !vx || vxlanMismatch(want, vx, self) !== undefined;
}

// Pure: the idempotent operations that turn `actual` into `desired`. Objects that are not ours by
// name (vx-N, vxbr-N, vxv<id>) are never in `actual`, so they are never touched. `busy` holds the
// endpoints whose Connect or Disconnect is in flight: their veths belong to that request, and
// `busyNetworks` the VNIs they attach to.
// `entriesInSync`: the caller knows that the FDB and neighbor entries in `actual` are those of
// `desired` (its last run applied them and nothing changed since), so they are not compared, except
// for a vxlan device that must be replaced (its entries go with it).
export function diff(
  desired: DesiredState,
  actual: ActualState,
  self: Self,
  busy: ReadonlySet<string> = new Set(),
  busyNetworks: ReadonlySet<number> = new Set(),
  entriesInSync = false,
): Op[] {
  const ops: Op[] = [];
  const wantedVeths = new Set<string>();
  for (const [vni, want] of desired.networks) {
    const have = actual.networks.get(vni);
    const problem = devicesProblem(want, have, self);
    if (problem) ops.push({ kind: 'ensureDevices', net: want, reason: problem });
    const replaced = mustReplaceVxlan(want, have, self);
    if (!entriesInSync || replaced) entryOps(ops, vni, want, replaced ? undefined : have);
    for (const ep of want.local) {
      const name = hostVethName(ep.id);
      wantedVeths.add(name);
      if (busy.has(ep.id)) continue;
      const veth = actual.veths.get(name);
      if (!veth) ops.push({ kind: 'repairEndpoint', endpoint: ep });
      else {
        const reason = portProblem(veth, ep.mac, problem !== undefined || veth.master !== have?.bridge?.index);
        if (reason) ops.push({ kind: 'attachPort', vni, veth: name, mac: ep.mac, reason });
      }
    }
  }
  for (const [name] of actual.veths) {
    if (wantedVeths.has(name)) continue;
    if ([...busy].some((id) => hostVethName(id) === name)) continue;
    ops.push({ kind: 'removeVeth', veth: name });
  }
  for (const [vni] of actual.networks) {
    // A Connect in flight may have created these devices before its record reached our view.
    if (!desired.networks.has(vni) && !busyNetworks.has(vni)) ops.push({ kind: 'removeDevices', vni });
  }
  return ops;
}

// Why an endpoint's port must be attached again, or undefined. A port is a quiet one: the bridge
// knows its container's MAC by a static entry and floods it no unknown unicast. The VXLAN port
// does not learn (no entry but etcd's), so every frame to a remote container is unknown unicast
// to the bridge: flooded, it was copied to every local container of the network; now it goes to
// the VXLAN port alone, and a local container is never unknown.
function portProblem(veth: ActualVeth, mac: string, detached: boolean): string | undefined {
  if (detached) return 'not a port of the bridge';
  if (veth.flood) return 'gets unknown unicast';
  if (veth.macs && !veth.macs.has(mac)) return `no static entry for ${mac}`;
  return undefined;
}

// The FDB and neighbor operations that turn one network's entries in `have` into those of `want`.
function entryOps(ops: Op[], vni: number, want: DesiredNetwork, have: ActualNetwork | undefined): void {
  const haveFdb = have?.fdb ?? new Map<string, string>();
  const haveNeigh = have?.neigh ?? new Map<string, string>();
  // Loops rather than spread-filter-map: these maps hold every remote endpoint of the network.
  const fdbDel: FdbEntry[] = [];
  for (const [mac, dst] of haveFdb) if (!want.fdb.has(mac)) fdbDel.push({ mac, dst });
  const neighDel: NeighEntry[] = [];
  for (const [ip, mac] of haveNeigh) if (!want.neigh.has(ip)) neighDel.push({ ip, mac });
  pushEntryOps(ops, vni, fdbDel, neighDel, fdbAdds(want.fdb, have), neighAdds(want.neigh, have));
}

// Entries of `want` the kernel does not hold as wanted.
function fdbAdds(want: ReadonlyMap<string, string>, have: ActualNetwork | undefined): FdbEntry[] {
  const out: FdbEntry[] = [];
  for (const [mac, dst] of want) if (have?.fdb.get(mac) !== dst) out.push({ mac, dst });
  return out;
}
function neighAdds(want: ReadonlyMap<string, string>, have: ActualNetwork | undefined): NeighEntry[] {
  const out: NeighEntry[] = [];
  for (const [ip, mac] of want) if (have?.neigh.get(ip) !== mac) out.push({ ip, mac });
  return out;
}

// Removals before additions, one op per kind and network.
function pushEntryOps(
  ops: Op[],
  vni: number,
  fdbDel: FdbEntry[],
  neighDel: NeighEntry[],
  fdbAdd: FdbEntry[],
  neighAdd: NeighEntry[],
): void {
  if (fdbDel.length) ops.push({ kind: 'fdbDel', vni, entries: fdbDel });
  if (neighDel.length) ops.push({ kind: 'neighDel', vni, entries: neighDel });
  if (fdbAdd.length) ops.push({ kind: 'fdbAdd', vni, entries: fdbAdd });
  if (neighAdd.length) ops.push({ kind: 'neighAdd', vni, entries: neighAdd });
}

// The FDB and neighbor operations of patchDesired's result that the kernel does not match yet.
export function deltaOps(delta: ReadonlyMap<number, EntryDelta>, actual: ActualState): Op[] {
  const ops: Op[] = [];
  for (const [vni, d] of delta) {
    const have = actual.networks.get(vni);
    const fdbDel: FdbEntry[] = [];
    for (const mac of d.removed.fdb) {
      const dst = have?.fdb.get(mac);
      if (dst !== undefined) fdbDel.push({ mac, dst });
    }
    const neighDel: NeighEntry[] = [];
    for (const ip of d.removed.neigh) {
      const mac = have?.neigh.get(ip);
      if (mac !== undefined) neighDel.push({ ip, mac });
    }
    pushEntryOps(ops, vni, fdbDel, neighDel, fdbAdds(d.added.fdb, have), neighAdds(d.added.neigh, have));
  }
  return ops;
}
