import type { EndpointRecord } from '../model';
import { parseAddress } from '../ipam';

// The view's endpoints by id, with per-network indexes kept as the view changes: a Connect into a
// network of 10,000 endpoints walked the whole view several times (its addresses, this host's count
// of endpoints in it, the networks this host serves) and then scanned the taken addresses from the
// subnet's start, ~10 ms at 10,000 endpoints and ~50 ms at 50,000 (a Map subclass, so every writer of
// the view keeps the indexes without knowing of them).
export class EndpointTable extends Map<string, EndpointRecord> {
  // network -> its endpoints' addresses as the records hold them ("10.0.0.2/24"; the records' own
  // strings, no copy) -> how many hold each (one, but for records etcd's claims did not make).
  private readonly addresses = new Map<string, Map<string, number>>();
  // network -> MAC -> how many of the network's endpoints have it (the records' own strings): a
  // removal can be patched into desired state only when no other endpoint holds its MAC.
  private readonly macs = new Map<string, Map<string, number>>();
  // network -> host -> how many of the network's endpoints the host has.
  private readonly hosts = new Map<string, Map<string, number>>();
  // network -> subnet -> an address below which the subnet has nothing free (set by allocation),
  // and the addresses freed since then, which bring the floors down when next read.
  private readonly floors = new Map<string, { bySubnet: Map<string, bigint>; freed: string[] }>();

  // No entries through the constructor: Map's would call set() before the indexes exist.
  constructor() {
    super();
  }

  override set(id: string, ep: EndpointRecord): this {
    const previous = super.get(id);
    if (previous) this.unindex(previous, ep);
    super.set(id, ep);
    this.index(ep, previous);
    return this;
  }

  override delete(id: string): boolean {
    const previous = super.get(id);
    if (!previous) return false;
    this.unindex(previous);
    return super.delete(id);
  }

  override clear(): void {
    super.clear();
    this.addresses.clear();
    this.macs.clear();
    this.hosts.clear();
    this.floors.clear();
  }

  // Whether an address ("10.0.0.2/24", as the records write it) is an endpoint's in the network.
  hasAddress(networkId: string, cidr: string): boolean {
    return this.addresses.get(networkId)?.has(cidr) ?? false;
  }

  macCount(networkId: string, mac: string): number {
    return this.macs.get(networkId)?.get(mac) ?? 0;
  }

  addressCount(networkId: string): number {
    return this.addresses.get(networkId)?.size ?? 0;
  }

  // host -> endpoints in the network; empty when the network has none.
  hostsOf(networkId: string): ReadonlyMap<string, number> {
    return this.hosts.get(networkId) ?? NONE;
  }

  // Below the floor every address of the subnet is taken, reserved or being claimed; undefined when
  // unknown. Addresses freed since it was set bring it down first.
  floor(networkId: string, subnet: string): bigint | undefined {
    const f = this.floors.get(networkId);
    if (!f) return undefined;
    for (const cidr of f.freed) {
      const slash = cidr.indexOf('/');
      const v = valueOf(slash < 0 ? cidr : cidr.slice(0, slash));
      if (v === undefined) continue;
      const v6 = cidr.includes(':');
      for (const [s, at] of f.bySubnet) if (v < at && s.includes(':') === v6) f.bySubnet.set(s, v);
    }
    f.freed.length = 0;
    return f.bySubnet.get(subnet);
  }

  // `address`: the lowest free one, which allocation just found (and hands out).
  setFloor(networkId: string, subnet: string, address: string): void {
    const value = valueOf(address);
    if (value === undefined) return;
    let f = this.floors.get(networkId);
    if (!f) this.floors.set(networkId, (f = { bySubnet: new Map<string, bigint>(), freed: [] }));
    f.bySubnet.set(subnet, value);
  }

  // An address freed outside the view (a claim that did not commit, a Docker reservation released).
  forgetFloors(networkId: string): void {
    this.floors.delete(networkId);
  }

  // `previous`: the record this one replaces; the addresses both hold are counted once.
  private index(ep: EndpointRecord, previous?: EndpointRecord): void {
    for (const a of [ep.ipv4, ep.ipv6])
      if (a && !holds(previous, ep.networkId, a)) count(this.addresses, ep.networkId, a, 1);
    count(this.hosts, ep.networkId, ep.host, 1);
    count(this.macs, ep.networkId, ep.mac, 1);
  }

  // `next`: the record replacing this one; addresses it keeps are not freed (the watch delivers
  // the agent's own writes again, and would otherwise bring the floors down each time).
  private unindex(ep: EndpointRecord, next?: EndpointRecord): void {
    for (const a of [ep.ipv4, ep.ipv6]) {
      if (!a || holds(next, ep.networkId, a)) continue;
      count(this.addresses, ep.networkId, a, -1);
      const f = this.floors.get(ep.networkId);
      if (!f || this.hasAddress(ep.networkId, a)) continue;
      // Bounded: a mass removal forgets the floors, and the next allocation scans from the start once.
      if (f.freed.length >= MAX_FREED) this.floors.delete(ep.networkId);
      else f.freed.push(a);
    }
    count(this.hosts, ep.networkId, ep.host, -1);
    count(this.macs, ep.networkId, ep.mac, -1);
  }
}

function valueOf(address: string): bigint | undefined {
  try {
    return parseAddress(address).value;
  } catch {
    return undefined;
  }
}

function holds(ep: EndpointRecord | undefined, networkId: string, address: string): boolean {
  return ep !== undefined && ep.networkId === networkId && (ep.ipv4 === address || ep.ipv6 === address);
}

// Adds `by` to the count of `key` in the network's map, dropping what reaches zero.
function count(counts: Map<string, Map<string, number>>, networkId: string, key: string, by: number): void {
  let m = counts.get(networkId);
  if (!m) counts.set(networkId, (m = new Map<string, number>()));
  const n = (m.get(key) ?? 0) + by;
  if (n > 0) m.set(key, n);
  else m.delete(key);
  if (!m.size) counts.delete(networkId);
}

const NONE: ReadonlyMap<string, number> = new Map();
const MAX_FREED = 256;
