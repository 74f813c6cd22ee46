import type { ClusterView, Store } from '../../control/store/store';
import type { Logger } from '../../lib/log';

export interface LivenessDeps {
  store: Pick<Store, 'markDown' | 'removeHost'>;
  self: string;
  view: () => ClusterView | undefined;
  registered: () => boolean;
  restore: () => Promise<void>; // this host's own record is missing: write it again
  log: Logger;
  deadHostTimeoutMs: number; // 0: never remove a host by itself
  checkMs?: number;
  random?: () => number;
}

// Watches the view for hosts whose agent lost its lease. The first agent to notice marks the host
// down with the time (one write per loss: each waits a random moment and looks again, so a
// thousand peers do not all write), which `host ls` reports and dead_host_timeout counts from.
// With a timeout set, the first up host by name removes hosts down for longer; only one agent
// does, and a removal it races is harmless (each endpoint is released all or nothing).
export class Liveness {
  private timer: NodeJS.Timeout | undefined;
  private readonly pending = new Set<string>();
  private removing = false;
  private ownMissing = 0; // checks in a row that found this host's own record missing

  constructor(private readonly d: LivenessDeps) {}

  start(): void {
    this.timer = setInterval(() => this.check(), this.d.checkMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  check(now = Date.now()): void {
    const snap = this.d.view();
    if (!snap || !this.d.registered()) return;
    // Twice in a row (then every 5 s): the first may only be the watch bringing our registration late.
    this.ownMissing = snap.hosts.has(this.d.self) ? 0 : this.ownMissing + 1;
    if (this.ownMissing >= 2 && this.ownMissing % 5 === 2)
      this.d.restore().catch((err: Error) => this.d.log.warn('cannot restore the host record', { error: err.message }));
    for (const name of snap.hosts.keys())
      if (!snap.alive.has(name) && !snap.down.has(name) && !this.pending.has(name)) this.markLater(name);
    if (this.d.deadHostTimeoutMs <= 0 || this.removing || this.janitor(snap) !== this.d.self) return;
    for (const [name, since] of snap.down)
      if (!snap.alive.has(name) && now - Date.parse(since) >= this.d.deadHostTimeoutMs) {
        void this.remove(name, since); // one at a time: the next check takes the next
        return;
      }
  }

  private markLater(name: string): void {
    this.pending.add(name);
    const delay = Math.floor((this.d.random ?? Math.random)() * 2000);
    setTimeout(() => {
      const snap = this.d.view();
      const still = snap?.hosts.has(name) && !snap.alive.has(name) && !snap.down.has(name);
      const mark = still ? this.d.store.markDown(name, new Date().toISOString()) : Promise.resolve(false);
      mark
        .then((marked) => {
          if (marked) this.d.log.warn('host holds no lease: marked unreachable', { host: name });
        })
        .catch((err: Error) => this.d.log.debug('cannot mark a host down', { host: name, error: err.message }))
        .finally(() => this.pending.delete(name));
    }, delay).unref();
  }

  // The up host that removes dead ones: the first by name, so that all agents agree without talking.
  private janitor(snap: ClusterView): string | undefined {
    return [...snap.alive.keys()].sort()[0];
  }

  private async remove(name: string, since: string): Promise<void> {
    this.removing = true;
    try {
      const released = await this.d.store.removeHost(name);
      this.d.log.warn('removed a host unreachable past dead_host_timeout', {
        host: name,
        since,
        endpointsReleased: released,
      });
    } catch (err) {
      this.d.log.warn('cannot remove a dead host, will retry', { host: name, error: (err as Error).message });
    } finally {
      this.removing = false;
    }
  }
}
