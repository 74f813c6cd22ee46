import type { Op } from './diff';
import { opVni } from './ops';
import type { ActualState } from './dataplane/types';

// The FDB and neighbor entries of each vxlan device as of the last dump, kept up to date with the
// reconciler's own successful writes; keyed by VNI and valid only for the device index it was read
// from. Nothing else writes these entries (they are ours by device name).
export class EntryCache {
  private readonly byVni = new Map<number, { index: number; fdb: Map<string, string>; neigh: Map<string, string> }>();

  remember(actual: ActualState): void {
    this.byVni.clear();
    // Kept as read, not copied: the diff of this run has read them before `applied` changes them.
    for (const [vni, n] of actual.networks)
      if (n.vxlan) this.byVni.set(vni, { index: n.vxlan.index, fdb: n.fdb, neigh: n.neigh });
  }

  // Fills the entries of an entry-less read; false when some vxlan device is not known as read.
  fill(actual: ActualState): boolean {
    for (const [vni, n] of actual.networks) {
      if (!n.vxlan) continue;
      const c = this.byVni.get(vni);
      if (!c || c.index !== n.vxlan.index) return false;
      n.fdb = c.fdb;
      n.neigh = c.neigh;
    }
    return true;
  }

  applied(op: Op): void {
    const c = 'entries' in op ? this.byVni.get(op.vni) : undefined; // looked up once per op, not per entry
    switch (op.kind) {
      case 'fdbAdd':
        if (c) for (const e of op.entries) c.fdb.set(e.mac, e.dst);
        return;
      case 'fdbDel':
        if (c) for (const e of op.entries) c.fdb.delete(e.mac);
        return;
      case 'neighAdd':
        if (c) for (const e of op.entries) c.neigh.set(e.ip, e.mac);
        return;
      case 'neighDel':
        if (c) for (const e of op.entries) c.neigh.delete(e.ip);
        return;
      case 'ensureDevices':
      case 'removeDevices':
        this.forget(opVni(op));
        return;
      default:
    }
  }

  forget(vni: number | undefined): void {
    if (vni !== undefined) this.byVni.delete(vni);
  }
}
