import type { HostRecord } from '../../control/model';
import type { Store } from '../../control/store/store';
import type { HostLease } from '../../control/store/lease';
import type { Logger } from '../../lib/log';

// Keeps the host registered: its record, and alive/<name> under a lease. A lost lease (the agent was
// paused past the TTL, or etcd was away that long) is followed by a fresh lease and a fresh lease
// key, retried until etcd answers; the record is written again only if it changed.
export class Registration {
  private lease: HostLease | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  registered = false;
  private registrations = 0;
  private since = '';
  renewals = 0;
  losses = 0;

  constructor(
    private readonly store: Store,
    private readonly rec: HostRecord,
    private readonly ttlSeconds: number,
    private readonly log: Logger,
    private readonly onRegistered: (again: boolean) => void,
  ) {}

  currentLease(): HostLease | undefined {
    return this.registered ? this.lease : undefined;
  }

  async start(): Promise<void> {
    await this.register();
  }

  private async register(): Promise<void> {
    if (this.stopped) return;
    const lease = this.store.grantLease(this.ttlSeconds);
    this.lease = lease;
    lease.onLost((err: Error) => {
      if (lease !== this.lease || this.stopped || !this.registered) return;
      this.registered = false;
      this.losses++;
      this.log.warn('host lease lost, registering again', { error: err.message });
      this.retry(500);
    });
    lease.onRenewed(() => {
      this.renewals++;
    });
    try {
      this.since = new Date().toISOString();
      await lease.register(this.rec, this.since);
      this.registered = true;
      this.log.info('host registered', { host: this.rec.name, vtep: this.rec.vtep, ttl: this.ttlSeconds });
      this.onRegistered(this.registrations++ > 0);
    } catch (err) {
      this.log.warn('cannot register host, will retry', { error: (err as Error).message });
      void lease.revoke().catch(() => undefined);
      this.lease = undefined;
      this.retry(1000);
    }
  }

  // The record is gone while this agent holds its lease (a `host rm --force` from a peer that
  // took this host for gone behind a partition): written again, under the same lease.
  async restore(): Promise<void> {
    const lease = this.lease;
    if (!this.registered || !lease || this.stopped) return;
    await lease.register(this.rec, this.since);
    this.log.warn('host record was removed while this agent was up: registered again', { host: this.rec.name });
  }

  private retry(ms: number): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.register();
    }, ms);
  }

  // Graceful stop keeps the lease key until its lease runs out: a restart within the TTL shows no
  // gap in `host ls`. Peers keep the host's entries in any case, until it is removed.
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const lease = this.lease;
    if (lease) lease.release();
  }
}
