import { status } from '@grpc/grpc-js';
import { VxError, exists, exhausted, invalid, notFound, unavailable } from '../../control/errors';
import {
  addressOf,
  canonicalAddress,
  checkStaticAddress,
  freeCandidates,
  macFromIPv4,
  randomMac,
} from '../../control/ipam';
import type { Taken } from '../../control/ipam';
import { plainAddressesOf } from '../../control/model';
import type { EndpointRecord, NetworkRecord, SubnetConfig } from '../../control/model';
import type { Store } from '../../control/store/store';
import type { ClusterState } from '../view';

const MAX_ALLOC_ATTEMPTS = 64;

// What a Connect asks for: static addresses ('' for the next free one), and whether the MAC is to
// be derived from the address chosen.
export interface Wanted {
  ipv4: string;
  ipv6: string;
  macFromIp: boolean;
}

export const networkRemoved = (net: NetworkRecord): VxError =>
  notFound(`network ${net.name} not found (it was removed)`);
export const addressInUse = (ip: string, net: NetworkRecord): VxError =>
  exists(`address ${ip} is already in use in network ${net.name}`);

// etcd's refusal of an endpoint record as the writer's error: the network went, or the name is
// taken (`nameTaken`, worded by the writer). A taken address is the writer's to judge: a lost race
// for Connect, a missing reservation for Docker.
export function recordRefused(
  net: NetworkRecord,
  res: { reason: 'no-network' | 'address' | 'name' },
  nameTaken: string,
): VxError | undefined {
  if (res.reason === 'no-network') return networkRemoved(net);
  if (res.reason === 'name') return exists(nameTaken);
  return undefined;
}

// Address allocation for this host's endpoints: Connect's (an endpoint record with its addresses)
// and Docker's IPAM (a reservation). Both go through one loop of attempts, the first from the
// agent's view, and skip the addresses this agent is claiming meanwhile.
export class Allocator {
  private readonly claiming = new Map<string, Set<string>>(); // network -> addresses being claimed here

  constructor(
    private readonly store: Pick<Store, 'allocatedAddresses' | 'createEndpoint'>,
    private readonly state: ClusterState,
    // An endpoint whose record's transaction was given up on in flight (see Abandoned).
    private readonly uncertain: (ep: EndpointRecord) => void = () => undefined,
  ) {}

  // Attempts from `from` on until `attempt` answers (undefined: try again). The first reads the
  // addresses in use from the agent's view (no round trip); after a lost race, from etcd itself.
  async retry<T>(
    net: NetworkRecord,
    from: number,
    attempt: (n: number, allocated: Taken) => Promise<T | undefined>,
  ): Promise<T> {
    for (let n = from; n < MAX_ALLOC_ATTEMPTS; n++) {
      const allocated = (n === 0 ? this.viewTaken(net) : undefined) ?? (await this.store.allocatedAddresses(net.id));
      const done = await attempt(n, allocated);
      if (done !== undefined) return done;
    }
    throw unavailable(
      `could not allocate an address in network ${net.name}: too many concurrent allocations, try again`,
    );
  }

  // One address of `subnets` (the wanted one, or the next free) with its prefix length. Undefined
  // when the first attempt finds it taken or the subnets full: that is the agent's view, which is
  // checked against etcd before it is believed.
  pickIn(
    net: NetworkRecord,
    subnets: SubnetConfig[],
    wanted: string,
    attempt: number,
    allocated: Taken,
  ): string | undefined {
    try {
      return pick(
        subnets,
        wanted,
        this.withClaims(net.id, allocated),
        allocated,
        net.name,
        attempt,
        attempt === 0 ? this.floors(net.id) : undefined,
      );
    } catch (err) {
      if (
        attempt === 0 &&
        err instanceof VxError &&
        (err.code === status.ALREADY_EXISTS || err.code === status.RESOURCE_EXHAUSTED)
      )
        return undefined;
      throw err;
    }
  }

  // Marks addresses as being claimed here until the returned function is called.
  claimingNow(networkId: string, addresses: string[]): () => void {
    const mine = this.claiming.get(networkId) ?? new Set<string>();
    this.claiming.set(networkId, mine);
    for (const a of addresses) mine.add(a);
    return () => {
      for (const a of addresses) mine.delete(a);
    };
  }

  // Picks addresses (static or the next free ones) and commits them with the endpoint in one
  // transaction; a lost race for a dynamic address moves on to another candidate.
  async claim(
    net: NetworkRecord,
    base: EndpointRecord,
    want: Wanted,
    from: number,
  ): Promise<{ ep: EndpointRecord; revision: number }> {
    return this.retry(net, from, async (attempt, allocated) => {
      const ep = this.plan(net, base, want, attempt, allocated);
      if (!ep) return undefined;
      const revision = await this.commit(net, ep, want);
      return revision === undefined ? undefined : { ep, revision };
    });
  }

  // The endpoint with its addresses chosen; undefined when the agent's view says "taken" or "full".
  plan(
    net: NetworkRecord,
    base: EndpointRecord,
    want: Wanted,
    attempt: number,
    allocated: Taken,
  ): EndpointRecord | undefined {
    const v4 = net.ipv4.length ? this.pickIn(net, net.ipv4, want.ipv4, attempt, allocated) : '';
    if (v4 === undefined) return undefined;
    const v6 = net.ipv6.length ? this.pickIn(net, net.ipv6, want.ipv6, attempt, allocated) : '';
    if (v6 === undefined) return undefined;
    if (!v4 && !v6) throw invalid(`network ${net.name} has no subnet to allocate from`);
    const ep: EndpointRecord = { ...base, ipv4: v4, ipv6: v6 };
    if (want.macFromIp) ep.mac = v4 ? macFromIPv4(addressOf(v4)) : randomMac();
    return ep;
  }

  // One transaction: the revision it committed at, undefined when a dynamic address was taken meanwhile.
  async commit(net: NetworkRecord, ep: EndpointRecord, want: Wanted): Promise<number | undefined> {
    const chosen = plainAddressesOf(ep);
    const claimed = this.claimingNow(net.id, chosen);
    let committed = false;
    try {
      const res = await this.state
        .ownWrite(ep.id, false, () => this.store.createEndpoint(ep, chosen))
        .catch((err: unknown) => {
          // Given up on with the transaction in flight: it may commit yet.
          if (err instanceof VxError && err.reason === 'etcd-unavailable') this.uncertain(ep);
          throw err;
        });
      committed = res.ok;
      if (res.ok) {
        this.state.applyLocalEndpoint(ep, false, res.revision);
        return res.revision;
      }
      const refused = recordRefused(net, res, `endpoint with name ${ep.name} already exists in network ${net.name}`);
      if (refused) throw refused;
      const taken = res.taken ?? '';
      if ((taken === addressOf(ep.ipv4) && want.ipv4) || (taken === addressOf(ep.ipv6) && want.ipv6))
        throw addressInUse(taken, net);
      return undefined;
    } finally {
      claimed();
      // The floors counted these addresses as taken: below them they would be missed until a removal.
      if (!committed) this.state.snap?.endpoints.forgetFloors(net.id);
    }
  }

  // The network's addresses in the view as allocation asks for them ("10.0.0.2"), from the view's
  // index; undefined before the view is loaded.
  viewTaken(net: NetworkRecord): Taken | undefined {
    const table = this.state.snap?.endpoints;
    if (!table) return undefined;
    const prefixes = [...new Set([...net.ipv4, ...net.ipv6].map((s) => s.subnet.slice(s.subnet.indexOf('/'))))];
    return { size: table.addressCount(net.id), has: (a) => prefixes.some((p) => table.hasAddress(net.id, a + p)) };
  }

  // Addresses in use plus those this agent is claiming right now, without copying either.
  private withClaims(networkId: string, allocated: Taken): Taken {
    const mine = this.claiming.get(networkId);
    if (!mine?.size) return allocated;
    return { size: allocated.size + mine.size, has: (a) => mine.has(a) || allocated.has(a) };
  }

  private floors(networkId: string): Floors | undefined {
    const table = this.state.snap?.endpoints;
    if (!table) return undefined;
    return {
      get: (s) => table.floor(networkId, s.subnet),
      set: (s, address) => table.setFloor(networkId, s.subnet, address),
    };
  }
}

// Where the lowest free address of a subnet is to be looked for (see EndpointTable's floors).
interface Floors {
  get(s: SubnetConfig): bigint | undefined;
  set(s: SubnetConfig, address: string): void;
}

function pick(
  subnets: SubnetConfig[],
  wanted: string,
  busy: Taken,
  allocated: Taken,
  netName: string,
  attempt: number,
  floors?: Floors,
): string {
  if (wanted) {
    const addr = canonicalAddress(wanted);
    for (const s of subnets) {
      try {
        checkStaticAddress(s, addr, allocated, netName);
        return `${addr}/${s.subnet.split('/')[1]}`;
      } catch (err) {
        if (subnets.length === 1) throw err;
      }
    }
    throw invalid(`address ${wanted} is not inside any subnet of network ${netName}`);
  }
  for (const s of subnets) {
    // The first try takes the lowest free address (what people expect); after a lost race, spread
    // out over the next free ones so that hosts racing for one network stop colliding.
    const cands = freeCandidates(s, busy, { limit: attempt === 0 ? 1 : 64, from: floors?.get(s) });
    if (!cands.length) continue;
    const chosen = cands[attempt === 0 ? 0 : Math.floor(Math.random() * cands.length)];
    if (attempt === 0) floors?.set(s, chosen);
    return `${chosen}/${s.subnet.split('/')[1]}`;
  }
  throw exhausted(
    `no free address left in network ${netName} (${subnets.map((s) => s.ipRange ?? s.subnet).join(', ')})`,
  );
}
