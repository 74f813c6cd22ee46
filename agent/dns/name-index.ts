import { canonicalAddress, contains, parseAddress, parseCidr } from '../../control/ipam';
import type { Cidr } from '../../control/ipam';
import type { DnsTable, TableEndpoint, TableNetwork } from './table';

// The table indexed for answering: built once per table the agent sends, read by every query.
export class NameIndex {
  readonly networks: readonly TableNetwork[];
  // network index -> lower-cased name or alias -> endpoints (several containers may share an alias)
  private readonly names: Map<string, TableEndpoint[]>[];
  private readonly networkByName = new Map<string, number>();
  // canonical address -> endpoints holding it (one per network at most: IPAM)
  private readonly byAddress = new Map<string, TableEndpoint[]>();
  // a local sandbox -> the networks its endpoints are in
  private readonly sandboxNets = new Map<string, number[]>();
  private readonly gatewayNet = new Map<string, number>();
  private readonly cidrs: { net: number; cidr: Cidr }[] = [];

  constructor(table: DnsTable) {
    this.networks = table.networks;
    this.names = table.networks.map(() => new Map<string, TableEndpoint[]>());
    table.networks.forEach((n, i) => {
      this.networkByName.set(n.name.toLowerCase(), i);
      for (const g of n.gateways) this.gatewayNet.set(canon(g), i);
      for (const s of n.subnets) this.cidrs.push({ net: i, cidr: parseCidr(s) });
    });
    for (const ep of table.endpoints) {
      if (!this.networks[ep.net]) continue;
      const names = this.names[ep.net];
      for (const n of [ep.name, ...ep.aliases]) {
        if (!n) continue;
        const key = n.toLowerCase();
        const list = names.get(key);
        if (list) {
          if (!list.includes(ep)) list.push(ep);
        } else names.set(key, [ep]);
      }
      for (const a of [ep.v4, ep.v6]) {
        if (!a) continue;
        const key = canon(a);
        const list = this.byAddress.get(key);
        if (list) list.push(ep);
        else this.byAddress.set(key, [ep]);
      }
      if (ep.local && ep.sandbox) {
        const nets = this.sandboxNets.get(ep.sandbox);
        if (!nets) this.sandboxNets.set(ep.sandbox, [ep.net]);
        else if (!nets.includes(ep.net)) nets.push(ep.net);
      }
    }
  }

  // The network whose gateway `address` is, if any (the socket a query came in on).
  networkOfGateway(address: string): number | undefined {
    return this.gatewayNet.get(canon(address));
  }

  // The networks whose names a query from `source` may see: those of the local endpoint holding
  // the address and of its sandbox's other endpoints; undefined when no local endpoint holds it.
  scopeOf(source: string): number[] | undefined {
    const eps = this.byAddress.get(canon(source))?.filter((e) => e.local);
    if (!eps?.length) return undefined;
    const nets = new Set<number>();
    for (const ep of eps) {
      nets.add(ep.net);
      for (const n of (ep.sandbox && this.sandboxNets.get(ep.sandbox)) || []) nets.add(n);
    }
    return [...nets];
  }

  networkNamed(name: string): number | undefined {
    return this.networkByName.get(name);
  }

  lookup(net: number, name: string): readonly TableEndpoint[] {
    return this.names[net]?.get(name) ?? NONE;
  }

  byAddressIn(address: string, nets: readonly number[]): TableEndpoint[] {
    return (this.byAddress.get(canon(address)) ?? []).filter((e) => nets.includes(e.net));
  }

  // Whether `address` falls inside a subnet of a network served here (a reverse zone vxnet answers
  // for, whoever asks: its NXDOMAIN tells nothing).
  inSubnets(address: string): boolean {
    let a;
    try {
      a = parseAddress(address);
    } catch {
      return false;
    }
    return this.cidrs.some((c) => contains(c.cidr, a.value, a.v6));
  }
}

const NONE: readonly TableEndpoint[] = [];

// v4 as it comes; v6 in one spelling, whichever the socket or the record used.
function canon(a: string): string {
  if (!a.includes(':')) return a;
  try {
    return canonicalAddress(a);
  } catch {
    return a;
  }
}
