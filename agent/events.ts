import { EventEmitter } from 'events';
import type { EndpointRecord, HostRecord, NetworkRecord } from '../control/model';
import type { ViewChange } from '../control/store/view-change';
import type { Event } from '../control/generated/vxnet/v1/Event';
import type { Filter__Output } from '../control/generated/vxnet/v1/Filter';
import { invalid } from '../control/errors';
import { parseUntil } from '../control/filters';

// Cluster events as `docker events` shows them, derived from the etcd watch that every agent
// already runs: a key created or deleted under networks/, endpoints/ or hosts/. Kept in a ring so
// that `--since` can replay the recent past.
//
// The ring holds what the watch handed over and an Event is built only when somebody reads it (a
// `vxnet events` stream, a replay): a bulk change is tens of thousands of events nobody watches,
// and building each (its time as text, a 13-field object) was a tenth of the agent's work on them.
// Emits 'event' (an Event) while someone listens, and 'host' for hosts joining or leaving.
interface Raw {
  kind: 'network' | 'endpoint' | 'host';
  action: string;
  revision: number;
  at: number;
  rec: unknown;
  network: string; // an endpoint's network name when it happened
}

export class EventLog extends EventEmitter {
  private readonly ring: Raw[] = [];

  constructor(
    private readonly capacity = 2000,
    private readonly networkName: (id: string) => string = () => '',
  ) {
    super();
    this.setMaxListeners(0);
  }

  // `previous` is the record the agent's view held before this change (the view, not etcd's prev_kv,
  // so that watches need not ask etcd for the old value of every deleted key): usually the change's
  // own, but not for the agent's own write, which was in the view ahead of its watch event.
  fromWatch(c: ViewChange, previous: unknown): void {
    if (c.kind !== 'network' && c.kind !== 'endpoint' && c.kind !== 'host') return;
    const { deleted, revision, record } = c;
    const created = !deleted && previous === undefined;
    if (!deleted && !created) return; // updates (a host's refreshed record) are not events
    // A host's record comes and goes with its first registration and its removal; its lease key
    // says when its agent joins and leaves (fromLiveness).
    if (c.kind === 'host' && created) return;
    const rec = created ? record : previous;
    if (!rec) return;
    this.push({ kind: c.kind, action: eventAction(c.kind, created), revision, at: Date.now(), rec, network: '' });
  }

  // A host's lease key created (its agent registered) or gone (expired, or the host was removed).
  fromLiveness(c: ViewChange, host: HostRecord | undefined): void {
    if (c.kind !== 'alive' || !host || (!c.deleted && c.previous !== undefined)) return;
    this.push({
      kind: 'host',
      action: c.deleted ? 'leave' : 'join',
      revision: c.revision,
      at: Date.now(),
      rec: host,
      network: '',
    });
  }

  private push(raw: Raw): void {
    if (raw.kind === 'endpoint') raw.network = this.networkName((raw.rec as EndpointRecord).networkId);
    this.ring.push(raw);
    if (this.ring.length > this.capacity * 2) this.ring.splice(0, this.ring.length - this.capacity);
    if (raw.kind === 'host') this.emit('host', { action: raw.action, host: raw.rec as HostRecord });
    if (this.listenerCount('event')) this.emit('event', toEvent(raw));
  }

  recent(sinceMs: number): Event[] {
    return this.ring
      .slice(-this.capacity)
      .filter((r) => r.at >= sinceMs)
      .map(toEvent);
  }

  // The API's Watch: the recent events since `since` that match, then each new one as it comes.
  // Returns the unsubscribe.
  watch(req: { filters: Filter__Output[]; since: string }, push: (e: Event) => void): () => void {
    const match = eventFilter(req.filters);
    for (const e of this.recent(sinceMs(req.since))) if (match(e)) push(e);
    const listener = (e: Event): void => {
      if (match(e)) push(e);
    };
    this.on('event', listener);
    return () => this.off('event', listener);
  }
}

function eventAction(kind: Raw['kind'], created: boolean): string {
  if (kind === 'network') return created ? 'create' : 'remove';
  if (kind === 'endpoint') return created ? 'connect' : 'disconnect';
  return created ? 'join' : 'remove';
}

function toEvent(r: Raw): Event {
  const time = new Date(r.at).toISOString();
  const revision = String(r.revision);
  if (r.kind === 'network') {
    const n = r.rec as NetworkRecord;
    return {
      time,
      revision,
      type: 'network',
      action: r.action,
      id: n.id,
      name: n.name,
      network: n.name,
      networkId: n.id,
    };
  }
  if (r.kind === 'endpoint') {
    const ep = r.rec as EndpointRecord;
    return {
      time,
      revision,
      type: 'endpoint',
      action: r.action,
      id: ep.id,
      name: ep.name,
      network: r.network,
      networkId: ep.networkId,
      host: ep.host,
      ipv4Address: ep.ipv4,
      ipv6Address: ep.ipv6,
      macAddress: ep.mac,
    };
  }
  const h = r.rec as HostRecord;
  return {
    time,
    revision,
    type: 'host',
    action: r.action,
    id: h.name,
    name: h.name,
    host: h.name,
    vtep: h.vtep,
  };
}

const EVENT_FILTERS = new Set(['network', 'type', 'host', 'event', 'name']);

// Docker's events filters: values of one key OR-ed, keys AND-ed; network matches name or ID.
export function eventFilter(filters: Filter__Output[]): (e: Event) => boolean {
  const by = new Map<string, string[]>();
  for (const f of filters) {
    if (!EVENT_FILTERS.has(f.key))
      throw invalid(`invalid filter '${f.key}' for events; valid filters: ${[...EVENT_FILTERS].join(', ')}`);
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
