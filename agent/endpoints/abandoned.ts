import type { EndpointRecord } from '../../control/model';
import { settledFor } from './deps';
import type { EndpointDeps } from './deps';

// Connects given up on while their record's transaction was in flight (etcd fell silent): etcd may
// still commit it, and a record that appears later would have its veth re-created by the repair,
// giving a container an interface its caller was told it did not get. Until etcd has answered that
// the record is gone and the transaction can no longer land (`lateMs`, past the store's retries),
// the endpoint is this tracker's: the repair leaves it alone, and it is deleted whenever it is there.
export class Abandoned {
  private readonly eps = new Map<string, { ep: EndpointRecord; at: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly d: Pick<EndpointDeps, 'store' | 'state' | 'log' | 'settled'>,
    private readonly lateMs: number,
    private readonly everyMs = 1000,
  ) {}

  add(ep: EndpointRecord): void {
    this.eps.set(ep.id, { ep, at: Date.now() });
    this.arm();
  }

  has(id: string): boolean {
    return this.eps.has(id);
  }

  get size(): number {
    return this.eps.size;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sweep();
    }, this.everyMs);
    this.timer.unref();
  }

  async sweep(now = Date.now()): Promise<void> {
    const { state, store, log } = this.d;
    for (const [id, a] of [...this.eps]) {
      try {
        const r = await state.ownWrite(id, true, () => store.deleteEndpointIfPresent(a.ep));
        if (r.deleted) {
          state.applyLocalEndpoint(a.ep, true, r.revision);
          log.warn('released the record of a Connect that was given up on', { endpoint: a.ep.name, id });
          settledFor(this.d, a.ep, true);
          this.eps.delete(id);
        } else if (now - a.at >= this.lateMs) this.eps.delete(id);
      } catch {
        /* etcd still away: next time */
      }
    }
    if (this.eps.size) this.arm();
  }
}
