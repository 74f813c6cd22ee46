import type { HostLease } from '../control/store/lease';
import type { ReconcileRun, RunObserver } from './observers/run';

// Publishes the etcd revision up to which this host's kernel is programmed (reconciled/<host>, under
// the host's lease), so that a Connect can wait until every peer serving the network has its entry.
// Coalesced: at most one write in flight, and only the newest revision is written after it, which
// keeps the write load O(hosts) per burst of changes, not O(changes).
export class Progress implements RunObserver {
  private published = 0;
  private wanted = 0;
  private writing = false;

  constructor(
    private readonly host: string,
    private readonly lease: () => HostLease | undefined,
  ) {}

  // Only a clean run has programmed everything up to its revision.
  afterRun(run: Pick<ReconcileRun, 'clean' | 'revision'>): void {
    if (run.clean) this.report(run.revision);
  }

  private report(revision: number): void {
    if (revision <= this.wanted) return;
    this.wanted = revision;
    if (!this.writing) void this.flush();
  }

  private async flush(): Promise<void> {
    this.writing = true;
    try {
      while (this.wanted > this.published) {
        const lease = this.lease();
        if (!lease) return; // not registered: the next report after registering writes it
        const r = this.wanted;
        try {
          await lease.putReconciled(this.host, r);
          this.published = r;
        } catch {
          return; // etcd away: the next reconcile reports again
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
