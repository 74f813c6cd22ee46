import { Etcd3, IOptions, isRecoverableError } from 'etcd3';
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, IBackoff, retry } from 'cockatiel';
import type * as RPC from 'etcd3/lib/rpc';
import { unavailable } from '../errors';
import { storeError } from './errors';
import { reservationOf } from '../model';
import type { DockerNetworkRecord, EndpointRecord, NetworkRecord } from '../model';
import { keys, prefixEnd } from './keys';
import { PrefixWatch } from './watch';
import type { WatchHandlers } from './watch';
import { rangeAll } from './raw';
import { decodeRangeResponse } from './wire';
import { applyKv, newViewChange, ViewBatch } from './view-change';
import type { ClusterView, ViewChange, ViewHandlers, ViewWatch } from './view-change';
import { EndpointTable } from './endpoint-table';
import { absent, decode, del, delPrefix, noneUnder, present, put, unchangedSince, valueIs } from './txn';
import { EtcdHostLease } from './lease';
import { EtcdHealth } from './health';
import { BoundedCall } from './call';
import { HostRecords, releaseOps } from './hosts';
import type { HostState } from './hosts';
import type { HostLease } from './lease';
import type { EtcdTarget } from './raw';

export type { ClusterView, ViewBatch, ViewChange, ViewHandlers, ViewWatch };

export type { HostState };

export interface StoreOptions extends EtcdTarget {
  callTimeoutMs?: number;
}

export class Store {
  private readonly client: Etcd3;
  private readonly timeoutMs: number;
  // Unary etcd requests made (a metric, and the bench's requests per Connect).
  get requests(): number {
    return this.calls.requests;
  }
  private readonly target: StoreOptions;
  private watchEndpoint = 0; // the member the next watch goes to; moves on after a failure
  readonly health = new EtcdHealth();
  private readonly calls: BoundedCall;
  private readonly hosts: HostRecords;
  // etcd answered the latest request or lease keep-alive (a metric; keep-alives keep it current).
  get reachable(): boolean {
    return this.health.outageSince() === undefined;
  }

  constructor(opts: StoreOptions) {
    this.timeoutMs = opts.callTimeoutMs ?? 5000;
    this.target = opts;
    const o: IOptions = {
      hosts: opts.endpoints,
      dialTimeout: this.timeoutMs,
      // A watch response or a full load carries every endpoint of a big cluster: far over gRPC's
      // default 4 MiB limit at tens of thousands of endpoints.
      // A member back from a restart is dialled again within half a second (grpc-js backs off to
      // two minutes by default), so that the first request after an outage finds it.
      grpcOptions: {
        'grpc.max_receive_message_length': 1 << 30,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 500,
      },
      // Every unary call is bounded so that an etcd outage surfaces as UNAVAILABLE, never as a hang.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + this.timeoutMs }),
      // etcd3's defaults keep a host's breaker open for 5 s after three failures, so the API stays
      // UNAVAILABLE for seconds after etcd is back; half a second is enough to avoid hammering it,
      // and within the second that a silent etcd is given (health.ts) the first write after it
      // returns still gets through.
      faultHandling: {
        host: () =>
          circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 500, breaker: new ConsecutiveBreaker(3) }),
        global: retry(handleWhen(isRecoverableError), { maxAttempts: 3 }),
        // A watch down means a stale view: retry it within a second, not etcd3's 30 s maximum.
        watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }) as unknown as IBackoff<unknown>, // etcd3 is typed for an older cockatiel; it calls the factory's next()
      },
    };
    if (opts.tls)
      o.credentials = {
        rootCertificate: opts.tls.ca,
        ...(opts.tls.key ? { privateKey: opts.tls.key } : {}),
        ...(opts.tls.cert ? { certChain: opts.tls.cert } : {}),
      };
    if (opts.auth) o.auth = opts.auth;
    this.client = new Etcd3(o);
    this.calls = new BoundedCall(this.timeoutMs, this.health, () => this.client.maintenance.status());
    this.hosts = new HostRecords({
      range: (prefix) => this.range(prefix),
      txn: (c, ok) => this.txn(c, ok),
      listEndpoints: () => this.listEndpoints(),
      leaseTtl: async (id) => Number((await this.call(() => this.client.leaseClient.leaseTimeToLive({ ID: id }))).TTL),
    });
  }

  close(): void {
    this.client.close();
  }

  // Every change under `prefix` from `revision` on. A failed watch sends the next one to another
  // member: a member cut off from the others would otherwise hold the agent's view still.
  async watchPrefix(prefix: string, revision: number, on: WatchHandlers): Promise<PrefixWatch> {
    try {
      return await PrefixWatch.open(
        this.target,
        this.watchEndpoint,
        Buffer.from(prefix),
        prefixEnd(prefix),
        revision,
        this.timeoutMs,
        {
          data: (res) => {
            this.health.answered();
            on.data(res);
          },
          error: (err) => {
            this.watchEndpoint++;
            on.error(err);
          },
        },
      );
    } catch (err) {
      this.watchEndpoint++;
      throw storeError(err);
    }
  }

  // The view's changes from `revision` on (see ViewBatch), with the same failover as watchPrefix.
  watchView(revision: number, on: ViewHandlers): Promise<ViewWatch> {
    return this.watchPrefix(keys.all, revision, {
      data: (res) => on.data(new ViewBatch(res)),
      error: (err) => on.error(err),
    });
  }

  // Every unary request, bounded (see BoundedCall).
  private call<T>(fn: () => Promise<T>): Promise<T> {
    return this.calls.call(fn);
  }

  async txn(
    compare: RPC.ICompare[],
    success: RPC.IRequestOp[],
    failure: RPC.IRequestOp[] = [],
  ): Promise<RPC.ITxnResponse> {
    return this.call(() => this.client.kv.txn({ compare, success, failure }));
  }

  private async range(prefix: string, revision?: number): Promise<RPC.IRangeResponse> {
    return this.call(() =>
      this.client.kv.range({
        key: Buffer.from(prefix),
        range_end: prefixEnd(prefix),
        ...(revision ? { revision } : {}),
      }),
    );
  }

  private async getKey(key: string): Promise<RPC.IKeyValue | undefined> {
    const res = await this.call(() => this.client.kv.range({ key: Buffer.from(key) }));
    return res.kvs[0];
  }

  async revision(): Promise<number> {
    const res = await this.call(() => this.client.kv.range({ key: Buffer.from(keys.all), limit: 1, keys_only: true }));
    return Number(res.header.revision);
  }

  // --- networks ---------------------------------------------------------------------------------

  async listNetworks(): Promise<{ networks: NetworkRecord[]; revision: number }> {
    const res = await this.range(keys.networks);
    return { networks: res.kvs.map((kv) => decode<NetworkRecord>(kv)), revision: Number(res.header.revision) };
  }

  async getNetwork(id: string): Promise<NetworkRecord | undefined> {
    const kv = await this.getKey(keys.network(id));
    return kv ? decode<NetworkRecord>(kv) : undefined;
  }

  // Optimistic create: `build` validates against the networks read at revision R and returns the new
  // record; the transaction commits only if no network changed since R and the name and VNI claims are
  // free, so two creates can never both pass the overlap, name or VNI checks. On conflict we re-read and
  // re-validate, which turns a lost race into the right ALREADY_EXISTS error.
  async createNetwork(build: (existing: NetworkRecord[]) => NetworkRecord, maxAttempts = 50): Promise<NetworkRecord> {
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const { networks, revision } = await this.listNetworks();
      const rec = build(networks);
      const res = await this.txn(
        [unchangedSince(keys.networks, revision), absent(keys.name(rec.name)), absent(keys.vni(rec.vni))],
        [put(keys.network(rec.id), rec), put(keys.name(rec.name), rec.id), put(keys.vni(rec.vni), rec.id)],
      );
      if (res.succeeded) return rec;
      await jitter(attempt);
    }
    throw unavailable('could not create the network: too much concurrent change in etcd, try again');
  }

  // Deletes the network only if it still exists and has no endpoint, in one transaction.
  async deleteNetwork(net: NetworkRecord): Promise<'deleted' | 'gone' | 'in-use'> {
    const res = await this.txn(
      [present(keys.network(net.id)), noneUnder(keys.endpointsOf(net.id))],
      [
        del(keys.network(net.id)),
        del(keys.name(net.name)),
        del(keys.vni(net.vni)),
        delPrefix(keys.ipamOf(net.id)),
        delPrefix(keys.epNamesOf(net.id)),
      ],
    );
    if (res.succeeded) return 'deleted';
    return (await this.getKey(keys.network(net.id))) ? 'in-use' : 'gone';
  }

  // --- endpoints and addresses -------------------------------------------------------------------

  async listEndpoints(networkId?: string): Promise<EndpointRecord[]> {
    const res = await this.range(networkId ? keys.endpointsOf(networkId) : keys.endpointsAll);
    return res.kvs.map((kv) => decode<EndpointRecord>(kv));
  }

  async allocatedAddresses(networkId: string): Promise<Set<string>> {
    const res = await this.call(() =>
      this.client.kv.range({
        key: Buffer.from(keys.ipamOf(networkId)),
        range_end: prefixEnd(keys.ipamOf(networkId)),
        keys_only: true,
      }),
    );
    const p = keys.ipamOf(networkId).length;
    return new Set(res.kvs.map((kv) => kv.key.toString().slice(p)));
  }

  // Claims the addresses and the endpoint's name and records the endpoint, all or nothing. Fails
  // (with the reason) when the network is gone, an address is taken or the name is in use. With
  // `reservedOn`, the addresses must be that host's reservations instead of free (Docker's IPAM
  // reserved them before it created the endpoint).
  async createEndpoint(
    ep: EndpointRecord,
    addresses: string[],
    reservedOn?: string,
  ): Promise<
    { ok: true; revision: number } | { ok: false; reason: 'no-network' | 'address' | 'name'; taken?: string }
  > {
    const ipam = (a: string): string => keys.ipam(ep.networkId, a);
    const free = (a: string): RPC.ICompare =>
      reservedOn ? valueIs(ipam(a), reservationOf(reservedOn)) : absent(ipam(a));
    const compare = [
      present(keys.network(ep.networkId)),
      absent(keys.epName(ep.networkId, ep.name)),
      ...addresses.map(free),
    ];
    const success = [
      put(keys.endpoint(ep.networkId, ep.id), ep),
      put(keys.epName(ep.networkId, ep.name), ep.id),
      ...addresses.map((a) => put(ipam(a), ep.id)),
      ...(reservedOn ? addresses.map((a) => del(keys.reservation(reservedOn, ep.networkId, a))) : []),
    ];
    const failure: RPC.IRequestOp[] = [
      { request_range: { key: Buffer.from(keys.network(ep.networkId)), keys_only: true } },
      { request_range: { key: Buffer.from(keys.epName(ep.networkId, ep.name)), keys_only: true } },
      ...addresses.map((a) => ({ request_range: { key: Buffer.from(ipam(a)), keys_only: !reservedOn } })),
    ];
    const res = await this.txn(compare, success, failure);
    if (res.succeeded) return { ok: true, revision: Number(res.header.revision) };
    const found = res.responses.map((r) => r.response_range.kvs.length > 0);
    if (!found[0]) return { ok: false, reason: 'no-network' };
    if (found[1]) return { ok: false, reason: 'name' };
    const held = (j: number): boolean =>
      res.responses[j + 2].response_range.kvs[0]?.value?.toString() === JSON.stringify(reservationOf(reservedOn ?? ''));
    const i = reservedOn ? addresses.findIndex((_, j) => !held(j)) : found.slice(2).findIndex((f) => f);
    return { ok: false, reason: 'address', taken: addresses[i] };
  }

  // Takes one address of a network for a later createEndpoint(..., host).
  async reserveAddress(networkId: string, address: string, host: string): Promise<'ok' | 'no-network' | 'taken'> {
    const res = await this.txn(
      [present(keys.network(networkId)), absent(keys.ipam(networkId, address))],
      [
        put(keys.ipam(networkId, address), reservationOf(host)),
        put(keys.reservation(host, networkId, address), new Date().toISOString()),
      ],
      [{ request_range: { key: Buffer.from(keys.network(networkId)), keys_only: true } }],
    );
    if (res.succeeded) return 'ok';
    return res.responses[0].response_range.kvs.length ? 'taken' : 'no-network';
  }

  // Gives a reservation back; an address that an endpoint owns by now is left alone.
  async releaseReservation(networkId: string, address: string, host: string): Promise<void> {
    await this.txn(
      [valueIs(keys.ipam(networkId, address), reservationOf(host))],
      [del(keys.ipam(networkId, address)), del(keys.reservation(host, networkId, address))],
      [del(keys.reservation(host, networkId, address))],
    );
  }

  // A host's reservations with the time each was made.
  async listReservations(host: string): Promise<{ networkId: string; address: string; at: string }[]> {
    const res = await this.range(keys.reservationsOf(host));
    return res.kvs.map((kv) => {
      const [networkId, address] = kv.key.toString().slice(keys.reservationsOf(host).length).split('/');
      return { networkId, address, at: decode<string>(kv) };
    });
  }

  // --- Docker's networks ----------------------------------------------------------------------------

  async getDockerNetwork(dockerId: string): Promise<DockerNetworkRecord | undefined> {
    const kv = await this.getKey(keys.dockerNetwork(dockerId));
    return kv ? decode<DockerNetworkRecord>(kv) : undefined;
  }

  async listDockerNetworks(): Promise<DockerNetworkRecord[]> {
    return (await this.range(keys.dockerNetworks)).kvs.map((kv) => decode<DockerNetworkRecord>(kv));
  }

  // Binds a Docker network to a vxnet network that must still exist.
  async putDockerNetwork(rec: DockerNetworkRecord): Promise<boolean> {
    return (await this.txn([present(keys.network(rec.networkId))], [put(keys.dockerNetwork(rec.dockerId), rec)]))
      .succeeded;
  }

  async deleteDockerNetwork(dockerId: string): Promise<void> {
    await this.txn([], [del(keys.dockerNetwork(dockerId))]);
  }

  // Removes the endpoint and releases its addresses and name in one transaction: the claims were
  // created with the endpoint and are only ever deleted with it, so they cannot outlive it.
  async deleteEndpoint(ep: EndpointRecord): Promise<number> {
    return (await this.deleteEndpointIfPresent(ep)).revision;
  }

  // The same, saying whether the endpoint was there to delete.
  async deleteEndpointIfPresent(ep: EndpointRecord): Promise<{ deleted: boolean; revision: number }> {
    const res = await this.txn([present(keys.endpoint(ep.networkId, ep.id))], releaseOps(ep));
    return { deleted: res.succeeded, revision: Number(res.header.revision) };
  }

  // --- hosts ---------------------------------------------------------------------------------------

  // Granted with its first put (etcd3 grants lazily), renewed until released or revoked.
  grantLease(ttlSeconds: number): HostLease {
    const lease = this.client.lease(ttlSeconds, { autoKeepAlive: true });
    // A renewal is etcd answering too: the time of its last answer stays true in a quiet cluster.
    lease.on('keepaliveSucceeded', () => this.health.answered());
    lease.on('keepaliveFailed', () => this.health.failed());
    return new EtcdHostLease(
      lease,
      (fn) => this.call(fn),
      (c, s, f) => this.txn(c, s, f),
    );
  }

  // The cluster's hosts: their states, the "down" mark, a host's removal (./hosts).
  hostStates(): Promise<HostState[]> {
    return this.hosts.states();
  }

  markDown(name: string, since: string): Promise<boolean> {
    return this.hosts.markDown(name, since);
  }

  removeHost(name: string): Promise<number> {
    return this.hosts.remove(name);
  }

  // --- snapshot ----------------------------------------------------------------------------------

  // Read by hand (./raw), from the member the next watch goes to: the agent's start and every reload
  // read the whole cluster.
  async snapshot(): Promise<ClusterView> {
    this.calls.requests++;
    let res;
    try {
      res = await rangeAll(this.target, this.watchEndpoint, Buffer.from(keys.all), prefixEnd(keys.all), this.timeoutMs);
    } catch (err) {
      this.watchEndpoint++;
      throw storeError(err);
    }
    const snap: ClusterView = {
      revision: 0,
      networks: new Map(),
      endpoints: new EndpointTable(),
      hosts: new Map(),
      reconciled: new Map(),
      alive: new Map(),
      down: new Map(),
    };
    const into = newViewChange();
    snap.revision = decodeRangeResponse(res, (key, value) => {
      try {
        applyKv(snap, key, value, into);
      } catch (err) {
        throw new Error(`cannot read ${key} (not a record vxnet wrote?): ${(err as Error).message}`, { cause: err });
      }
    }).revision;
    return snap;
  }
}

async function jitter(attempt: number): Promise<void> {
  const ms = Math.min(50, 2 + attempt * 3) * Math.random();
  await new Promise((r) => setTimeout(r, ms));
}
