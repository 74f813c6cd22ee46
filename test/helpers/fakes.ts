// Fakes for unit tests of the agent's stateful core (view, reconciler, endpoint service): a small
// etcd that orders writes by revision and delivers them to watchers later, and a kernel that holds
// devices, entries and veths in memory. Both answer after random delays, so that a test drives the
// real code through the interleavings a busy host sees.
import type { EndpointRecord, HostRecord, NetworkRecord } from '../../control/model';
import { snapshot } from './records';
import type { ClusterView, ViewHandlers } from '../../control/store/store';
import { ViewBatch } from '../../control/store/view-change';
import type { WatchedKey, WatchResponse, WatchEvents } from '../../control/store/wire';
import { keys } from '../../control/store/keys';
import type { DesiredNetwork } from '../../agent/desired';
import type { Logger } from '../../lib/log';
import type { PathIdentity } from '../../agent/sandbox-identity';
import { VxError } from '../../control/errors';
import { status } from '@grpc/grpc-js';
import type { ConnectRequest__Output } from '../../control/generated/vxnet/v1/ConnectRequest';
import type {
  ActualState,
  Attachment,
  FdbEntry,
  Kernel,
  NeighEntry,
  OpenSandbox,
  Sandboxes,
} from '../../agent/dataplane/types';

// The record factories and the seeded generator live in records.ts; re-exported for the suites
// that take them from here.
export { hostRecord, netRecord, rng } from './records';

export const quietLog: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

// Waits for a random number of macrotask turns (0 to `max`), or none when `r` is undefined.
export function jitter(r: (() => number) | undefined, max = 3): Promise<void> {
  const n = r ? Math.floor(r() * (max + 1)) : 0;
  let p = Promise.resolve();
  for (let i = 0; i < n; i++) p = p.then(() => new Promise((res) => setImmediate(res)));
  return p;
}

// Enough of etcd for the view and the endpoint service: endpoint, network and host records with
// their address and name claims, one revision per transaction, and one prefix watch whose events
// arrive after a random delay, in revision order.
export class FakeEtcd {
  revision = 1;
  readonly networks = new Map<string, NetworkRecord>();
  readonly endpoints = new Map<string, EndpointRecord>();
  readonly hosts = new Map<string, HostRecord>();
  private readonly addresses = new Map<string, string>(); // network/ip -> endpoint
  private readonly names = new Map<string, string>(); // network/name -> endpoint
  private watcher: ViewHandlers | undefined;
  private delivery = Promise.resolve();
  // The next call of each kind throws this (etcd unreachable, a deadline), once.
  readonly failNext: { createEndpoint?: Error; deleteEndpoint?: Error } = {};
  // The next createEndpoint commits and then fails with this, as a transaction given up on in
  // flight that etcd applied all the same.
  landsLater: Error | undefined;

  constructor(private readonly r?: () => number) {}

  // The part of Store the view and the endpoint service use.
  asStore(): unknown {
    return {
      snapshot: async (): Promise<ClusterView> => {
        await jitter(this.r);
        return snapshot(this.networks.values(), this.endpoints.values(), this.hosts.values(), this.revision);
      },
      watchView: async (_revision: number, on: ViewHandlers) => {
        this.watcher = on;
        return {
          cancel: () => {
            if (this.watcher === on) this.watcher = undefined;
          },
        };
      },
      createEndpoint: async (ep: EndpointRecord, addrs: string[]) => {
        await jitter(this.r);
        this.throwIfFailing('createEndpoint');
        if (!this.networks.has(ep.networkId)) return { ok: false, reason: 'no-network' };
        const taken = addrs.find((a) => this.addresses.has(`${ep.networkId}/${a}`));
        if (taken) return { ok: false, reason: 'address', taken };
        if (this.names.has(`${ep.networkId}/${ep.name}`)) return { ok: false, reason: 'name' };
        for (const a of addrs) this.addresses.set(`${ep.networkId}/${a}`, ep.id);
        this.names.set(`${ep.networkId}/${ep.name}`, ep.id);
        const revision = this.put(ep);
        await jitter(this.r);
        const late = this.landsLater;
        this.landsLater = undefined;
        if (late) throw late;
        return { ok: true, revision };
      },
      deleteEndpoint: async (ep: EndpointRecord) => {
        await jitter(this.r);
        this.throwIfFailing('deleteEndpoint');
        const revision = this.remove(ep);
        await jitter(this.r);
        return revision;
      },
      deleteEndpointIfPresent: async (ep: EndpointRecord) => {
        await jitter(this.r);
        this.throwIfFailing('deleteEndpoint');
        const deleted = this.endpoints.has(ep.id);
        return { deleted, revision: this.remove(ep) };
      },
      allocatedAddresses: async (networkId: string) =>
        new Set(
          [...this.addresses.keys()]
            .filter((k) => k.startsWith(`${networkId}/`))
            .map((k) => k.slice(networkId.length + 1)),
        ),
      listEndpoints: async (networkId?: string) =>
        [...this.endpoints.values()].filter((e) => !networkId || e.networkId === networkId),
      getNetwork: async (id: string) => this.networks.get(id),
    };
  }

  private throwIfFailing(kind: keyof FakeEtcd['failNext']): void {
    const err = this.failNext[kind];
    if (!err) return;
    delete this.failNext[kind];
    throw err;
  }

  // Another host's write, or a test's: straight into etcd, delivered to the watch like any other.
  put(ep: EndpointRecord): number {
    this.endpoints.set(ep.id, ep);
    for (const a of [ep.ipv4, ep.ipv6].filter((x) => x))
      this.addresses.set(`${ep.networkId}/${a.split('/')[0]}`, ep.id);
    this.names.set(`${ep.networkId}/${ep.name}`, ep.id);
    return this.emit(keys.endpoint(ep.networkId, ep.id), JSON.stringify(ep));
  }

  remove(ep: EndpointRecord): number {
    if (!this.endpoints.delete(ep.id)) return this.revision;
    for (const a of [ep.ipv4, ep.ipv6].filter((x) => x)) this.addresses.delete(`${ep.networkId}/${a.split('/')[0]}`);
    this.names.delete(`${ep.networkId}/${ep.name}`);
    return this.emit(keys.endpoint(ep.networkId, ep.id), undefined);
  }

  addNetwork(n: NetworkRecord): void {
    this.networks.set(n.id, n);
    this.emit(keys.network(n.id), JSON.stringify(n));
  }

  removeNetwork(id: string): void {
    this.networks.delete(id);
    this.emit(keys.network(id), undefined);
  }

  addHost(h: HostRecord): void {
    this.hosts.set(h.name, h);
    this.emit(keys.host(h.name), JSON.stringify(h));
  }

  removeHost(name: string): void {
    this.hosts.delete(name);
    this.emit(keys.host(name), undefined);
  }

  // A host's lease key: put when its agent registers (`since`), deleted when its lease ends.
  setAlive(name: string, since: string | undefined): void {
    this.emit(keys.alive(name), since === undefined ? undefined : JSON.stringify({ since }));
  }

  // Resolves once every event emitted so far has been delivered.
  delivered(): Promise<void> {
    return this.delivery;
  }

  private emit(key: string, value: string | undefined): number {
    const revision = ++this.revision;
    const ev: WatchedKey = { deleted: value === undefined, key, value, modRevision: revision };
    this.delivery = this.delivery.then(async () => {
      await jitter(this.r, 4);
      const events = {
        length: 1,
        read: (_i: number, into: WatchedKey) => Object.assign(into, ev),
      } as unknown as WatchEvents;
      const res: WatchResponse = {
        revision,
        created: false,
        canceled: false,
        compactRevision: 0,
        cancelReason: '',
        events,
      };
      // Decoded by the store's own code, as etcd's responses are.
      this.watcher?.data(new ViewBatch(res));
    });
    return revision;
  }
}

// A host's kernel as the reconciler and Connect see it: one call is one atomic change, answered
// after a random delay. Counts the writes.
export class FakeKernel implements Kernel, Sandboxes {
  private nextIndex = 10;
  readonly devices = new Map<number, { vxlan: number; bridge: number; mtu: number; gateways: string[] }>();
  readonly fdb = new Map<number, Map<string, string>>();
  readonly neigh = new Map<number, Map<string, string>>();
  readonly veths = new Map<string, { index: number; master: number; flood: boolean; macs: Set<string> }>();
  readonly sandboxes = new Map<string, Set<string>>(); // path -> interfaces inside
  private readonly inodes = new Map<Set<string>, number>(); // a namespace's identity, by its interface set
  private readonly peers = new Map<string, { sandbox: string; ifname: string }>(); // host veth -> its peer
  writes = 0;

  constructor(
    private readonly vtep: string,
    private readonly r?: () => number,
  ) {}

  async readActual(): Promise<ActualState> {
    await jitter(this.r);
    const actual: ActualState = { networks: new Map(), veths: new Map() };
    for (const [vni, d] of this.devices) {
      actual.networks.set(vni, {
        vni,
        vxlan: {
          index: d.vxlan,
          vni,
          local: this.vtep,
          port: 4789,
          learning: false,
          proxy: true,
          up: true,
          mtu: d.mtu,
          master: d.bridge,
        },
        bridge: { index: d.bridge, up: true, mtu: d.mtu, addresses: [...d.gateways] },
        fdb: new Map(this.fdb.get(vni)),
        neigh: new Map(this.neigh.get(vni)),
      });
    }
    for (const [name, v] of this.veths)
      actual.veths.set(name, { index: v.index, master: v.master, flood: v.flood, macs: new Set(v.macs) });
    return actual;
  }

  async ensureDevices(net: DesiredNetwork): Promise<void> {
    await jitter(this.r);
    this.writes++;
    const d = this.devices.get(net.vni);
    if (d) {
      d.mtu = net.mtu;
      d.gateways = [...new Set([...d.gateways, ...net.gateways])];
      return;
    }
    this.devices.set(net.vni, {
      vxlan: this.nextIndex++,
      bridge: this.nextIndex++,
      mtu: net.mtu,
      gateways: [...net.gateways],
    });
    this.fdb.set(net.vni, new Map());
    this.neigh.set(net.vni, new Map());
  }

  async ensureDevicesCached(net: DesiredNetwork): Promise<number> {
    if (!this.devices.has(net.vni)) await this.ensureDevices(net);
    return this.devices.get(net.vni)?.bridge ?? -1;
  }

  async removeDevices(vni: number): Promise<void> {
    await jitter(this.r);
    this.writes++;
    const d = this.devices.get(vni);
    this.devices.delete(vni);
    this.fdb.delete(vni);
    this.neigh.delete(vni);
    if (d) for (const v of this.veths.values()) if (v.master === d.bridge) v.master = 0;
  }

  private entries(m: Map<number, Map<string, string>>, vni: number, op: string): Map<string, string> {
    const e = m.get(vni);
    if (!e) throw new Error(`${op}: vxlan vx-${vni} does not exist`);
    return e;
  }

  async fdbAdd(vni: number, entries: FdbEntry[]): Promise<void> {
    await jitter(this.r);
    this.writes++;
    const m = this.entries(this.fdb, vni, 'fdbAdd');
    for (const e of entries) m.set(e.mac, e.dst);
  }

  async fdbDel(vni: number, entries: FdbEntry[]): Promise<void> {
    await jitter(this.r);
    this.writes++;
    const m = this.entries(this.fdb, vni, 'fdbDel');
    for (const e of entries) if (m.get(e.mac) === e.dst) m.delete(e.mac);
  }

  async neighAdd(vni: number, entries: NeighEntry[]): Promise<void> {
    await jitter(this.r);
    this.writes++;
    const m = this.entries(this.neigh, vni, 'neighAdd');
    for (const e of entries) m.set(e.ip, e.mac);
  }

  async neighDel(vni: number, entries: NeighEntry[]): Promise<void> {
    await jitter(this.r);
    this.writes++;
    const m = this.entries(this.neigh, vni, 'neighDel');
    for (const e of entries) m.delete(e.ip);
  }

  async attachPort(vni: number, veth: string, mac: string): Promise<void> {
    await jitter(this.r);
    this.writes++;
    const v = this.veths.get(veth);
    const d = this.devices.get(vni);
    if (!v || !d) throw new Error(`attach ${veth}: no such device`);
    v.master = d.bridge;
    v.flood = false;
    v.macs.add(mac);
  }

  async announce(): Promise<number> {
    return 0;
  }

  async removeVeth(veth: string): Promise<void> {
    await jitter(this.r);
    if (this.veths.delete(veth)) this.writes++;
    const peer = this.peers.get(veth);
    this.peers.delete(veth);
    if (peer) this.sandboxes.get(peer.sandbox)?.delete(peer.ifname); // a veth goes with its peer
  }

  async hasLink(name: string): Promise<boolean> {
    return this.veths.has(name);
  }

  // --- the sandbox side (Connect) ---

  identify(p: string): PathIdentity {
    const ns = this.sandboxes.get(p);
    if (!ns) return undefined;
    if (!this.inodes.has(ns)) this.inodes.set(ns, 4026530000 + this.inodes.size);
    return { dev: 4, ino: this.inodes.get(ns)! };
  }

  check(p: string): void {
    if (!this.sandboxes.has(p)) throw new VxError(status.NOT_FOUND, `sandbox ${p} does not exist`);
  }

  async interfaces(p: string): Promise<string[]> {
    this.check(p);
    return [...this.sandboxes.get(p)!];
  }

  async hasDefaultRoute(): Promise<boolean> {
    return false;
  }

  async open(p: string): Promise<OpenSandbox> {
    await jitter(this.r);
    const interfaces = await this.interfaces(p);
    return {
      interfaces,
      default4: false,
      default6: false,
      netns: this.identify(p)!,
      attach: (a) => this.attach(a),
      close: () => undefined,
    };
  }

  async attach(a: Attachment): Promise<void> {
    await jitter(this.r);
    this.writes++;
    const inside = this.sandboxes.get(a.sandbox);
    if (!inside) throw new VxError(status.NOT_FOUND, `sandbox ${a.sandbox} does not exist`);
    if (inside.has(a.ifname)) throw new VxError(status.ALREADY_EXISTS, `interface ${a.ifname} exists`);
    // The kernel refuses a master that is gone (a bridge removed under a Connect).
    if (a.bridgeIndex !== undefined && ![...this.devices.values()].some((d) => d.bridge === a.bridgeIndex))
      throw new Error(`attach ${a.hostVeth}: master ${a.bridgeIndex} does not exist (EINVAL)`);
    inside.add(a.ifname);
    this.peers.set(a.hostVeth, { sandbox: a.sandbox, ifname: a.ifname });
    const bridge =
      [...this.devices.values()].find((d) => a.bridgeIndex === undefined || d.bridge === a.bridgeIndex)?.bridge ?? 0;
    this.veths.set(a.hostVeth, {
      index: this.nextIndex++,
      master: a.bridgeIndex ?? bridge,
      flood: false,
      macs: new Set([a.mac]),
    });
  }

  async createPair(): Promise<void> {
    throw new Error('not in this fake');
  }

  async ensureInside(): Promise<string[]> {
    return [];
  }
}

// A Connect request as the API delivers it (every field present), with `extra` over the defaults.
export function connectRequest(
  network: string,
  sandbox: string,
  extra: Partial<ConnectRequest__Output> = {},
): ConnectRequest__Output {
  return {
    network,
    sandbox,
    ipv4Address: '',
    ipv6Address: '',
    aliases: [],
    interfaceName: '',
    macAddress: '',
    name: '',
    wait: false,
    waitTimeoutMs: 0,
    ...extra,
  };
}
