import type { HostRecord } from '../control/model';
import type { Store } from '../control/store/store';
import type { HostLease } from '../control/store/lease';
import type { Logger } from '../lib/log';

// Keeps hosts/<name> alive under a lease. A lost lease (the agent was paused past the TTL, or etcd
// was away that long) is followed by a fresh lease and a fresh host key, retried until etcd answers.
export class Registration {
  private lease: HostLease | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  registered = false;
  private registrations = 0;
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
      await lease.putHost(this.rec);
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

  private retry(ms: number): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.register();
    }, ms);
  }

  // Graceful stop keeps the host key until its lease runs out: peers keep their entries through a
  // restart (the data plane stays), and a host that does not come back is purged after the TTL.
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const lease = this.lease;
    if (lease) lease.release();
  }
}
