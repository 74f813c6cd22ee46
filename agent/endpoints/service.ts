import { status } from '@grpc/grpc-js';
import { exists, invalid, notFound, precondition, VxError } from '../../control/errors';
import { parseMac } from '../../control/ipam';
import type { EndpointRecord, NetworkRecord } from '../../control/model';
import type { Store } from '../../control/store/store';
import type { NetworkService } from '../../control/networks';
import { newId, endpointToProto } from '../../control/networks';
import { validateIfname, validateEndpointName, validateSandboxArg } from '../../control/validate';
import { resolveNetwork } from '../../control/filters';
import type { ConnectRequest__Output } from '../../control/generated/vxnet/v1/ConnectRequest';
import type { ConnectResponse } from '../../control/generated/vxnet/v1/ConnectResponse';
import type { DisconnectRequest__Output } from '../../control/generated/vxnet/v1/DisconnectRequest';
import type { Logger } from '../../lib/log';
import type { Kernel, OpenSandbox, Sandboxes } from '../dataplane/types';
import { gatewaysOf, networkDevices, networkMtu } from '../desired';
import type { Self } from '../desired';
import { DockerEndpoints } from '../docker/endpoints';
import { hostVethName } from '../names';
import type { InFlight, Repairer, Settled } from '../reconciler';
import type { ClusterState } from '../view';
import { Allocator } from './allocator';
import type { Wanted } from './allocator';
import { attachmentOf, bridgeFull } from './attach';
import { BridgeFullError } from '../dataplane/errors';
import { settledFor } from './deps';
import { waitForPeers } from './peers';
import type { EndpointDeps } from './deps';
import { InFlightOps } from './inflight';
import { SandboxRepair } from './repair';
import { Abandoned } from './abandoned';

// How long a Connect's transaction given up on may still land: the store's call deadline (5 s by
// default) for each of etcd3's three attempts, and a margin.
const ABANDONED_LATE_MS = 20_000;
import { nextIfname, sandboxName, sandboxPath } from './sandbox-names';

// Connect and Disconnect for sandboxes on this host. Connect writes etcd and the kernel at once
// (each ~2 ms); whichever refuses, the other is undone, so a rejected request changes nothing.
// The service is also what the reconciler reads of the endpoint operations (InFlight) and asks to
// put endpoints right (Repairer); Docker's endpoints are its `docker` part.
export class EndpointService implements InFlight, Repairer {
  readonly docker: DockerEndpoints;
  private readonly d: EndpointDeps;
  private readonly allocator: Allocator;
  private readonly repairs: SandboxRepair;
  readonly abandoned: Abandoned;

  constructor(
    store: Store,
    private readonly networks: NetworkService,
    state: ClusterState,
    kernel: Kernel,
    sandboxes: Sandboxes,
    self: Self,
    log: Logger,
    // Told at the end of every endpoint operation, whatever it did: the reconciler decides.
    settled: (op: Settled) => void,
  ) {
    const ops = new InFlightOps(() => this.docker.awaiting());
    this.d = { store, state, kernel, sandboxes, self, log, settled, ops };
    this.abandoned = new Abandoned(this.d, ABANDONED_LATE_MS);
    this.allocator = new Allocator(store, state, (ep) => this.abandoned.add(ep));
    this.docker = new DockerEndpoints(this.d, this.allocator, (ep) => this.disconnectEndpoint(ep));
    this.repairs = new SandboxRepair(this.d, this.docker, (id) => this.abandoned.has(id));
  }

  // Endpoints a request is working on, and Docker endpoints whose Join is still to come: neither is
  // the reconciler's to repair.
  busy(): ReadonlySet<string> {
    return this.d.ops.busy();
  }

  busyNetworks(): ReadonlySet<number> {
    return this.d.ops.busyNetworks();
  }

  opsBegun(): number {
    return this.d.ops.opsBegun();
  }

  repair(ep: EndpointRecord): Promise<void> {
    return this.repairs.repair(ep);
  }

  verifySandbox(ep: EndpointRecord): Promise<string[]> {
    return this.repairs.verifySandbox(ep);
  }

  // The agent's own view answers most lookups without a round trip; a network it does not know
  // yet (created a moment ago elsewhere) is looked up in etcd. A view that is stale the other way
  // (network just deleted) is caught by the Connect transaction's compare.
  private async resolve(ref: string): Promise<NetworkRecord> {
    const snap = this.d.state.snap;
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
    this.d.state.applyNetwork(net);
    return net;
  }

  // `access`: where this process reaches the sandbox when the recorded path is only visible in the
  // caller's mount namespace (a CNI runtime with a private /run/netns passes /proc/<pid>/root/...).
  async connect(
    req: ConnectRequest__Output,
    identity: Pick<EndpointRecord, 'cni' | 'docker'> = {},
    access?: string,
    deadline = Infinity, // the caller's (ms since the epoch): a Connect that outlives it is undone
  ): Promise<ConnectResponse> {
    const t = [performance.now()];
    validateSandboxArg(req.sandbox);
    if (req.interfaceName) validateIfname(req.interfaceName);
    if (req.name) validateEndpointName(req.name);
    const mac = req.macAddress ? parseMac(req.macAddress) : undefined;
    const net = await this.resolve(req.network);
    if (req.ipv6Address && net.ipv6.length === 0)
      throw invalid(`network ${net.name} has no IPv6 subnet: --ip6 ${req.ipv6Address} cannot be used`);
    const sandbox = sandboxPath(req.sandbox);
    const reach = access ?? sandbox;
    const box = await this.d.sandboxes.open(reach, {
      v4: !net.internal && net.ipv4.length > 0,
      v6: !net.internal && net.ipv6.length > 0,
    });
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
        id: newId(),
        networkId: net.id,
        name,
        host: this.d.self.name,
        sandbox,
        ifname,
        mac: mac ?? '',
        ipv4: '',
        ipv6: '',
        aliases: req.aliases ?? [],
        created: new Date().toISOString(),
        ...identity,
        netns,
      };
      return await this.connectIn(
        box,
        reach,
        net,
        base,
        req,
        { ipv4: req.ipv4Address, ipv6: req.ipv6Address, macFromIp: mac === undefined },
        t,
        deadline,
      );
    } finally {
      box.close();
    }
  }

  private async connectIn(
    box: OpenSandbox,
    reach: string,
    net: NetworkRecord,
    base: EndpointRecord,
    req: ConnectRequest__Output,
    want: Wanted,
    t: number[],
    deadline: number,
  ): Promise<ConnectResponse> {
    const { state, store, kernel, self, log, ops } = this.d;
    // Busy before the record exists: its watch event can reach the reconciler before the
    // transaction's own answer reaches us, and the veth is this request's to create.
    const id = base.id;
    ops.begin(id);
    ops.holdNetwork(net.vni, 1);
    const mtu = networkMtu(net, self);
    const gw = gatewaysOf(net);
    const plug = async (ep: EndpointRecord): Promise<void> => {
      const bridgeIndex = await kernel.ensureDevicesCached(networkDevices(net, self));
      await box.attach(
        await attachmentOf(
          self,
          net,
          ep,
          { bridgeIndex, sandbox: reach, netns: box.netns },
          (family) => !(family === 4 ? box.default4 : box.default6),
        ),
      );
    };
    let ep: EndpointRecord | undefined;
    let revision = 0;
    let ok = false;
    try {
      // First try: addresses from the agent's view, the kernel plugged while etcd commits. A lost
      // race unplugs the veth and goes on as any later try does (etcd first, then the kernel).
      const inView = this.allocator.viewTaken(net);
      const first = inView ? this.allocator.plan(net, base, want, 0, inView) : undefined;
      let plugged = false;
      if (first) {
        const [c, k] = await Promise.allSettled([this.allocator.commit(net, first, want), plug(first)]);
        if (c.status === 'fulfilled' && c.value !== undefined) [ep, revision] = [first, c.value];
        if (c.status === 'rejected') throw c.reason;
        if (k.status === 'rejected') throw k.reason;
        plugged = true;
        if (!ep) {
          log.debug('address taken meanwhile: unplugged, trying again from etcd', {
            network: net.name,
            ip: first.ipv4 || first.ipv6,
          });
          await kernel.removeVeth(hostVethName(id));
          plugged = false;
        }
      }
      t.push(performance.now());
      if (!ep) ({ ep, revision } = await this.allocator.claim(net, base, want, first ? 1 : 0));
      if (!plugged) await plug(ep);
      t.push(performance.now());
      const lagging = req.wait ? await waitForPeers(this.d, net.id, revision, req.waitTimeoutMs || 2000) : [];
      // Nobody is waiting for this answer any more: undone, as the caller believes it failed.
      if (Date.now() > deadline)
        throw new VxError(status.DEADLINE_EXCEEDED, 'the caller gave up before the Connect completed; undone');
      const ms = t.slice(1).map((x, i) => Math.round((x - t[i]) * 100) / 100);
      log.info('endpoint connected', {
        network: net.name,
        endpoint: ep.name,
        ip: ep.ipv4 || ep.ipv6,
        mac: ep.mac,
        sandbox: ep.sandbox,
        ifname: ep.ifname,
        ms: { checks: ms[0], etcdAndKernel: ms[1], afterLostRace: ms[2] },
      });
      ok = true;
      return {
        endpoint: endpointToProto(ep),
        gateway: net.internal ? '' : (gw.v4 ?? ''),
        gatewayIpv6: net.internal ? '' : (gw.v6 ?? ''),
        mtu,
        laggingHosts: lagging,
      };
    } catch (err) {
      if (ep)
        log.warn('connect failed, rolling back', {
          network: net.name,
          endpoint: ep.name,
          error: (err as Error).message,
        });
      await kernel.removeVeth(hostVethName(id)).catch(() => undefined);
      const rec = ep;
      if (rec) {
        const rev = await state
          .ownWrite(rec.id, true, () => store.deleteEndpoint(rec))
          .catch((e: Error) => {
            log.error('rollback of endpoint record failed', { endpoint: rec.id, error: e.message });
            return 0;
          });
        state.applyLocalEndpoint(rec, true, rev);
      }
      throw err instanceof BridgeFullError ? bridgeFull(net, self.name) : err;
    } finally {
      ops.end(id);
      ops.holdNetwork(net.vni, -1);
      // The first endpoint of a network on this host needs every peer's entries; the reconciler
      // tells that from a later one, which changes nothing it programs.
      this.d.settled({ endpointId: id, networkId: net.id, vni: net.vni, host: self.name, ok });
    }
  }

  async disconnect(req: DisconnectRequest__Output): Promise<void> {
    validateSandboxArg(req.sandbox);
    const net = await this.resolve(req.network);
    const p = sandboxPath(req.sandbox);
    const find = (eps: EndpointRecord[]): EndpointRecord | undefined =>
      eps.find((e) => e.sandbox === p && e.host === this.d.self.name) ??
      eps.find((e) => e.name === req.sandbox || e.id === req.sandbox) ??
      eps.find((e) => e.sandbox === p);
    // The view first (no round trip); etcd when the view does not know the endpoint (yet).
    const ep = find(this.viewEndpoints(net.id)) ?? find(await this.d.store.listEndpoints(net.id));
    if (!ep) throw notFound(`sandbox ${req.sandbox} is not connected to network ${net.name}`);
    if (ep.host !== this.d.self.name && !req.force)
      throw precondition(
        `endpoint ${ep.name} lives on host ${ep.host}: disconnect it there, or use --force to remove its record from here`,
      );
    await this.disconnectEndpoint(ep, net.name);
  }

  // Removes an endpoint found by the caller (Disconnect, CNI DEL, Docker's DeleteEndpoint and GC):
  // etcd first, so that a failure leaves the record and the next reconcile or call tries again.
  async disconnectEndpoint(ep: EndpointRecord, networkName = ''): Promise<void> {
    const { state, store, kernel, self, log, ops } = this.d;
    ops.begin(ep.id);
    let ok = false;
    try {
      const rev = await state.ownWrite(ep.id, true, () => store.deleteEndpoint(ep));
      state.applyLocalEndpoint(ep, true, rev);
      this.docker.forget(ep.id);
      if (ep.host === self.name) await kernel.removeVeth(hostVethName(ep.id));
      log.info('endpoint disconnected', {
        network: networkName || ep.networkId,
        endpoint: ep.name,
        ip: ep.ipv4 || ep.ipv6,
      });
      ok = true;
    } finally {
      ops.end(ep.id);
      // The last local endpoint of a network takes the network's devices with it; another host's
      // endpoint removed from here (--force) changes this host's entries.
      settledFor(this.d, ep, ok);
    }
  }

  private viewEndpoints(networkId: string): EndpointRecord[] {
    const out: EndpointRecord[] = [];
    for (const e of this.d.state.snap?.endpoints.values() ?? []) if (e.networkId === networkId) out.push(e);
    return out;
  }

  findByCni(containerId: string, ifname: string): EndpointRecord | undefined {
    for (const e of this.d.state.snap?.endpoints.values() ?? [])
      if (e.host === this.d.self.name && e.cni?.containerId === containerId && e.cni.ifname === ifname) return e;
    return undefined;
  }

  localCniEndpoints(network: string): EndpointRecord[] {
    const snap = this.d.state.snap;
    if (!snap) return [];
    return [...snap.endpoints.values()].filter(
      (e) =>
        e.host === this.d.self.name &&
        e.cni &&
        (e.networkId === network || snap.networks.get(e.networkId)?.name === network),
    );
  }
}
