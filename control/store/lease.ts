import type { Lease } from 'etcd3';
import type { HostRecord } from '../model';
import { keys } from './keys';

// A host's lease as the agent holds it: the keys that must vanish with the host (its record, its
// progress) are written under it, and its loss is the agent's cue to register again. etcd3's Lease
// stays behind this interface, so the agent never sees the client.
export interface HostLease {
  putHost(rec: HostRecord): Promise<void>;
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

export class EtcdHostLease implements HostLease {
  constructor(
    private readonly lease: Lease,
    private readonly call: Call,
    contact: (ok: boolean) => void = () => undefined,
  ) {
    lease.on('keepaliveSucceeded', () => contact(true));
    lease.on('keepaliveFailed', () => contact(false));
  }

  async putHost(rec: HostRecord): Promise<void> {
    await this.call(() => this.lease.put(keys.host(rec.name)).value(JSON.stringify(rec)).exec());
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
