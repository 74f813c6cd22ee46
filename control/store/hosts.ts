import type * as RPC from 'etcd3/lib/rpc';
import { plainAddressesOf } from '../model';
import type { EndpointRecord, HostRecord } from '../model';
import { keys } from './keys';
import { absent, decode, del, delPrefix, present, put } from './txn';

// A host as etcd holds it: any of its record, its lease key (up), a "down" mark, its endpoints.
export interface HostState {
  name: string;
  record?: HostRecord;
  alive?: { since: string; ttlLeft: number };
  downSince?: string;
  endpoints: number;
}

// What the host records need of the store: its bounded reads and transactions.
export interface HostRecordsDeps {
  range(prefix: string): Promise<RPC.IRangeResponse>;
  txn(compare: RPC.ICompare[], success: RPC.IRequestOp[]): Promise<RPC.ITxnResponse>;
  listEndpoints(): Promise<EndpointRecord[]>;
  leaseTtl(id: string): Promise<number>; // seconds a lease has left
}

// The hosts as etcd holds them: their record, lease key ("up") and "down" mark, and the removal of
// one that is gone for good.
export class HostRecords {
  constructor(private readonly d: HostRecordsDeps) {}

  // Every host etcd knows of (a record, a lease key or a "down" mark), with its lease's seconds
  // left (-1 when etcd cannot say) and its endpoint count.
  async states(): Promise<HostState[]> {
    const [hosts, alive, down, eps] = await Promise.all([
      this.d.range(keys.hosts),
      this.d.range(keys.aliveAll),
      this.d.range(keys.downAll),
      this.d.range(keys.endpointsAll),
    ]);
    const by = new Map<string, HostState>();
    const of = (name: string): HostState => {
      let h = by.get(name);
      if (!h) by.set(name, (h = { name, endpoints: 0 }));
      return h;
    };
    const nameOf = (kv: RPC.IKeyValue, prefix: string): string => kv.key.toString().slice(prefix.length);
    for (const kv of hosts.kvs) of(nameOf(kv, keys.hosts)).record = decode<HostRecord>(kv);
    for (const kv of down.kvs) of(nameOf(kv, keys.downAll)).downSince = decode<{ since: string }>(kv).since;
    for (const kv of eps.kvs) of(decode<EndpointRecord>(kv).host).endpoints++;
    await Promise.all(
      alive.kvs.map(async (kv) => {
        let ttlLeft = -1;
        try {
          ttlLeft = await this.d.leaseTtl(kv.lease);
        } catch {
          /* unknown */
        }
        of(nameOf(kv, keys.aliveAll)).alive = { since: decode<{ since: string }>(kv).since, ttlLeft };
      }),
    );
    return [...by.values()];
  }

  // Marks a registered host that holds no lease as down since `since`, once: the first peer to see
  // it sets the time every agent reports. False when it holds a lease again or is marked already.
  async markDown(name: string, since: string): Promise<boolean> {
    const ok = [present(keys.host(name)), absent(keys.alive(name)), absent(keys.down(name))];
    return (await this.d.txn(ok, [put(keys.down(name), { since })])).succeeded;
  }

  // Forgets a host: its record and marks first, in one transaction, so that every peer drops all of
  // its entries in one reconcile (desired state skips endpoints of unknown hosts); then its
  // endpoints with their addresses and names, a batch per network, each endpoint all or nothing. A
  // removal cut short leaves endpoints of an unknown host, which `host ls` lists and a second
  // removal releases. Returns the endpoints released.
  async remove(name: string): Promise<number> {
    await this.d.txn(
      [],
      [
        del(keys.host(name)),
        del(keys.alive(name)),
        del(keys.down(name)),
        del(keys.reconciled(name)),
        delPrefix(keys.reservationsOf(name)),
      ],
    );
    const eps = (await this.d.listEndpoints()).filter((e) => e.host === name);
    let released = 0;
    for (let i = 0; i < eps.length; i += REMOVE_BATCH) {
      const batch = eps.slice(i, i + REMOVE_BATCH);
      const res = await this.d.txn(
        batch.map((ep) => present(keys.endpoint(ep.networkId, ep.id))),
        batch.flatMap((ep) => releaseOps(ep)),
      );
      if (res.succeeded) {
        released += batch.length;
        continue;
      }
      // One of them went meanwhile (a Disconnect -f): the rest one by one.
      for (const ep of batch)
        if ((await this.d.txn([present(keys.endpoint(ep.networkId, ep.id))], releaseOps(ep))).succeeded) released++;
    }
    return released;
  }
}

// Endpoints per transaction of a host's removal: each is 3-4 requests and a compare, under etcd's
// default limit of 128 operations per transaction.
const REMOVE_BATCH = 25;

// An endpoint's key with the claims made with it (its addresses and its name).
export function releaseOps(ep: EndpointRecord): RPC.IRequestOp[] {
  return [
    del(keys.endpoint(ep.networkId, ep.id)),
    ...plainAddressesOf(ep).map((a) => del(keys.ipam(ep.networkId, a))),
    del(keys.epName(ep.networkId, ep.name)),
  ];
}
