import { BridgeFullError } from '../dataplane/errors';
import { bridgeFull } from '../endpoints/attach';
import { invalid, notFound, precondition } from '../../control/errors';
import { addressOf, canonicalAddress } from '../../control/ipam';
import { plainAddressesOf } from '../../control/model';
import type { EndpointRecord, NetworkRecord } from '../../control/model';
import { networkDevices, networkMtu } from '../desired';
import { bridgeName, dockerPeerName, hostVethName } from '../names';
import { addressInUse, networkRemoved, recordRefused } from '../endpoints/allocator';
import type { Allocator } from '../endpoints/allocator';
import { settledFor } from '../endpoints/deps';
import { waitForPeers } from '../endpoints/peers';
import type { EndpointDeps } from '../endpoints/deps';

// How long a Docker endpoint may wait between CreateEndpoint and Join before it counts as abandoned.
const JOIN_GRACE_MS = 60_000;
// How long Join waits for peers to program a new Docker endpoint before it answers anyway.
const DOCKER_WAIT_MS = 1000;

// A Docker endpoint's life on this host: IPAM reserves an address, CreateEndpoint records the
// endpoint, Join makes the veth, and a container that left unseen is found and released.
export class DockerEndpoints {
  private readonly awaitingJoin = new Map<string, number>(); // endpoint -> when CreateEndpoint recorded it
  private readonly joinedAt = new Map<string, number>(); // endpoint -> when this process joined it
  private readonly recordRevision = new Map<string, number>(); // endpoint -> revision of its record

  constructor(
    private readonly d: EndpointDeps,
    private readonly allocator: Allocator,
    // The endpoint service's removal of an endpoint (DeleteEndpoint, a container found gone).
    private readonly remove: (ep: EndpointRecord) => Promise<void>,
  ) {}

  // Endpoints whose Join is still to come within the grace: not the reconciler's to repair.
  awaiting(): string[] {
    if (this.awaitingJoin.size === 0) return [];
    const now = Date.now();
    return [...this.awaitingJoin].filter(([, t]) => now - t < JOIN_GRACE_MS).map(([id]) => id);
  }

  // The endpoint was removed: nothing of its Join is to come or to be waited for.
  forget(id: string): void {
    this.joinedAt.delete(id);
    this.awaitingJoin.delete(id);
  }

  findLocal(id: string): EndpointRecord | undefined {
    const ep = this.d.state.snap?.endpoints.get(id);
    return ep?.host === this.d.self.name ? ep : undefined;
  }

  disconnect(ep: EndpointRecord): Promise<void> {
    return this.remove(ep);
  }

  // One address of `net` (the wanted one, or the next free), reserved cluster-wide for a Docker
  // endpoint still to come; with its prefix length.
  async reserve(net: NetworkRecord, v6: boolean, wanted: string): Promise<string> {
    const subnets = v6 ? net.ipv6 : net.ipv4;
    if (!subnets.length) throw invalid(`network ${net.name} has no IPv${v6 ? 6 : 4} subnet`);
    return this.allocator.retry(net, 0, async (attempt, allocated) => {
      const addr = this.allocator.pickIn(net, subnets, wanted, attempt, allocated);
      if (addr === undefined) return undefined;
      const ip = addressOf(addr);
      const claimed = this.allocator.claimingNow(net.id, [ip]);
      try {
        const r = await this.d.store.reserveAddress(net.id, ip, this.d.self.name);
        if (r === 'ok') return addr;
        if (r === 'no-network') throw networkRemoved(net);
        if (wanted && attempt > 0) throw addressInUse(ip, net);
        return undefined;
      } finally {
        claimed();
      }
    });
  }

  async releaseReservation(networkId: string, address: string): Promise<void> {
    await this.d.store.releaseReservation(networkId, canonicalAddress(address), this.d.self.name);
    this.d.state.snap?.endpoints.forgetFloors(networkId); // the address was never in the view
  }

  // Reservations that no CreateEndpoint took within `maxAgeMs` (Docker gave up, or this agent
  // restarted in between) are given back.
  async collectReservations(maxAgeMs: number): Promise<number> {
    let n = 0;
    for (const r of await this.d.store.listReservations(this.d.self.name)) {
      if (Date.now() - Date.parse(r.at) < maxAgeMs) continue;
      await this.d.store.releaseReservation(r.networkId, r.address, this.d.self.name);
      n++;
    }
    return n;
  }

  // Records a Docker endpoint with the addresses its IPAM request reserved. Idempotent: Docker may
  // ask again for an endpoint it already created.
  async record(net: NetworkRecord, ep: EndpointRecord): Promise<EndpointRecord> {
    const { state, store, self } = this.d;
    const known = state.snap?.endpoints.get(ep.id);
    if (known) return known;
    state.applyNetwork(net);
    this.awaitingJoin.set(ep.id, Date.now());
    this.d.ops.count();
    const res = await state.ownWrite(ep.id, false, () => store.createEndpoint(ep, plainAddressesOf(ep), self.name));
    if (!res.ok) {
      this.awaitingJoin.delete(ep.id);
      throw (
        recordRefused(net, res, `endpoint ${ep.name} already exists in network ${net.name}`) ??
        precondition(
          `address ${res.taken ?? ''} was not reserved for this endpoint by vxnet's IPAM on host ${self.name}: create the Docker network with --ipam-driver vxnet`,
        )
      );
    }
    state.applyLocalEndpoint(ep, false, res.revision);
    this.recordRevision.set(ep.id, res.revision);
    // A Join that never comes leaves the endpoint busy until the grace ends; then it is the
    // reconciler's to release, and nothing else would ask for that run.
    setTimeout(() => {
      if (this.awaitingJoin.has(ep.id)) settledFor(this.d, ep, false);
    }, JOIN_GRACE_MS + 100).unref();
    return ep;
  }

  // The host end goes into the network's bridge; `peer` stays in this namespace for Docker to move.
  async join(ep: EndpointRecord, peer: string): Promise<number> {
    const { state, store, kernel, sandboxes, self, ops } = this.d;
    const net = state.snap?.networks.get(ep.networkId) ?? (await store.getNetwork(ep.networkId));
    if (!net) throw notFound(`network ${ep.networkId} not found (it was removed)`);
    state.applyNetwork(net);
    ops.begin(ep.id);
    ops.holdNetwork(net.vni, 1);
    let ok = false;
    try {
      const mtu = networkMtu(net, self);
      await kernel.ensureDevicesCached(networkDevices(net, self));
      await kernel.removeVeth(hostVethName(ep.id)); // a Join that Docker repeats starts afresh
      await sandboxes
        .createPair({ hostVeth: hostVethName(ep.id), peer, mac: ep.mac, mtu, bridge: bridgeName(net.vni) })
        .catch((err: unknown) => {
          throw err instanceof BridgeFullError ? bridgeFull(net, self.name) : err;
        });
      this.awaitingJoin.delete(ep.id);
      this.joinedAt.set(ep.id, Date.now());
      // Docker gives no --wait: "connected" means every peer serving the network can reach the
      // endpoint, so that a peer's first ARP is answered (Docker's overlay loses it: ~1 s).
      const revision = this.recordRevision.get(ep.id) ?? 0;
      this.recordRevision.delete(ep.id);
      const lagging = await waitForPeers(this.d, net.id, revision, DOCKER_WAIT_MS);
      this.d.log.info('docker endpoint joined', {
        network: net.name,
        endpoint: ep.name,
        ip: ep.ipv4 || ep.ipv6,
        mac: ep.mac,
        ...(lagging.length ? { lagging } : {}),
      });
      ok = true;
      return mtu;
    } finally {
      ops.end(ep.id);
      ops.holdNetwork(net.vni, -1);
      this.d.settled({ endpointId: ep.id, networkId: net.id, vni: net.vni, host: self.name, ok });
    }
  }

  // Docker's sandboxes live in dockerd's mount namespace and Docker configures them itself. What
  // can be seen from here: a container that left while this agent was not there to hear of it has
  // handed the container end of its veth back to this namespace.
  async verify(ep: EndpointRecord): Promise<string[]> {
    const joined = this.joinedAt.get(ep.id);
    if (joined !== undefined && Date.now() - joined < JOIN_GRACE_MS) return []; // Docker may not have moved it yet
    if (!(await this.d.kernel.hasLink(dockerPeerName(ep.id)))) return [];
    this.d.log.info('docker container is gone (its interface came back to the host), releasing its endpoint', {
      endpoint: ep.name,
      ip: ep.ipv4 || ep.ipv6,
    });
    await this.remove(ep);
    return ['released the endpoint of a container that is gone'];
  }

  // Its veth is missing. Docker never lets the veth go while the container lives (it hands it back
  // at Leave and we delete it at DeleteEndpoint): without it the container went while this agent
  // was not there to hear of it. Unless Join is still to come.
  async repair(ep: EndpointRecord): Promise<void> {
    const since = this.awaitingJoin.get(ep.id);
    if (since !== undefined && Date.now() - since < JOIN_GRACE_MS) return;
    if (await this.d.kernel.hasLink(hostVethName(ep.id))) return; // joined since the diff was made
    this.forget(ep.id);
    this.recordRevision.delete(ep.id);
    this.d.log.info('docker container is gone, releasing its endpoint', { endpoint: ep.name, ip: ep.ipv4 || ep.ipv6 });
    this.d.state.applyLocalEndpoint(ep, true, await this.d.store.deleteEndpoint(ep));
    settledFor(this.d, ep, true);
  }
}
