import { EventEmitter } from 'events';
import type { EndpointChange } from './desired';
import type { EndpointRecord, NetworkRecord } from '../control/model';
import type { ClusterView, Store, ViewBatch, ViewWatch } from '../control/store/store';
import { applyChange, UnreadableChange } from '../control/store/view-change';
import type { Logger } from '../lib/log';
import type { EventLog } from './events';

const JOURNAL_MAX = 100_000; // endpoint changes kept between two reconciles

// The agent's view of etcd: one consistent load at revision R, then a watch from R+1 applied in
// order. Anything abnormal in the watch (compaction, a broken stream, a reconnect) throws the view
// away and loads again, because an event missed silently is a kernel entry wrong forever.
//
// Emits 'change' (coalesce it) after every applied batch and after every reload.
export class ClusterState extends EventEmitter {
  snap: ClusterView | undefined;
  // Bumped by every change this class makes to the view (the only writer of `snap`): a reconcile
  // whose view has the same version as the last one's computes the same desired state.
  version = 0;
  // The endpoint records watched since `journal.from` (a version), in order, for a reconcile that
  // patches its last desired state instead of computing it again from the whole view; undefined
  // once anything else changed the view (see journalSince).
  private journal: { from: number; changes: EndpointChange[] } | undefined;
  private watcher: ViewWatch | undefined;
  private stopped = false;
  private reloading: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  watchEvents = 0;
  private loaded = 0; // records read by loads
  // Watch events and records loaded: how much the view has churned (agent/memory.ts).
  get recordsSeen(): number {
    return this.watchEvents + this.loaded;
  }
  // When each not yet reconciled revision arrived: the reconciler reports the lag from here.
  readonly arrivals: { revision: number; at: number }[] = [];

  constructor(
    private readonly store: Store,
    private readonly host: string,
    private readonly log: Logger,
    private readonly events?: EventLog,
  ) {
    super();
    this.setMaxListeners(0);
  }

  get ready(): boolean {
    return this.snap !== undefined && this.watcher !== undefined;
  }

  async start(): Promise<void> {
    await this.reload('start');
  }

  // Coalesced: concurrent callers share one reload.
  reload(reason: string): Promise<void> {
    if (!this.reloading) {
      this.reloading = this.doReload(reason).finally(() => {
        this.reloading = undefined;
      });
    }
    return this.reloading;
  }

  private async doReload(reason: string): Promise<void> {
    this.closeWatcher();
    if (this.stopped) return;
    try {
      const snap = await this.store.snapshot();
      this.snap = snap;
      this.changed();
      this.loaded += snap.endpoints.size + snap.networks.size + snap.hosts.size;
      this.replayLocalWrites();
      this.log.debug('loaded cluster state', {
        reason,
        revision: snap.revision,
        networks: snap.networks.size,
        endpoints: snap.endpoints.size,
        hosts: snap.hosts.size,
      });
      await this.watchFrom(snap.revision + 1);
      this.emit('change', 'reload');
      this.emit('progress');
    } catch (err) {
      // etcd unreachable: keep the last view (never flush the data plane) and try again.
      this.log.warn('cannot load cluster state from etcd, will retry', { reason, error: (err as Error).message });
      this.scheduleRetry();
    }
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.reload('retry');
    }, 1000);
  }

  private async watchFrom(revision: number): Promise<void> {
    // Callbacks of a watch closed since (a reload) are ignored: each watch has its generation.
    const gen = ++this.watchGen;
    const data = (batch: ViewBatch): void => {
      if (gen !== this.watchGen || !this.snap) return;
      if (batch.compactRevision > 0) {
        this.log.warn('watch revision compacted, reloading', { compactRevision: batch.compactRevision });
        void this.reload('compacted');
        return;
      }
      if (batch.canceled) {
        this.log.warn('etcd cancelled the watch, reloading', { reason: batch.cancelReason });
        void this.reload('watch cancelled');
        return;
      }
      let changed = false;
      const now = Date.now();
      try {
        for (let i = 0; i < batch.length; i++) {
          const c = batch.read(i); // the one object, every time: see ViewBatch
          const revision = c.revision;
          this.watchEvents++;
          const own =
            c.kind === 'endpoint' &&
            (this.isOwnWrite(c.id, revision, c.deleted) || this.writing.get(c.id) === c.deleted);
          applyChange(this.snap, c);
          if (c.changed)
            this.changed(
              c.kind === 'endpoint'
                ? { ep: c.record ?? c.previous, created: c.previous === undefined, deleted: c.deleted }
                : undefined,
            );
          this.snap.revision = Math.max(this.snap.revision, revision);
          // This agent's own endpoint write, in the view since its request (or about to be): not a
          // change. Its event is logged all the same (endpoint records are only ever created and
          // deleted, so a put is a connect; a deletion's record is the request's own).
          if (own) {
            if (this.events)
              this.events.fromWatch(c, c.deleted ? (c.previous ?? this.localWrites.get(c.id)?.ep) : undefined);
            continue;
          }
          if (this.events && c.changed) this.events.fromWatch(c, c.previous);
          if (this.events && c.kind === 'alive') this.events.fromLiveness(c, this.snap.hosts.get(c.id));
          if (!c.changed || (c.kind === 'endpoint' && !this.concerns(c.record ?? c.previous))) continue;
          if (this.arrivals.length < 10000) this.arrivals.push({ revision, at: now });
          changed = true;
        }
      } catch (err) {
        // A change that cannot be decoded: the view may hold part of this batch, so it is thrown
        // away and loaded again, as after any other abnormal watch.
        this.log.error('cannot apply a watch event, loading the cluster state again', {
          key: err instanceof UnreadableChange ? err.key : undefined,
          error: (err as Error).message,
        });
        void this.reload('unreadable watch event');
        return;
      }
      if (batch.revision) this.snap.revision = Math.max(this.snap.revision, batch.revision);
      if (this.localWrites.size) this.replayLocalWrites();
      this.emit('progress');
      if (changed) this.emit('change', 'watch');
    };
    // A stream that ended (etcd restarted, a member lost, the connection cut) may have missed events
    // and our own keys may be gone with a lost lease: load again rather than resume.
    let failed = false;
    const error = (err: Error): void => {
      failed = true;
      if (gen !== this.watchGen) return;
      this.log.warn('etcd watch failed, reloading', { error: err.message });
      void this.reload('watch error');
    };
    const w = await this.store.watchView(revision, { data, error });
    // Closed while it was opening (a stop): not ours to keep.
    if (gen !== this.watchGen) {
      w.cancel();
      return;
    }
    // Failed before this load could take it: the reload it asked for is this one, so fail it (and
    // it is tried again in a second).
    if (failed) throw new Error('the etcd watch ended as it opened');
    this.watcher = w;
  }

  private closeWatcher(): void {
    this.watchGen++;
    this.watcher?.cancel();
    this.watcher = undefined;
  }

  private watchGen = 0;

  // A write this agent just committed, applied ahead of its watch event so that the reconciler never
  // acts on a view older than the agent's own request (the event, when it comes, is idempotent).
  //
  // Kept until the view has caught up with `revision`, so that a reload from a snapshot read before
  // the write (watch reconnect, re-registration) does not briefly forget it: a reconciler acting on
  // that gap would remove a live veth as stale.
  //
  // Emits no change: the request that made the write does its kernel work itself and asks for a
  // reconcile only when the view's consequences reach beyond it (see EndpointService).
  applyLocalEndpoint(ep: EndpointRecord, deleted = false, revision = 0): void {
    if (revision) this.localWrites.set(ep.id, { ep, deleted, revision });
    if (!this.snap) return;
    this.changed();
    if (deleted) this.snap.endpoints.delete(ep.id);
    else this.snap.endpoints.set(ep.id, ep);
  }

  // Every change of the view goes through here. `ep`: a watched endpoint record; anything else ends
  // the journal until the next reconcile starts one.
  private changed(ep?: { ep: EndpointRecord | undefined; created: boolean; deleted: boolean }): void {
    this.version++;
    if (!this.journal) return;
    if (!ep?.ep || this.journal.changes.length >= JOURNAL_MAX) {
      this.journal = undefined;
      return;
    }
    // Another host's endpoint in a network this host does not serve changes nothing it programs (a
    // first local endpoint, which would, ends the journal).
    if (!this.concerns(ep.ep)) return;
    this.journal.changes.push({ ep: ep.ep, kind: ep.deleted ? 'deleted' : ep.created ? 'created' : 'updated' });
  }

  // The endpoint changes since `version` if the journal covers them all (and nothing else changed
  // the view since), else undefined; either way a new journal starts at the current version.
  journalSince(version: number | undefined): EndpointChange[] | undefined {
    const j = this.journal;
    this.journal = { from: this.version, changes: [] };
    return j && j.from === version ? j.changes : undefined;
  }

  // An endpoint in a network that this host does not serve changes nothing in its kernel: no
  // reconcile, and so no progress report (an etcd write) from every host for every Connect anywhere.
  // Its first local endpoint asks for a reconcile, which then programs the network's peers.
  //
  // "Serves" is the view's local endpoints or what the kernel was last made to hold (`served`, the
  // reconciler's): the view alone can have no local endpoint for a moment while the kernel still
  // serves the network (the last one disconnected as the next connects), and a change dropped then
  // would never be programmed.
  private concerns(ep: EndpointRecord | undefined): boolean {
    if (!ep || ep.host === this.host) return true;
    if (this.snap?.endpoints.hostsOf(ep.networkId).has(this.host) ?? true) return true;
    return this.served(ep.networkId);
  }

  private served: (networkId: string) => boolean = () => true;

  // The reconciler's answer to "may the kernel hold this network's entries?" (see concerns).
  setServed(served: (networkId: string) => boolean): void {
    this.served = served;
  }

  // A network this agent read from etcd (a Connect for a network its watch has not delivered yet):
  // without it in the view, the reconciler would take the new endpoint's veth for a stale one.
  applyNetwork(net: NetworkRecord): void {
    if (this.snap && !this.snap.networks.has(net.id)) {
      this.changed();
      this.snap.networks.set(net.id, net);
      this.readNetworks.set(net.id, net);
    }
  }

  private readonly readNetworks = new Map<string, NetworkRecord>();

  // A request's write of one of this host's endpoints, from before it is sent until its answer is
  // recorded by applyLocalEndpoint: the watch can deliver the write's event first (it comes on
  // another connection), and a reconcile it started would only find the endpoint busy and then write
  // this host's progress to etcd, an extra request after ~1 Connect in 4.
  async ownWrite<T>(id: string, deleted: boolean, write: () => Promise<T>): Promise<T> {
    this.writing.set(id, deleted);
    try {
      return await write();
    } finally {
      this.writing.delete(id);
    }
  }

  private readonly writing = new Map<string, boolean>(); // endpoint id -> deleted

  private isOwnWrite(id: string, revision: number, deleted: boolean): boolean {
    const w = this.localWrites.get(id);
    return !!w && w.revision === revision && w.deleted === deleted;
  }

  private readonly localWrites = new Map<string, { ep: EndpointRecord; deleted: boolean; revision: number }>();

  private replayLocalWrites(): void {
    if (!this.snap) return;
    for (const [id, w] of this.localWrites) {
      if (w.revision <= this.snap.revision) {
        this.localWrites.delete(id);
        continue;
      }
      this.changed();
      if (w.deleted) this.snap.endpoints.delete(id);
      else this.snap.endpoints.set(id, w.ep);
      // A reload from before the network existed would otherwise drop it under a live endpoint.
      const net = this.readNetworks.get(w.ep.networkId);
      if (!w.deleted && net && !this.snap.networks.has(net.id)) this.snap.networks.set(net.id, net);
    }
    for (const id of this.readNetworks.keys())
      if (![...this.localWrites.values()].some((w) => w.ep.networkId === id)) this.readNetworks.delete(id);
  }

  // Resolves true once `ready()` holds, false after `timeoutMs`; re-checked on every watch batch.
  waitUntil(ready: () => boolean, timeoutMs: number): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = (): void => {
        if (!ready()) return;
        clearTimeout(t);
        this.off('progress', check);
        resolve(true);
      };
      const t = setTimeout(() => {
        this.off('progress', check);
        resolve(false);
      }, timeoutMs);
      this.on('progress', check);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.closeWatcher();
  }
}
