import type { ClusterView } from '../../control/store/store';
import type { Logger } from '../../lib/log';
import { FAMILY, TABLE, needsForwarding, tableInput, tableScript } from '../nft-table';
import type { TableInput } from '../nft-table';
import type { NftTable } from '../dataplane/nft';
import { enableForwarding, forwarding } from '../dataplane/sysctl';
import type { ReconcileRun, RunObserver } from './run';

// Keeps vxnet's nftables table (../nft-table.ts) as the served networks want it: rewritten when
// what it should hold changes, and compared with the kernel at every full run and at once when
// nft's monitor reports a change to it. The comparison is with the listing read right after our
// last write, so our own write's event finds nothing to do.
export class TableFollower implements RunObserver {
  private input: TableInput | undefined;
  private written: { script: string; listing: string } | undefined;
  private queue: Promise<void> = Promise.resolve();
  private checking = false;
  private again = false;
  private warned = new Set<string>();
  repairs = 0;

  constructor(
    private readonly table: NftTable,
    private readonly view: () => ClusterView | undefined,
    private readonly log: Logger,
    private readonly ipForward: 'auto' | 'manual',
    // Told of every ruleset change in another table (iptables-nft's "ip filter": Docker's FORWARD).
    private readonly foreignChange: (table: string) => void = () => undefined,
  ) {}

  start(): void {
    this.table.watch((t) => (t === `${FAMILY} ${TABLE}` ? this.changed() : this.foreignChange(t)));
  }

  stop(): void {
    this.table.stop();
  }

  afterRun(run: Pick<ReconcileRun, 'vnis' | 'full'>): void {
    const view = this.view();
    if (!view) return;
    this.input = tableInput(view.networks.values(), run.vnis);
    void this.sync(run.full);
  }

  // A burst of monitor lines (one per set, chain and rule) makes one check, and a change that
  // arrives during a check makes one more: dropped, a change made just after our own write would
  // wait for the resync. Our own write's lines cost one read that finds nothing to do.
  private changed(): void {
    if (this.checking) {
      this.again = true;
      return;
    }
    this.checking = true;
    void (async () => {
      do {
        this.again = false;
        await this.sync(true);
      } while (this.again);
      this.checking = false;
    })();
  }

  // One at a time: two syncs working from the same reading would both write.
  sync(recheck: boolean): Promise<void> {
    this.queue = this.queue
      .then(() => this.syncNow(recheck))
      .catch((err: Error) => this.log.warn('nftables table sync failed', { error: err.message }));
    return this.queue;
  }

  private async syncNow(recheck: boolean): Promise<void> {
    const input = this.input;
    if (!input) return;
    this.forward(input);
    const script = tableScript(input);
    if (this.written?.script === script && !recheck) return;
    if (this.written?.script === script) {
      const have = await this.table.read();
      if (have === this.written.listing) return;
      this.repairs++;
      this.log.warn(
        `nftables table ${FAMILY} ${TABLE} was ${have === undefined ? 'removed' : 'changed'}: rewriting it`,
      );
    }
    this.written = undefined;
    await this.table.write(script);
    this.written = { script, listing: (await this.table.read()) ?? '' };
  }

  // Forwarding on where a served network has a way out (as Docker does), once per family and
  // logged; `manual` leaves it to the operator and says so once.
  private forward(input: TableInput): void {
    const need = needsForwarding(input);
    for (const f of ['v4', 'v6'] as const) {
      if (!need[f] || forwarding(f) !== '0') continue;
      const what = f === 'v4' ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding';
      if (this.ipForward === 'manual') {
        if (!this.warned.has(f))
          this.log.warn(`${what} is 0 and ip_forward is manual: containers of this host cannot reach the outside`);
        this.warned.add(f);
        continue;
      }
      try {
        enableForwarding(f);
        this.log.info(`enabled ${what}: a network served here has egress`);
      } catch (err) {
        this.log.warn(`cannot enable ${what}`, { error: (err as Error).message });
      }
    }
  }

  // For `vxnet doctor`: whether the kernel's table is the one last written, and what it holds.
  async check(): Promise<{ ok: boolean; detail: string }> {
    const have = await this.table.read().catch((err: Error) => `error: ${err.message}`);
    if (!this.written) return { ok: false, detail: 'not written yet' };
    if (have === undefined) return { ok: false, detail: `table ${FAMILY} ${TABLE} is missing; the agent rewrites it` };
    if (have !== this.written.listing)
      return { ok: false, detail: `table ${FAMILY} ${TABLE} was changed by another hand; the agent rewrites it` };
    const n = this.input?.networks ?? [];
    const out = n.filter((x) => x.egress === 'masquerade').length;
    return {
      ok: true,
      detail: `table ${FAMILY} ${TABLE} in place: ${out} network(s) masqueraded, ${n.length - out} without egress`,
    };
  }
}
