import * as path from 'path';
import { status } from '@grpc/grpc-js';
import { VxError, exists, invalid, notFound, precondition, exhausted, unavailable } from '../control/errors';
import { EndpointRecord, NetworkRecord, SubnetConfig, overlayMtu } from '../control/model';
import type { Store } from '../control/store/store';
import type { NetworkService } from '../control/networks';
import { newId, endpointToProto } from '../control/networks';
import { freeCandidates, checkStaticAddress, parseMac, macFromIPv4, randomMac, canonicalAddress } from '../control/ipam';
import type { Taken } from '../control/ipam';
import { validateIfname, validateEndpointName, validateSandboxArg } from '../control/validate';
import { resolveNetwork } from '../control/filters';
import type { ConnectRequest__Output } from '../control/generated/vxnet/v1/ConnectRequest';
import type { ConnectResponse } from '../control/generated/vxnet/v1/ConnectResponse';
import type { DisconnectRequest__Output } from '../control/generated/vxnet/v1/DisconnectRequest';
import type { DesiredNetwork, Self } from './desired';
import { bridgeName, dockerPeerName, hostVethName, vxlanName } from './names';
import type { InFlight, Repairer, Settled } from './reconciler';
import type { ClusterState } from './state';
import type { Logger } from '../lib/log';
import { fateReason, sandboxFate } from './sandbox-identity';
import type { SandboxFate } from './sandbox-identity';
import type { Kernel, OpenSandbox, Sandboxes } from './dataplane/types';

export function sandboxPath(arg: string): string {
  return arg.includes('/') ? path.resolve(arg) : `/run/netns/${arg}`;
}

// The endpoint's default name: the namespace's name, or "pid-N" for /proc/N/ns/net.
export function sandboxName(p: string): string {
  const proc = /^\/proc\/(\d+)\/(?:task\/\d+\/)?ns\/net$/.exec(p);
  if (proc) return `pid-${proc[1]}`;
  return path.basename(p);
}

const MAX_ALLOC_ATTEMPTS = 64;
// How long a Docker endpoint may wait between CreateEndpoint and Join before it counts as abandoned.
const JOIN_GRACE_MS = 60_000;
// How long Join waits for peers to program a new Docker endpoint before it answers anyway.
const DOCKER_WAIT_MS = 1000;

// Connect and Disconnect for sandboxes on this host. Connect writes etcd and the kernel at once
// (each ~2 ms); whichever refuses, the other is undone, so a rejected request changes nothing.
export class EndpointService implements InFlight, Repairer {
  private readonly inFlight = new Set<string>();
  private readonly inFlightNets = new Map<number, number>(); // VNI -> Connects in flight
  private begun = 0;
  private readonly claimRevision = new Map<string, number>(); // endpoint -> revision of its Connect
  private readonly claiming = new Map<string, Set<string>>(); // network -> addresses being claimed here
  private readonly awaitingJoin = new Map<string, number>(); // Docker endpoint -> when CreateEndpoint recorded it
  private readonly joinedAt = new Map<string, number>(); // Docker endpoint -> when this process joined it

  constructor(
    private readonly store: Store,
    private readonly networks: NetworkService,
    private readonly state: ClusterState,
    private readonly kernel: Kernel,
    private readonly sandboxes: Sandboxes,
    private readonly self: Self,
    private readonly log: Logger,
    // Told at the end of every endpoint operation, whatever it did: the reconciler decides.
    private readonly settled: (op: Settled) => void,
  ) {}

  // Endpoints a request is working on, and Docker endpoints whose Join is still to come: neither is
  // the reconciler's to repair.
  busy(): ReadonlySet<string> {
    if (this.awaitingJoin.size === 0) return this.inFlight;
    const now = Date.now();
    return new Set([...this.inFlight, ...[...this.awaitingJoin].filter(([, t]) => now - t < JOIN_GRACE_MS).map(([id]) => id)]);
  }

  busyNetworks(): ReadonlySet<number> {
    return new Set(this.inFlightNets.keys());
  }

  // How many endpoint operations have begun so far: a kernel read made before the last of them
  // began may lack what it did.
  opsBegun(): number {
    return this.begun;
  }

  private begin(id: string): void {
    this.inFlight.add(id);
    this.begun++;
  }

  private holdNetwork(vni: number, delta: 1 | -1): void {
    const n = (this.inFlightNets.get(vni) ?? 0) + delta;
    if (n > 0) this.inFlightNets.set(vni, n);
    else this.inFlightNets.delete(vni);
  }

  // The agent's own view answers most lookups without a round trip; a network it does not know
  // yet (created a moment ago elsewhere) is looked up in etcd. A view that is stale the other way
  // (network just deleted) is caught by the Connect transaction's compare.
  private async resolve(ref: string): Promise<NetworkRecord> {
    const snap = this.state.snap;
    if (snap) {
      try {
        return resolveNetwork(ref, [...snap.networks.values()]);
      } catch {
        /* not known here (yet): ask etcd */
      }
    }
    // Into the view with it: a local endpoint of a network the view lacks would make the reconciler
    // take the network's devices and the endpoint's veth for stale ones.
    const net = await this.networks.resolve(ref);
    this.state.applyNetwork(net);
    return net;
  }

  // `access`: where this process reaches the sandbox when the recorded path is only visible in the
  // caller's mount namespace (a CNI runtime with a private /run/netns passes /proc/<pid>/root/...).
  async connect(req: ConnectRequest__Output, identity: Pick<EndpointRecord, 'cni' | 'docker'> = {}, access?: string): Promise<ConnectResponse> {
    const t = [performance.now()];
    validateSandboxArg(req.sandbox);
    if (req.interfaceName) validateIfname(req.interfaceName);
    if (req.name) validateEndpointName(req.name);
    const mac = req.macAddress ? parseMac(req.macAddress) : undefined;
    const net = await this.resolve(req.network);
    if (req.ipv6Address && net.ipv6.length === 0) throw invalid(`network ${net.name} has no IPv6 subnet: --ip6 ${req.ipv6Address} cannot be used`);
    const sandbox = sandboxPath(req.sandbox);
    const reach = access ?? sandbox;
    const box = await this.sandboxes.open(reach, { v4: !net.internal && net.ipv4.length > 0, v6: !net.internal && net.ipv6.length > 0 });
    try {
      const ifname = req.interfaceName || nextIfname(box.interfaces);
      if (box.interfaces.includes(ifname)) throw exists(`interface ${ifname} already exists in sandbox ${sandbox}`);
      const name = req.name || sandboxName(sandbox);
      validateEndpointName(name);
      t.push(performance.now());
      // The namespace this socket was made in is the sandbox from now on; reached through the
      // runtime's mount namespace, the recorded path is not one this agent can look at later.
      const netns = reach === sandbox ? box.netns : { ...box.netns, hidden: true as const };
      const base: EndpointRecord = {
        id: newId(), networkId: net.id, name, host: this.self.name, sandbox, ifname, mac: mac ?? '', ipv4: '', ipv6: '',
        aliases: req.aliases ?? [], created: new Date().toISOString(), ...identity, netns,
      };
      return await this.connectIn(box, reach, net, base, req, mac === undefined, t);
    } finally {
      box.close();
    }
  }

  private async connectIn(box: OpenSandbox, reach: string, net: NetworkRecord, base: EndpointRecord, req: ConnectRequest__Output, macFromIp: boolean, t: number[]): Promise<ConnectResponse> {
    // Busy before the record exists: its watch event can reach the reconciler before the
    // transaction's own answer reaches us, and the veth is this request's to create.
    const id = base.id;
    this.begin(id);
    this.holdNetwork(net.vni, 1);
    const mtu = overlayMtu(net, this.self.underlayMtu, this.self.vtep.includes(':'));
    const gw4 = net.ipv4[0]?.gateway;
    const gw6 = net.ipv6[0]?.gateway;
    const plug = async (ep: EndpointRecord): Promise<void> => {
      const bridgeIndex = await this.kernel.ensureDevicesCached(devicesOf(net, mtu));
      const defaultRoute4 = !net.internal && !!ep.ipv4 && !!gw4 && !box.default4;
      const defaultRoute6 = !net.internal && !!ep.ipv6 && !!gw6 && !box.default6;
      await box.attach({
        bridgeIndex, sandbox: reach, netns: box.netns, hostVeth: hostVethName(id), ifname: base.ifname, mac: ep.mac, mtu, bridge: bridgeName(net.vni),
        addresses: [ep.ipv4, ep.ipv6].filter((a) => a),
        ...(defaultRoute4 ? { gateway4: gw4 } : {}),
        ...(defaultRoute6 ? { gateway6: gw6 } : {}),
      });
    };
    let ep: EndpointRecord | undefined;
    let ok = false;
    try {
      // First try: addresses from the agent's view, the kernel plugged while etcd commits. A lost
      // race unplugs the veth and goes on as any later try does (etcd first, then the kernel).
      const inView = this.viewTaken(net);
      const first = inView ? this.plan(net, base, req.ipv4Address, req.ipv6Address, macFromIp, 0, inView) : undefined;
      let plugged = false;
      if (first) {
        const [c, k] = await Promise.allSettled([this.commit(net, first, req.ipv4Address, req.ipv6Address), plug(first)]);
        if (c.status === 'fulfilled' && c.value) ep = first;
        if (c.status === 'rejected') throw c.reason;
        if (k.status === 'rejected') throw k.reason;
        plugged = true;
        if (!ep) {
          this.log.debug('address taken meanwhile: unplugged, trying again from etcd', { network: net.name, ip: first.ipv4 || first.ipv6 });
          await this.kernel.removeVeth(hostVethName(id));
          plugged = false;
        }
      }
      t.push(performance.now());
      ep ??= await this.claim(net, base, req.ipv4Address, req.ipv6Address, macFromIp, first ? 1 : 0);
      if (!plugged) await plug(ep);
      t.push(performance.now());
      const revision = this.claimRevision.get(ep.id) ?? 0;
      this.claimRevision.delete(ep.id);
      const lagging = req.wait ? await this.waitForPeers(net.id, revision, req.waitTimeoutMs || 2000) : [];
      const ms = t.slice(1).map((x, i) => Math.round((x - t[i]) * 100) / 100);
      this.log.info('endpoint connected', { network: net.name, endpoint: ep.name, ip: ep.ipv4 || ep.ipv6, mac: ep.mac, sandbox: ep.sandbox, ifname: ep.ifname, ms: { checks: ms[0], etcdAndKernel: ms[1], afterLostRace: ms[2] } });
      ok = true;
      return { endpoint: endpointToProto(ep), gateway: net.internal ? '' : (gw4 ?? ''), gatewayIpv6: net.internal ? '' : (gw6 ?? ''), mtu, laggingHosts: lagging };
    } catch (err) {
      if (ep) this.log.warn('connect failed, rolling back', { network: net.name, endpoint: ep.name, error: (err as Error).message });
      await this.kernel.removeVeth(hostVethName(id)).catch(() => undefined);
      const rec = ep;
      if (rec) {
        const rev = await this.state.ownWrite(rec.id, true, () => this.store.deleteEndpoint(rec)).catch((e: Error) => {
          this.log.error('rollback of endpoint record failed', { endpoint: rec.id, error: e.message });
          return 0;
        });
        this.state.applyLocalEndpoint(rec, true, rev);
      }
      throw err;
    } finally {
      this.claimRevision.delete(id);
      this.inFlight.delete(id);
      this.holdNetwork(net.vni, -1);
      // The first endpoint of a network on this host needs every peer's entries; the reconciler
      // tells that from a later one, which changes nothing it programs.
      this.settled({ endpointId: id, networkId: net.id, vni: net.vni, host: this.self.name, ok });
    }
  }

  // Live peers with an endpoint in the network must report a reconciled revision at or past the
  // Connect's; returns those that had not when the time ran out.
  private async waitForPeers(networkId: string, revision: number, timeoutMs: number): Promise<string[]> {
    const lagging = (): string[] => {
      const snap = this.state.snap;
      if (!snap) return [];
      const peers = [...snap.endpoints.hostsOf(networkId).keys()].filter((h) => h !== this.self.name && snap.hosts.has(h));
      return peers.filter((h) => (snap.reconciled.get(h) ?? 0) < revision).sort();
    };
    await this.state.waitUntil(() => lagging().length === 0, timeoutMs);
    return lagging();
  }

  // Picks addresses (static or the next free ones) and commits them with the endpoint in one
  // transaction; a lost race for a dynamic address moves on to another candidate.
  private async claim(net: NetworkRecord, base: EndpointRecord, ip4: string, ip6: string, macFromIp: boolean, from: number): Promise<EndpointRecord> {
    for (let attempt = from; attempt < MAX_ALLOC_ATTEMPTS; attempt++) {
      // First from the agent's view (no round trip); after a lost race, from etcd itself.
      const allocated = (attempt === 0 ? this.viewTaken(net) : undefined) ?? (await this.store.allocatedAddresses(net.id));
      const ep = this.plan(net, base, ip4, ip6, macFromIp, attempt, allocated);
      if (ep && (await this.commit(net, ep, ip4, ip6))) return ep;
    }
    throw unavailable(`could not allocate an address in network ${net.name}: too many concurrent allocations, try again`);
  }

  // The endpoint with its addresses chosen; undefined when the agent's view says "taken" or "full",
  // which is checked against etcd before it is believed.
  private plan(net: NetworkRecord, base: EndpointRecord, ip4: string, ip6: string, macFromIp: boolean, attempt: number, allocated: Taken): EndpointRecord | undefined {
    const busy = this.withClaims(net.id, allocated);
    const floors = attempt === 0 ? this.floors(net.id) : undefined;
    let v4: string;
    let v6: string;
    try {
      v4 = net.ipv4.length ? pick(net.ipv4, ip4, busy, allocated, net.name, attempt, floors) : '';
      v6 = net.ipv6.length ? pick(net.ipv6, ip6, busy, allocated, net.name, attempt, floors) : '';
    } catch (err) {
      if (attempt === 0 && err instanceof VxError && (err.code === status.ALREADY_EXISTS || err.code === status.RESOURCE_EXHAUSTED)) return undefined;
      throw err;
    }
    if (!v4 && !v6) throw invalid(`network ${net.name} has no subnet to allocate from`);
    const ep: EndpointRecord = { ...base, ipv4: v4, ipv6: v6 };
    if (macFromIp) ep.mac = v4 ? macFromIPv4(v4.split('/')[0]) : randomMac();
    return ep;
  }

  // One transaction: true when it committed, false when a dynamic address was taken meanwhile.
  private async commit(net: NetworkRecord, ep: EndpointRecord, ip4: string, ip6: string): Promise<boolean> {
    const chosen = [ep.ipv4, ep.ipv6].filter((a) => a).map((a) => a.split('/')[0]);
    const mine = this.claiming.get(net.id) ?? new Set<string>();
    this.claiming.set(net.id, mine);
    for (const a of chosen) mine.add(a);
    let committed = false;
    try {
      const res = await this.state.ownWrite(ep.id, false, () => this.store.createEndpoint(ep, chosen));
      committed = res.ok;
      if (res.ok) {
        this.state.applyLocalEndpoint(ep, false, res.revision);
        this.claimRevision.set(ep.id, res.revision);
        return true;
      }
      if (res.reason === 'no-network') throw notFound(`network ${net.name} not found (it was removed)`);
      if (res.reason === 'name') throw exists(`endpoint with name ${ep.name} already exists in network ${net.name}`);
      const taken = res.taken ?? '';
      if ((taken === ep.ipv4.split('/')[0] && ip4) || (taken === ep.ipv6.split('/')[0] && ip6)) throw exists(`address ${taken} is already in use in network ${net.name}`);
      return false;
    } finally {
      for (const a of chosen) mine.delete(a);
      // The floors counted these addresses as taken: below them they would be missed until a removal.
      if (!committed) this.state.snap?.endpoints.forgetFloors(net.id);
    }
  }

  // The network's addresses in the view as allocation asks for them ("10.0.0.2"), from the view's
  // index; undefined before the view is loaded.
  private viewTaken(net: NetworkRecord): Taken | undefined {
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
    return { get: (s) => table.floor(networkId, s.subnet), set: (s, address) => table.setFloor(networkId, s.subnet, address) };
  }

  private viewEndpoints(networkId: string): EndpointRecord[] {
    const out: EndpointRecord[] = [];
    for (const e of this.state.snap?.endpoints.values() ?? []) if (e.networkId === networkId) out.push(e);
    return out;
  }

  async disconnect(req: DisconnectRequest__Output): Promise<void> {
    validateSandboxArg(req.sandbox);
    const net = await this.resolve(req.network);
    const p = sandboxPath(req.sandbox);
    const find = (eps: EndpointRecord[]): EndpointRecord | undefined =>
      eps.find((e) => e.sandbox === p && e.host === this.self.name) ?? eps.find((e) => e.name === req.sandbox || e.id === req.sandbox) ?? eps.find((e) => e.sandbox === p);
    // The view first (no round trip); etcd when the view does not know the endpoint (yet).
    const ep = find(this.viewEndpoints(net.id)) ?? find(await this.store.listEndpoints(net.id));
    if (!ep) throw notFound(`sandbox ${req.sandbox} is not connected to network ${net.name}`);
    if (ep.host !== this.self.name && !req.force) throw precondition(`endpoint ${ep.name} lives on host ${ep.host}: disconnect it there, or use --force to remove its record from here`);
    await this.disconnectEndpoint(ep, net.name);
  }

  // Removes an endpoint found by the caller (Disconnect, CNI DEL and GC): etcd first, so that a
  // failure leaves the record and the next reconcile or call tries again.
  async disconnectEndpoint(ep: EndpointRecord, networkName = ''): Promise<void> {
    this.begin(ep.id);
    let ok = false;
    try {
      const rev = await this.state.ownWrite(ep.id, true, () => this.store.deleteEndpoint(ep));
      this.state.applyLocalEndpoint(ep, true, rev);
      this.joinedAt.delete(ep.id);
      this.awaitingJoin.delete(ep.id);
      if (ep.host === this.self.name) await this.kernel.removeVeth(hostVethName(ep.id));
      this.log.info('endpoint disconnected', { network: networkName || ep.networkId, endpoint: ep.name, ip: ep.ipv4 || ep.ipv6 });
      ok = true;
    } finally {
      this.inFlight.delete(ep.id);
      // The last local endpoint of a network takes the network's devices with it; another host's
      // endpoint removed from here (--force) changes this host's entries.
      this.settledFor(ep, ok);
    }
  }

  // --- Docker: IPAM reserves an address, CreateEndpoint records the endpoint, Join makes the veth ---

  // One address of `net` (the wanted one, or the next free), reserved cluster-wide for a Docker
  // endpoint still to come; with its prefix length.
  async reserve(net: NetworkRecord, v6: boolean, wanted: string): Promise<string> {
    const subnets = v6 ? net.ipv6 : net.ipv4;
    if (!subnets.length) throw invalid(`network ${net.name} has no IPv${v6 ? 6 : 4} subnet`);
    const mine = this.claiming.get(net.id) ?? new Set<string>();
    this.claiming.set(net.id, mine);
    for (let attempt = 0; attempt < MAX_ALLOC_ATTEMPTS; attempt++) {
      const allocated = (attempt === 0 ? this.viewTaken(net) : undefined) ?? (await this.store.allocatedAddresses(net.id));
      let addr: string;
      try {
        addr = pick(subnets, wanted, this.withClaims(net.id, allocated), allocated, net.name, attempt, attempt === 0 ? this.floors(net.id) : undefined);
      } catch (err) {
        if (attempt === 0 && err instanceof VxError && (err.code === status.ALREADY_EXISTS || err.code === status.RESOURCE_EXHAUSTED)) continue;
        throw err;
      }
      const ip = addr.split('/')[0];
      mine.add(ip);
      try {
        const r = await this.store.reserveAddress(net.id, ip, this.self.name);
        if (r === 'ok') return addr;
        if (r === 'no-network') throw notFound(`network ${net.name} not found (it was removed)`);
        if (wanted && attempt > 0) throw exists(`address ${ip} is already in use in network ${net.name}`);
      } finally {
        mine.delete(ip);
      }
    }
    throw unavailable(`could not allocate an address in network ${net.name}: too many concurrent allocations, try again`);
  }

  async releaseReservation(networkId: string, address: string): Promise<void> {
    await this.store.releaseReservation(networkId, canonicalAddress(address), this.self.name);
    this.state.snap?.endpoints.forgetFloors(networkId); // the address was never in the view
  }

  // Reservations that no CreateEndpoint took within `maxAgeMs` (Docker gave up, or this agent
  // restarted in between) are given back.
  async collectReservations(maxAgeMs: number): Promise<number> {
    let n = 0;
    for (const r of await this.store.listReservations(this.self.name)) {
      if (Date.now() - Date.parse(r.at) < maxAgeMs) continue;
      await this.store.releaseReservation(r.networkId, r.address, this.self.name);
      n++;
    }
    return n;
  }

  // Records a Docker endpoint with the addresses its IPAM request reserved. Idempotent: Docker may
  // ask again for an endpoint it already created.
  async recordDocker(net: NetworkRecord, ep: EndpointRecord): Promise<EndpointRecord> {
    const known = this.state.snap?.endpoints.get(ep.id);
    if (known) return known;
    const addrs = [ep.ipv4, ep.ipv6].filter((a) => a).map((a) => a.split('/')[0]);
    this.state.applyNetwork(net);
    this.awaitingJoin.set(ep.id, Date.now());
    this.begun++;
    const res = await this.state.ownWrite(ep.id, false, () => this.store.createEndpoint(ep, addrs, this.self.name));
    if (!res.ok) {
      this.awaitingJoin.delete(ep.id);
      if (res.reason === 'no-network') throw notFound(`network ${net.name} not found (it was removed)`);
      if (res.reason === 'name') throw exists(`endpoint ${ep.name} already exists in network ${net.name}`);
      throw precondition(`address ${res.taken ?? ''} was not reserved for this endpoint by vxnet's IPAM on host ${this.self.name}: create the Docker network with --ipam-driver vxnet`);
    }
    this.state.applyLocalEndpoint(ep, false, res.revision);
    this.claimRevision.set(ep.id, res.revision);
    // A Join that never comes leaves the endpoint busy until the grace ends; then it is the
    // reconciler's to release, and nothing else would ask for that run.
    setTimeout(() => {
      if (this.awaitingJoin.has(ep.id)) this.settledFor(ep, false);
    }, JOIN_GRACE_MS + 100).unref();
    return ep;
  }

  // The host end goes into the network's bridge; `peer` stays in this namespace for Docker to move.
  async joinDocker(ep: EndpointRecord, peer: string): Promise<number> {
    const net = this.state.snap?.networks.get(ep.networkId) ?? (await this.store.getNetwork(ep.networkId));
    if (!net) throw notFound(`network ${ep.networkId} not found (it was removed)`);
    this.state.applyNetwork(net);
    this.begin(ep.id);
    this.holdNetwork(net.vni, 1);
    let ok = false;
    try {
      const mtu = overlayMtu(net, this.self.underlayMtu, this.self.vtep.includes(':'));
      await this.kernel.ensureDevicesCached(devicesOf(net, mtu));
      await this.kernel.removeVeth(hostVethName(ep.id)); // a Join that Docker repeats starts afresh
      await this.sandboxes.createPair({ hostVeth: hostVethName(ep.id), peer, mac: ep.mac, mtu, bridge: bridgeName(net.vni) });
      this.awaitingJoin.delete(ep.id);
      this.joinedAt.set(ep.id, Date.now());
      // Docker gives no --wait: "connected" means every peer serving the network can reach the
      // endpoint, so that a peer's first ARP is answered (Docker's overlay loses it: ~1 s).
      const revision = this.claimRevision.get(ep.id) ?? 0;
      this.claimRevision.delete(ep.id);
      const lagging = await this.waitForPeers(net.id, revision, DOCKER_WAIT_MS);
      this.log.info('docker endpoint joined', { network: net.name, endpoint: ep.name, ip: ep.ipv4 || ep.ipv6, mac: ep.mac, ...(lagging.length ? { lagging } : {}) });
      ok = true;
      return mtu;
    } finally {
      this.inFlight.delete(ep.id);
      this.holdNetwork(net.vni, -1);
      this.settled({ endpointId: ep.id, networkId: net.id, vni: net.vni, host: this.self.name, ok });
    }
  }

  private settledFor(ep: EndpointRecord, ok: boolean): void {
    const vni = this.state.snap?.networks.get(ep.networkId)?.vni ?? -1;
    this.settled({ endpointId: ep.id, networkId: ep.networkId, vni, host: ep.host, ok: ok && vni >= 0 });
  }

  findLocal(id: string): EndpointRecord | undefined {
    const ep = this.state.snap?.endpoints.get(id);
    return ep?.host === this.self.name ? ep : undefined;
  }

  findByCni(containerId: string, ifname: string): EndpointRecord | undefined {
    for (const e of this.state.snap?.endpoints.values() ?? []) if (e.host === this.self.name && e.cni?.containerId === containerId && e.cni.ifname === ifname) return e;
    return undefined;
  }

  localCniEndpoints(network: string): EndpointRecord[] {
    const snap = this.state.snap;
    if (!snap) return [];
    return [...snap.endpoints.values()].filter((e) => e.host === this.self.name && e.cni && (e.networkId === network || snap.networks.get(e.networkId)?.name === network));
  }

  async verifySandbox(ep: EndpointRecord): Promise<string[]> {
    if (this.inFlight.has(ep.id)) return [];
    if (ep.docker) return this.verifyDocker(ep);
    const fate = this.fateOf(ep);
    if (fate.fate === 'gone') {
      await this.releaseGone(ep, fate.reason);
      return ['released the endpoint of a sandbox that is gone'];
    }
    const net = this.state.snap?.networks.get(ep.networkId);
    const gw = net && !net.internal && ep.ipv4 ? net.ipv4[0]?.gateway : undefined;
    // Unverified (older record, hidden path): only an interface with the endpoint's MAC, the peer
    // of its veth, is taken for the endpoint's.
    const expect = fate.fate === 'same' ? { netns: ep.netns } : { mac: ep.mac };
    return this.sandboxes.ensureInside(ep.sandbox, ep.ifname, [ep.ipv4, ep.ipv6].filter((a) => a), gw, expect);
  }

  // What the sandbox's path says now of the namespace the endpoint was connected in.
  private fateOf(ep: EndpointRecord): { fate: SandboxFate; reason: string } {
    const now = this.sandboxes.identify(ep.sandbox);
    return { fate: sandboxFate(ep.netns, now), reason: fateReason(ep.netns, now) };
  }

  // The sandbox ended (or its path names another namespace now): the endpoint is released, its
  // address free again; the reconciler then removes the veth if it is still there. Busy meanwhile,
  // so that the reconciler and the sandbox watch do not release it twice.
  private async releaseGone(ep: EndpointRecord, reason: string): Promise<void> {
    if (this.inFlight.has(ep.id) || !this.state.snap?.endpoints.has(ep.id)) return;
    this.begin(ep.id);
    try {
      // Logged once it is done: a failed release (etcd away) is tried again at every look.
      this.state.applyLocalEndpoint(ep, true, await this.store.deleteEndpoint(ep));
      this.log.info('sandbox is gone, releasing its endpoint', { endpoint: ep.name, sandbox: ep.sandbox, ip: ep.ipv4 || ep.ipv6, reason });
    } finally {
      this.inFlight.delete(ep.id);
    }
    this.settledFor(ep, true);
  }

  // Docker's sandboxes live in dockerd's mount namespace and Docker configures them itself. What
  // can be seen from here: a container that left while this agent was not there to hear of it has
  // handed the container end of its veth back to this namespace.
  private async verifyDocker(ep: EndpointRecord): Promise<string[]> {
    const joined = this.joinedAt.get(ep.id);
    if (joined !== undefined && Date.now() - joined < JOIN_GRACE_MS) return []; // Docker may not have moved it yet
    if (!(await this.kernel.hasLink(dockerPeerName(ep.id)))) return [];
    this.log.info('docker container is gone (its interface came back to the host), releasing its endpoint', { endpoint: ep.name, ip: ep.ipv4 || ep.ipv6 });
    await this.disconnectEndpoint(ep);
    return ['released the endpoint of a container that is gone'];
  }

  // The veth of a local endpoint is gone: the sandbox went away while we were not looking (release
  // the endpoint), or someone deleted the veth (attach it again, as Connect did).
  async repair(ep: EndpointRecord): Promise<void> {
    // Checked again now: the endpoint may have been disconnected or (re)connected since the diff.
    if (this.inFlight.has(ep.id) || !this.state.snap?.endpoints.has(ep.id)) return;
    if (ep.docker) {
      // Docker never lets the veth go while the container lives (it hands it back at Leave and we
      // delete it at DeleteEndpoint): without it the container went while this agent was not
      // there to hear of it. Unless Join is still to come.
      const since = this.awaitingJoin.get(ep.id);
      if (since !== undefined && Date.now() - since < JOIN_GRACE_MS) return;
      if (await this.kernel.hasLink(hostVethName(ep.id))) return; // joined since the diff was made
      this.awaitingJoin.delete(ep.id);
      this.joinedAt.delete(ep.id);
      this.claimRevision.delete(ep.id);
      this.log.info('docker container is gone, releasing its endpoint', { endpoint: ep.name, ip: ep.ipv4 || ep.ipv6 });
      this.state.applyLocalEndpoint(ep, true, await this.store.deleteEndpoint(ep));
      this.settledFor(ep, true);
      return;
    }
    const { fate, reason } = this.fateOf(ep);
    let gone = fate === 'gone' ? reason : '';
    if (!gone) {
      try {
        this.sandboxes.check(ep.sandbox);
      } catch (err) {
        gone = (err as Error).message;
      }
    }
    if (gone) return this.releaseGone(ep, gone);
    const net = this.state.snap?.networks.get(ep.networkId);
    if (!net) return;
    const netns = fate === 'same' ? ep.netns : undefined;
    if ((await this.sandboxes.interfaces(ep.sandbox, netns)).includes(ep.ifname)) return; // its peer still lives there: leave it
    // A veth dies with its namespace, so a missing one most often means the sandbox ended. A
    // record without an identity (written by an older version) cannot tell the namespace now under
    // its path from the one it was connected in: released rather than attached into a stranger's.
    if (fate !== 'same') return this.releaseGone(ep, 'the endpoint was recorded without its namespace identity and its veth is gone: the namespace under its path may be another one');
    const mtu = overlayMtu(net, this.self.underlayMtu, this.self.vtep.includes(':'));
    const gw4 = net.ipv4[0]?.gateway;
    await this.sandboxes.attach({
      sandbox: ep.sandbox, netns, hostVeth: hostVethName(ep.id), ifname: ep.ifname, mac: ep.mac, mtu, bridge: bridgeName(net.vni),
      addresses: [ep.ipv4, ep.ipv6].filter((a) => a),
      ...(!net.internal && ep.ipv4 && gw4 && !(await this.sandboxes.hasDefaultRoute(ep.sandbox, 4, netns)) ? { gateway4: gw4 } : {}),
    });
    this.log.info('endpoint re-attached', { endpoint: ep.name, sandbox: ep.sandbox });
  }
}

// Where the lowest free address of a subnet is to be looked for (see EndpointTable's floors).
interface Floors {
  get(s: SubnetConfig): bigint | undefined;
  set(s: SubnetConfig, address: string): void;
}

function pick(subnets: SubnetConfig[], wanted: string, busy: Taken, allocated: Taken, netName: string, attempt: number, floors?: Floors): string {
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
  throw exhausted(`no free address left in network ${netName} (${subnets.map((s) => s.ipRange ?? s.subnet).join(', ')})`);
}

function nextIfname(present: string[]): string {
  for (let i = 0; ; i++) if (!present.includes(`eth${i}`)) return `eth${i}`;
}

function devicesOf(net: NetworkRecord, mtu: number): DesiredNetwork {
  return {
    networkId: net.id, vni: net.vni, vxlan: vxlanName(net.vni), bridge: bridgeName(net.vni), mtu,
    gateways: [...net.ipv4, ...net.ipv6].map((s) => `${s.gateway}/${s.subnet.split('/')[1]}`),
    fdb: new Map(), neigh: new Map(), local: [],
  };
}
