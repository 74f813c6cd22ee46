import type { EndpointRecord } from '../control/model';
import type { DesiredState, Self } from './desired';
import type { Op } from './diff';
import { plan } from './planner';
import { describe, opVni } from './ops';
import { ActualReader } from './actual-reader';
import type { EntrySource, OpsCounter } from './actual-reader';
import type { Strategy } from './planner';
import type { Logger } from '../lib/log';
import { hostVethName } from './names';
import type { ClusterState } from './view';
import type { Kernel, NeighEntry } from './dataplane/types';

// The endpoint requests in flight: what they own is left to them (busy endpoints and networks),
// and a kernel read made before the last of them began may lack what it did.
export type InFlight = OpsCounter;

// Local endpoints whose veth is missing: re-created if the sandbox is still the one connected, else
// released; and, on full resyncs only (a socket per sandbox), what was changed inside the sandbox.
export interface Repairer {
  repair(ep: EndpointRecord): Promise<void>;
  verifySandbox(ep: EndpointRecord): Promise<string[]>;
}

export interface RunReport {
  clean: boolean;
  full: boolean;
  strategy: Strategy | 'none';
  durationMs: number;
  revision: number;
  vnis: number[];
  // A periodic resync that changes anything (kernel operations, sandbox repairs) found drift.
  resync: boolean;
  applied: number;
}

export interface ReconcileStats {
  runs: number;
  failures: number;
  lastOps: number;
  lastDurationMs: number;
  lastClean: boolean;
  lastRevision: number;
  kernelOps: Record<string, number>;
}

// New remote addresses announced to local containers per run and network, at most: a bulk change
// (a host with thousands of endpoints joining) is left to the containers' own ARP requests.
const ANNOUNCE_MAX = 64;

// An endpoint operation of this host (Connect, Disconnect, a repair, Docker's Join or a Join that
// never came), told to the reconciler when it ends, whatever it did.
export interface Settled {
  endpointId: string;
  networkId: string;
  vni: number;
  host: string; // the endpoint's host: another host's endpoint removed from here changes our entries
  ok: boolean; // false: it failed and rolled back, and may have left devices behind
}

// Level-triggered: every run computes desired state from the view and compares it with the kernel.
//
// The invariant: every change to the view or to this host's endpoints that affects what the kernel
// should hold is followed by a run that begins after the change. The three ways in keep it:
// - the view's 'change' events trigger a run; a trigger while a run is under way makes the loop
//   run once more (`again`), set and read in the same synchronous step as `busy`;
// - every endpoint operation calls `settled` when it ends, unconditionally; the reconciler, not the
//   caller, decides whether a run is needed, against what its last clean run applied (never
//   against a count that a concurrent operation may change in between), and while a run is under
//   way it always asks for one more;
// - what a run leaves alone because a request owns it (busy endpoints and networks) is remembered,
//   and the end of that request triggers a run; a run with errors is retried with backoff.
// The periodic full resync repairs drift made by others (by hand, another tool); it is not how any
// change of ours reaches the kernel, and the tests run with it out of reach to prove so.
//
// Full runs (start, reload, SIGHUP, every resync period) dump the kernel and compute desired state
// from the whole view. Watch-triggered runs take the entries from the reconciler's cache of its own
// writes and may reuse or patch the last clean run's desired state: agent/planner.ts names each
// strategy, and a unit test holds every one to the kernel state a full run reaches.
export class Reconciler {
  private running: Promise<void> | undefined;
  private busy = false; // cleared in the same synchronous step that ends the loop: no trigger is lost
  private again = false;
  private fullPending = false;
  private resyncPending = false;
  private sandboxesPending = false;
  private readonly reader: ActualReader;
  // A read of the whole kernel begun before the first run (prefetch), and whether it can stand for
  // one made at the run's start.
  // The view's version and desired state of the last run that applied everything it wanted.
  private last: { version: number; desired: DesiredState } | undefined;
  // What the last run left alone because a request owned it: when that request ends, a run follows.
  private skipped: ReadonlySet<string> = new Set();
  private skippedNets: ReadonlySet<number> = new Set();
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failedRuns = 0; // in a row: the retry's backoff
  private stopped = false;
  readonly stats: ReconcileStats = {
    runs: 0,
    failures: 0,
    lastOps: 0,
    lastDurationMs: 0,
    lastClean: false,
    lastRevision: 0,
    kernelOps: {},
  };

  constructor(
    private readonly state: ClusterState,
    private readonly kernel: Kernel,
    private readonly self: Self,
    private readonly repairer: InFlight & Repairer,
    private readonly log: Logger,
    private readonly resyncMs: number,
    private readonly observe: (run: RunReport) => void = () => undefined,
  ) {
    this.reader = new ActualReader(kernel, repairer);
  }

  // Reads the kernel while the agent waits for etcd (see ActualReader).
  prefetch(): void {
    this.reader.prefetch();
  }

  start(): void {
    this.state.setServed((id) => this.mayServe(id));
    this.state.on('change', (why: string) => this.trigger(why === 'reload'));
    this.schedule();
    // The data plane first (readiness waits for it; with nothing known yet it reads every entry
    // from the kernel), then a look inside every local sandbox: they may have changed while no agent
    // was here (a setns and a dump each, so not before ready). That second run takes the entries
    // from the first rather than dumping them all again.
    this.trigger();
    this.sandboxesPending = true;
    this.trigger();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.resyncPending = true;
      this.trigger(true);
      this.schedule();
    }, this.resyncMs);
    this.timer.unref();
  }

  // The end of an endpoint operation. A run is skipped only where it provably has nothing to do:
  // the last clean run applied a desired state that already had this host serving the network
  // exactly as the view now says, and did not leave this endpoint or network to the request.
  settled(op: Settled): void {
    if (this.stopped) return;
    if (this.busy || this.needsRun(op)) this.trigger();
  }

  // Whether the kernel may hold this network's devices and entries: what the last clean run applied,
  // or anything while a run is under way or after one failed (unknown, so yes).
  private mayServe(networkId: string): boolean {
    const last = this.last;
    if (this.busy || !last) return true;
    for (const n of last.desired.networks.values()) if (n.networkId === networkId) return true;
    return false;
  }

  private needsRun(op: Settled): boolean {
    const last = this.last;
    if (!last || !op.ok || op.host !== this.self.name) return true;
    if (this.skipped.has(op.endpointId) || this.skippedNets.has(op.vni)) return true;
    const served = last.desired.networks.get(op.vni)?.networkId === op.networkId;
    const serves = (this.state.snap?.endpoints.hostsOf(op.networkId).get(this.self.name) ?? 0) > 0;
    return served !== serves;
  }

  // `full` also checks the inside of every local sandbox (periodic resync, SIGHUP, reloads).
  trigger(full = false): void {
    if (this.stopped) return;
    if (full) this.fullPending = true;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.running = this.loop();
  }

  // A `.finally()` on this promise would clear the flag a microtask late, and a trigger arriving in
  // between (a Connect finishing, say) would be lost: the flag is cleared right after the last check.
  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        const full = this.fullPending;
        const sandboxes = full || this.sandboxesPending;
        const resync = this.resyncPending;
        this.fullPending = false;
        this.sandboxesPending = false;
        this.resyncPending = false;
        await this.runOnce(full, sandboxes, resync);
      } while (this.again && !this.stopped);
    } finally {
      this.busy = false;
    }
  }

  // `sandboxes` (implied by `full`): also check the inside of every local sandbox.
  async runOnce(full = false, sandboxes = full, resync = false): Promise<void> {
    const snap = this.state.snap;
    if (!snap) return; // never act before the first consistent load: an empty view would flush everything
    const started = process.hrtime.bigint();
    const revision = snap.revision;
    let clean = true;
    let applied = 0;
    let ops: Op[] = [];
    let vnis: number[] = [];
    let lastDesired: { version: number; desired: DesiredState } | undefined;
    let strategy: Strategy | undefined;
    let entries: EntrySource | undefined;
    let skipped = new Set<string>();
    let skippedNets = new Set<number>();
    try {
      // Endpoints whose Connect or Disconnect overlaps this run belong to their request: the busy set
      // is taken before and after reading the kernel, and desired after it, so that a veth created
      // meanwhile is neither removed as stale nor created a second time.
      const busy = new Set(this.repairer.busy());
      const busyNets = new Set(this.repairer.busyNetworks());
      const { actual, fromKernel, source } = await this.reader.read(full);
      for (const id of this.repairer.busy()) busy.add(id);
      for (const v of this.repairer.busyNetworks()) busyNets.add(v);
      skipped = busy;
      skippedNets = busyNets;
      // The choice of strategy (agent/planner.ts): with the entries this reconciler's own (not read
      // again) and the view changed since the last clean run only by other hosts' endpoints, that
      // run's desired state is patched and only their entries are compared, not the 20,000 at
      // 10,000 remote endpoints.
      const version = this.state.version;
      const view = this.state.snap ?? snap; // a reload during the read replaced it
      const changes = this.state.journalSince(this.last?.version);
      const last = this.last;
      this.last = undefined;
      const p = plan({
        view,
        self: this.self,
        actual,
        fromKernel,
        last: last?.desired,
        changes,
        busy,
        busyNetworks: busyNets,
      });
      strategy = p.strategy;
      entries = source;
      lastDesired = { version, desired: p.desired };
      vnis = [...new Set([...p.desired.networks.keys(), ...busyNets])];
      ops = p.ops;
      const desired = p.desired;
      for (const op of ops) {
        // A request that began after the diff owns what this op would change: it is left to the
        // request, whose end (settled) asks for another run.
        if (this.ownedNow(op, skipped, skippedNets)) continue;
        try {
          await this.apply(op);
          this.count(op.kind, 'ok');
          applied++;
          this.reader.applied(op);
          if (op.kind === 'neighAdd' && op.entries.length <= ANNOUNCE_MAX) this.announce(op.vni, op.entries);
        } catch (err) {
          this.reader.forget(opVni(op));
          clean = false;
          this.count(op.kind, 'error');
          this.log.error('kernel operation failed', { op: describe(op), error: (err as Error).message });
        }
      }
      if (sandboxes) {
        for (const n of desired.networks.values()) {
          for (const ep of n.local) {
            if (busy.has(ep.id) || ops.some((o) => o.kind === 'repairEndpoint' && o.endpoint.id === ep.id)) continue;
            try {
              const fixed = await this.repairer.verifySandbox(ep);
              applied += fixed.length;
              if (fixed.length) this.log.info('repaired sandbox', { endpoint: ep.name, sandbox: ep.sandbox, fixed });
            } catch (err) {
              clean = false;
              this.log.error('sandbox check failed', {
                endpoint: ep.name,
                sandbox: ep.sandbox,
                error: (err as Error).message,
              });
            }
          }
        }
      }
    } catch (err) {
      clean = false;
      this.log.error('reconcile failed', { error: (err as Error).message });
    }
    if (clean && lastDesired) this.last = lastDesired;
    this.skipped = skipped;
    this.skippedNets = skippedNets;
    this.retryIfFailed(clean);
    this.stats.runs++;
    if (!clean) this.stats.failures++;
    this.stats.lastOps = ops.length;
    this.stats.lastClean = clean;
    this.stats.lastRevision = revision;
    this.stats.lastDurationMs = Number(process.hrtime.bigint() - started) / 1e6;
    const durationMs = this.stats.lastDurationMs;
    this.observe({ clean, full, strategy: strategy ?? 'none', durationMs, revision, vnis, resync, applied });
    if (ops.length)
      this.log.info('reconciled', {
        revision,
        strategy,
        entries,
        ops: ops.map(describe),
        ms: Math.round(this.stats.lastDurationMs * 10) / 10,
      });
  }

  // Checked right before the op is applied, in the same synchronous step as the call that queues
  // it in the kernel adapter (removeDevices is serialized there with Connect's ensure).
  private ownedNow(op: Op, skipped: Set<string>, skippedNets: Set<number>): boolean {
    if (op.kind === 'removeDevices' && this.repairer.busyNetworks().has(op.vni)) {
      skippedNets.add(op.vni);
      return true;
    }
    if (op.kind === 'removeVeth' || op.kind === 'attachPort') {
      for (const id of this.repairer.busy()) {
        if (hostVethName(id) !== op.veth) continue;
        skipped.add(id);
        return true;
      }
    }
    return false;
  }

  // A run that could not apply everything is tried again, 1 s, 2 s, 4 s ... up to the resync period,
  // rather than waiting for the next trigger: nothing else may come.
  private retryIfFailed(clean: boolean): void {
    if (clean) {
      this.failedRuns = 0;
      return;
    }
    if (this.stopped || this.retryTimer) return;
    const ms = Math.min(1000 * 2 ** Math.min(this.failedRuns++, 10), this.resyncMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.trigger();
    }, ms);
    this.retryTimer.unref();
  }

  // Not awaited: nothing waits for the announcement, and a failure costs only the second it saves.
  private announce(vni: number, entries: NeighEntry[]): void {
    this.kernel
      .announce(vni, entries)
      .catch((err: Error) => this.log.debug('cannot announce remote addresses', { vni, error: err.message }));
  }

  private count(kind: string, result: string): void {
    const k = `${kind}:${result}`;
    this.stats.kernelOps[k] = (this.stats.kernelOps[k] ?? 0) + 1;
  }

  private async apply(op: Op): Promise<void> {
    switch (op.kind) {
      case 'ensureDevices':
        return this.kernel.ensureDevices(op.net);
      case 'removeDevices':
        return this.kernel.removeDevices(op.vni);
      case 'fdbAdd':
        return this.kernel.fdbAdd(op.vni, op.entries);
      case 'fdbDel':
        return this.kernel.fdbDel(op.vni, op.entries);
      case 'neighAdd':
        return this.kernel.neighAdd(op.vni, op.entries);
      case 'neighDel':
        return this.kernel.neighDel(op.vni, op.entries);
      case 'attachPort':
        return this.kernel.attachPort(op.vni, op.veth, op.mac);
      case 'removeVeth':
        return this.kernel.removeVeth(op.veth);
      case 'repairEndpoint':
        return this.repairer.repair(op.endpoint);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.running;
  }
}
