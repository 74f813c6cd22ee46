import { EventEmitter } from 'events';
import type { EndpointRecord, HostRecord, NetworkRecord } from '../control/model';
import type { ParsedKey } from '../control/store/keys';
import type { Event } from '../control/generated/vxnet/v1/Event';
import type { Filter__Output } from '../control/generated/vxnet/v1/Filter';
import { invalid } from '../control/errors';
import { parseUntil } from '../control/filters';

// Cluster events as `docker events` shows them, derived from the etcd watch that every agent
// already runs: a key created or deleted under networks/, endpoints/ or hosts/. Kept in a ring so
// that `--since` can replay the recent past.
export class EventLog extends EventEmitter {
  private readonly ring: Event[] = [];

  constructor(private readonly capacity = 2000, private readonly networkName: (id: string) => string = () => '') {
    super();
    this.setMaxListeners(0);
  }

  // `previous` is the record the agent's view held before this event (the view, not etcd's prev_kv,
  // so that watches need not ask etcd for the old value of every deleted key).
  fromWatch(k: ParsedKey, deleted: boolean, revision: number, record: unknown, previous: unknown): void {
    if (k.kind !== 'network' && k.kind !== 'endpoint' && k.kind !== 'host') return;
    const created = !deleted && previous === undefined;
    if (!deleted && !created) return; // updates (a host's refreshed record) are not events
    const rec = created ? record : previous;
    if (!rec) return;
    // Plain literals, no spread of a shared base: V8 spreads into a literal this size on a slow path
    // (~9 us an event, most of a 10k-endpoint bulk change).
    const time = new Date().toISOString();
    const rv = String(revision);
    let e: Event;
    if (k.kind === 'network') {
      const n = rec as NetworkRecord;
      e = { time, revision: rv, type: 'network', action: created ? 'create' : 'remove', id: n.id, name: n.name, network: n.name, networkId: n.id };
    } else if (k.kind === 'endpoint') {
      const ep = rec as EndpointRecord;
      e = { time, revision: rv, type: 'endpoint', action: created ? 'connect' : 'disconnect', id: ep.id, name: ep.name, network: this.networkName(ep.networkId), networkId: ep.networkId, host: ep.host, ipv4Address: ep.ipv4, ipv6Address: ep.ipv6, macAddress: ep.mac };
    } else {
      const h = rec as HostRecord;
      e = { time, revision: rv, type: 'host', action: created ? 'join' : 'leave', id: h.name, name: h.name, host: h.name, vtep: h.vtep };
    }
    this.ring.push(e);
    if (this.ring.length > this.capacity * 2) this.ring.splice(0, this.ring.length - this.capacity);
    this.emit('event', e);
  }

  recent(sinceMs: number): Event[] {
    return this.ring.slice(-this.capacity).filter((e) => Date.parse(e.time ?? '') >= sinceMs);
  }
}

const EVENT_FILTERS = new Set(['network', 'type', 'host', 'event', 'name']);

// Docker's events filters: values of one key OR-ed, keys AND-ed; network matches name or ID.
export function eventFilter(filters: Filter__Output[]): (e: Event) => boolean {
  const by = new Map<string, string[]>();
  for (const f of filters) {
    if (!EVENT_FILTERS.has(f.key)) throw invalid(`invalid filter '${f.key}' for events; valid filters: ${[...EVENT_FILTERS].join(', ')}`);
    by.set(f.key, [...(by.get(f.key) ?? []), f.value]);
  }
  const get: Record<string, (e: Event) => string[]> = {
    network: (e) => [e.network ?? '', e.networkId ?? ''],
    type: (e) => [e.type ?? ''],
    host: (e) => [e.host ?? ''],
    event: (e) => [e.action ?? ''],
    name: (e) => [e.name ?? ''],
  };
  return (e) => [...by].every(([k, vals]) => vals.some((v) => get[k](e).includes(v)));
}

export function sinceMs(since: string): number {
  if (!since) return Number.POSITIVE_INFINITY;
  return parseUntil(since);
}
