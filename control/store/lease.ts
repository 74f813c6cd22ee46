import type { Lease } from 'etcd3';
import type * as RPC from 'etcd3/lib/rpc';
import type { HostRecord } from '../model';
import { keys } from './keys';
import { del, put, valueIs } from './txn';

// A host's lease as the agent holds it: the keys that say the agent is there (alive/<host>, its
// progress) are written under it, and its loss is the agent's cue to register again. The host's
// record is not: peers keep its VTEP, and so its containers' entries, while the agent is away.
// etcd3's Lease stays behind this interface, so the agent never sees the client.
export interface HostLease {
  // The record (written only when it differs from what etcd holds: a host back from a partition
  // changes nothing on its peers), the lease key, and no "down" mark, in one transaction.
  register(rec: HostRecord, since: string): Promise<void>;
  putReconciled(host: string, revision: number): Promise<void>;
  // etcd said the lease is gone (expired while the agent was paused or etcd was away), once.
  onLost(fn: (err: Error) => void): void;
  onRenewed(fn: () => void): void;
  // Both stop the notifications first: a lease given up is not "lost".
  revoke(): Promise<void>; // the keys go now
  release(): void; // keepalives stop; the keys stay until the TTL runs out
}

// Every request goes through the store's bounded, retrying call (see Store.call).
export type Call = <T>(fn: () => Promise<T>) => Promise<T>;
export type Txn = (compare: RPC.ICompare[], success: RPC.IRequestOp[], failure: RPC.IRequestOp[]) => Promise<unknown>;

export class EtcdHostLease implements HostLease {
  constructor(
    private readonly lease: Lease,
    private readonly call: Call,
    private readonly txn: Txn,
  ) {}

  async register(rec: HostRecord, since: string): Promise<void> {
    const id = await this.call(() => this.lease.grant());
    const marks = [put(keys.alive(rec.name), { since }, id), del(keys.down(rec.name))];
    await this.txn([valueIs(keys.host(rec.name), rec)], marks, [put(keys.host(rec.name), rec), ...marks]);
  }

  async putReconciled(host: string, revision: number): Promise<void> {
    await this.call(() => this.lease.put(keys.reconciled(host)).value(JSON.stringify({ revision })).exec());
  }

  onLost(fn: (err: Error) => void): void {
    this.lease.on('lost', fn);
  }

  onRenewed(fn: () => void): void {
    this.lease.on('keepaliveSucceeded', () => fn());
  }

  revoke(): Promise<void> {
    this.detach();
    return this.lease.revoke();
  }

  release(): void {
    this.detach();
    this.lease.release();
  }

  // A 'lost' with no listener left would be emitted to nobody; one that does nothing keeps it quiet.
  private detach(): void {
    this.lease.removeAllListeners();
    this.lease.on('lost', () => undefined);
  }
}
