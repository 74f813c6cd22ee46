import type { Op } from './diff';
import { EntryCache } from './entry-cache';
import type { ActualState, Kernel } from './dataplane/types';

const PREFETCH_MAX_AGE_MS = 5000; // a start's first run comes ~0.5 s after the read when etcd answers

// Where a run's FDB and neighbor entries came from: a dump now, the read made at start, or the
// cache of what was last dumped and written since.
export type EntrySource = 'dump' | 'prefetch' | 'cache';

// What a read made before an endpoint operation began may lack: the reader needs to know.
export interface OpsCounter {
  busy(): ReadonlySet<string>;
  busyNetworks(): ReadonlySet<number>;
  opsBegun(): number;
}

// The reconciler's view of the kernel. Watch-triggered runs take the FDB and neighbor entries from
// what was last read and written since (dumping 20,000 entries costs more than programming them);
// full runs (start, reload, every resync period) read them from the kernel, so drift is still
// repaired within one period. A vxlan device that is new or was replaced is read in any run.
export class ActualReader {
  private readonly entries = new EntryCache();
  private early: { actual: Promise<ActualState>; at: number; opsBegun: number; quiet: boolean } | undefined;

  constructor(
    private readonly kernel: Kernel,
    private readonly ops: OpsCounter,
  ) {}

  // Reads the kernel while the agent waits for etcd at its start (the read costs as much as
  // everything else of the first run at 10,000 remote endpoints): the first run takes it unless an
  // endpoint operation began since, which could have changed the kernel after the read, or unless
  // etcd kept the first run waiting (containers come and go meanwhile).
  prefetch(): void {
    const actual = this.kernel.readActual(true);
    actual.catch(() => undefined); // the run reads again
    this.early = {
      actual,
      at: Date.now(),
      opsBegun: this.ops.opsBegun(),
      quiet: this.ops.busy().size === 0 && this.ops.busyNetworks().size === 0,
    };
  }

  async read(full: boolean): Promise<{ actual: ActualState; fromKernel: boolean; source: EntrySource }> {
    const early = this.early;
    this.early = undefined;
    if (early?.quiet && early.opsBegun === this.ops.opsBegun() && Date.now() - early.at < PREFETCH_MAX_AGE_MS) {
      const actual = await early.actual.catch(() => undefined);
      if (actual && early.opsBegun === this.ops.opsBegun()) {
        this.entries.remember(actual);
        return { actual, fromKernel: true, source: 'prefetch' };
      }
    }
    if (!full) {
      const actual = await this.kernel.readActual(false);
      if (this.entries.fill(actual)) return { actual, fromKernel: false, source: 'cache' };
    }
    const actual = await this.kernel.readActual(true);
    this.entries.remember(actual);
    return { actual, fromKernel: true, source: 'dump' };
  }

  // A write that succeeded: the cache holds it. One that failed: that device's entries are unknown.
  applied(op: Op): void {
    this.entries.applied(op);
  }

  forget(vni: number | undefined): void {
    this.entries.forget(vni);
  }
}
