import type { EndpointRecord, HostRecord, NetworkRecord } from '../model';
import type { EndpointTable } from './endpoint-table';
import { parseKey } from './keys';
import type { WatchedKey, WatchResponse } from './wire';

// Everything the agent derives kernel state from: loaded at one revision, then kept current in
// place by the watch and by this host's own writes (agent/view.ts), so a live, mutable view.
export interface ClusterView {
  revision: number;
  networks: Map<string, NetworkRecord>;
  endpoints: EndpointTable; // by endpoint id
  hosts: Map<string, HostRecord>;
  reconciled: Map<string, number>; // host -> etcd revision up to which its kernel is programmed
  alive: Map<string, string>; // host -> since when its agent holds its lease (RFC 3339)
  down: Map<string, string>; // host -> since when a peer has seen it registered without a lease
}

// `data` gets every batch of changes after etcd confirmed the watch; `error` once, when the watch
// ended for any reason but cancel(): the caller loads again and watches anew.
export interface ViewHandlers {
  data(batch: ViewBatch): void;
  error(err: Error): void;
}

export interface ViewWatch {
  cancel(): void;
}

// A watched change of the view, in vxnet's terms: the record a key holds now (undefined: deleted)
// and, once applied, the one it held before. Keys and the wire stay in the store.
interface Common {
  deleted: boolean;
  revision: number; // the change's mod revision
  // Whether applying it changed the desired state (networks, endpoints, hosts): progress reports
  // (reconciled) and keys the view does not hold do not.
  changed: boolean;
}
export interface EndpointViewChange extends Common {
  kind: 'endpoint';
  id: string;
  record: EndpointRecord | undefined;
  previous: EndpointRecord | undefined;
}
export interface NetworkViewChange extends Common {
  kind: 'network';
  id: string;
  record: NetworkRecord | undefined;
  previous: NetworkRecord | undefined;
}
export interface HostViewChange extends Common {
  kind: 'host';
  id: string;
  record: HostRecord | undefined;
  previous: HostRecord | undefined;
}
// A host's progress report: the revision its kernel is programmed up to.
export interface ReconciledViewChange extends Common {
  kind: 'reconciled';
  id: string;
  record: number | undefined;
  previous: undefined;
}
// A host's lease key appearing or going (since when it holds it), or the time a peer marked it down.
export interface LivenessViewChange extends Common {
  kind: 'alive' | 'down';
  id: string;
  record: string | undefined;
  previous: string | undefined;
}
export interface OtherViewChange extends Common {
  kind: 'other';
  id: '';
  record: undefined;
  previous: undefined;
}
export type ViewChange =
  EndpointViewChange | NetworkViewChange | HostViewChange | ReconciledViewChange | LivenessViewChange | OtherViewChange;

// The one object every change of a batch is decoded into, whatever its kind.
interface Slot {
  kind: ViewChange['kind'];
  id: string;
  record: unknown;
  previous: unknown;
  deleted: boolean;
  revision: number;
  changed: boolean;
}

// A change that cannot be read (not a record vxnet wrote?): the view may hold part of its batch.
export class UnreadableChange extends Error {
  constructor(
    readonly key: string,
    cause: unknown,
  ) {
    super((cause as Error)?.message ?? String(cause), { cause });
    this.name = 'UnreadableChange';
  }
}

// One watch response as changes of the view, each decoded when read, into the same object: a bulk
// change is thousands of them in one response, and an object per change decoded up front lived
// until the last was applied (see WatchEvents). A read change is valid until the next read.
export class ViewBatch {
  readonly revision: number; // header.revision
  readonly compactRevision: number; // > 0: the start revision is compacted, changes are missing
  readonly canceled: boolean;
  readonly cancelReason: string;
  private readonly ev: WatchedKey = { deleted: false, key: '', value: undefined, modRevision: 0 };
  private readonly slot: Slot = {
    kind: 'other',
    id: '',
    record: undefined,
    previous: undefined,
    deleted: false,
    revision: 0,
    changed: false,
  };

  constructor(private readonly res: WatchResponse) {
    this.revision = res.revision;
    this.compactRevision = res.compactRevision;
    this.canceled = res.canceled;
    this.cancelReason = res.cancelReason;
  }

  get length(): number {
    return this.res.events.length;
  }

  read(i: number): ViewChange {
    const ev = this.ev;
    const c = this.slot;
    try {
      this.res.events.read(i, ev);
      readInto(c, ev.key, ev.value);
    } catch (err) {
      throw new UnreadableChange(ev.key, err);
    }
    c.deleted = ev.deleted;
    c.revision = ev.modRevision;
    return c as ViewChange;
  }
}

// Parsed and decoded once per key: a bulk change is thousands of them in one response.
function readInto(c: Slot, key: string, value: string | undefined): void {
  const k = parseKey(key);
  c.previous = undefined;
  c.changed = false;
  switch (k.kind) {
    case 'network':
      c.kind = 'network';
      c.id = k.id;
      c.record = value !== undefined ? parse<NetworkRecord>(value) : undefined;
      return;
    case 'endpoint':
      c.kind = 'endpoint';
      c.id = k.id;
      c.record = value !== undefined ? compact(parse<EndpointRecord>(value)) : undefined;
      return;
    case 'host':
      c.kind = 'host';
      c.id = k.name;
      c.record = value !== undefined ? parse<HostRecord>(value) : undefined;
      return;
    case 'reconciled':
      c.kind = 'reconciled';
      c.id = k.name;
      c.record = value !== undefined ? parse<{ revision: number }>(value).revision : undefined;
      return;
    case 'alive':
    case 'down':
      c.kind = k.kind;
      c.id = k.name;
      c.record = value !== undefined ? parse<{ since: string }>(value).since : undefined;
      return;
    default:
      c.kind = 'other';
      c.id = '';
      c.record = undefined;
  }
}

// Applies a change to the view, and records on it what the view held before and whether the
// desired state changed.
export function applyChange(view: ClusterView, change: ViewChange): void {
  const c = change as Slot;
  switch (change.kind) {
    case 'network':
      c.previous = view.networks.get(change.id);
      if (change.record) view.networks.set(change.id, change.record);
      else view.networks.delete(change.id);
      c.changed = true;
      return;
    case 'endpoint': {
      c.previous = view.endpoints.get(change.id);
      const record = change.record;
      // The record's own id as the map's key: the parsed id is a slice that would keep the whole key alive.
      if (record) view.endpoints.set(record.id === change.id ? record.id : change.id, record);
      else view.endpoints.delete(change.id);
      c.changed = true;
      return;
    }
    case 'host':
      c.previous = view.hosts.get(change.id);
      if (change.record) view.hosts.set(change.id, change.record);
      else view.hosts.delete(change.id);
      c.changed = true;
      return;
    case 'reconciled':
      // Progress reports of the agents: not a change of desired state, so no reconcile.
      if (change.record !== undefined) view.reconciled.set(change.id, change.record);
      else view.reconciled.delete(change.id);
      return;
    case 'alive':
    case 'down': {
      // Liveness is not desired state: a host's entries stay while its agent is away (issue of
      // flannel's and Docker's: a control-plane partition became a data-plane outage).
      const m = change.kind === 'alive' ? view.alive : view.down;
      c.previous = m.get(change.id);
      if (change.record !== undefined) m.set(change.id, change.record);
      else m.delete(change.id);
      return;
    }
    default:
  }
}

// A loaded key's value into the view (a full load: the same decoding as the watch's).
export function applyKv(view: ClusterView, key: string, value: string | undefined, into: ViewChange): void {
  const c = into as Slot;
  readInto(c, key, value);
  c.deleted = value === undefined;
  applyChange(view, into);
}

export function newViewChange(): ViewChange {
  return { kind: 'other', id: '', record: undefined, previous: undefined, deleted: false, revision: 0, changed: false };
}

function parse<T>(value: string): T {
  return JSON.parse(value) as T;
}

// Values that every endpoint of a network or a host repeats, held once: with tens of thousands of
// remote endpoints the agent's view is most of its memory, and JSON.parse makes a copy of each.
const repeated = new Map<string, string>();
function once(v: string): string {
  const seen = repeated.get(v);
  if (seen !== undefined) return seen;
  if (repeated.size >= 4096) repeated.clear(); // bounded: ids of networks and hosts long gone
  repeated.set(v, v);
  return v;
}
const NO_ALIASES: string[] = [];

function compact(ep: EndpointRecord): EndpointRecord {
  ep.networkId = once(ep.networkId);
  ep.host = once(ep.host);
  ep.ifname = once(ep.ifname);
  if (ep.aliases?.length === 0) ep.aliases = NO_ALIASES;
  return ep;
}
