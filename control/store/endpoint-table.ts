import type { EndpointRecord } from '../model';

// The view's endpoints by id, with per-network indexes kept as the view changes: a Connect into a
// network of 10,000 endpoints walked the whole view several times (its addresses, this host's count
// of endpoints in it, the networks this host serves) and then scanned the taken addresses from the
// subnet's start, ~10 ms at 10,000 endpoints and ~50 ms at 50,000 (a Map subclass, so every writer of
// the view keeps the indexes without knowing of them).
export class EndpointTable extends Map<string, EndpointRecord> {
  // network -> its endpoints' addresses as the records hold them ("10.0.0.2/24"): the records' own
  // strings, no copy.
  private readonly addresses = new Map<string, Set<string>>();
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
    this.index(ep);
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
    this.hosts.clear();
    this.floors.clear();
  }

  // Whether an address ("10.0.0.2/24", as the records write it) is an endpoint's in the network.
  hasAddress(networkId: string, cidr: string): boolean {
    return this.addresses.get(networkId)?.has(cidr) ?? false;
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
  floor(networkId: string, subnet: string, valueOf: (address: string) => bigint | undefined): bigint | undefined {
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

  setFloor(networkId: string, subnet: string, value: bigint): void {
    let f = this.floors.get(networkId);
    if (!f) this.floors.set(networkId, (f = { bySubnet: new Map<string, bigint>(), freed: [] }));
    f.bySubnet.set(subnet, value);
  }

  // An address freed outside the view (a claim that did not commit, a Docker reservation released).
  forgetFloors(networkId: string): void {
    this.floors.delete(networkId);
  }

  private index(ep: EndpointRecord): void {
    if (ep.ipv4) this.addressesOf(ep.networkId).add(ep.ipv4);
    if (ep.ipv6) this.addressesOf(ep.networkId).add(ep.ipv6);
    let byHost = this.hosts.get(ep.networkId);
    if (!byHost) this.hosts.set(ep.networkId, (byHost = new Map<string, number>()));
    byHost.set(ep.host, (byHost.get(ep.host) ?? 0) + 1);
  }

  // `next`: the record replacing this one; addresses it keeps are not freed (the watch delivers
  // the agent's own writes again, and would otherwise bring the floors down each time).
  private unindex(ep: EndpointRecord, next?: EndpointRecord): void {
    const keeps = (a: string): boolean => next !== undefined && next.networkId === ep.networkId && (next.ipv4 === a || next.ipv6 === a);
    const set = this.addresses.get(ep.networkId);
    const f = this.floors.get(ep.networkId);
    for (const a of [ep.ipv4, ep.ipv6]) {
      if (!a || keeps(a)) continue;
      set?.delete(a);
      if (!f) continue;
      // Bounded: a mass removal forgets the floors, and the next allocation scans from the start once.
      if (f.freed.length >= MAX_FREED) this.floors.delete(ep.networkId);
      else f.freed.push(a);
    }
    if (set && !set.size) this.addresses.delete(ep.networkId);
    const byHost = this.hosts.get(ep.networkId);
    const n = byHost?.get(ep.host) ?? 0;
    if (n > 1) byHost!.set(ep.host, n - 1);
    else {
      byHost?.delete(ep.host);
      if (byHost && !byHost.size) this.hosts.delete(ep.networkId);
    }
  }

  private addressesOf(networkId: string): Set<string> {
    let set = this.addresses.get(networkId);
    if (!set) this.addresses.set(networkId, (set = new Set<string>()));
    return set;
  }
}

const NONE: ReadonlyMap<string, number> = new Map();
const MAX_FREED = 256;
