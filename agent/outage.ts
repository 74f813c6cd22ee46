import { VxError } from '../control/errors';
import type { ClusterView, Store } from '../control/store/store';
import type { EndpointRecord } from '../control/model';
import { filterNetworks, resolveNetwork } from '../control/filters';
import type { FilterArg } from '../control/filters';
import { networkToProto } from '../control/networks';
import type { Network } from '../control/generated/vxnet/v1/Network';

// What the API says and serves while etcd does not answer. Reads are answered from the agent's
// view and marked stale (Docker answers from its local store too, but without saying so); writes
// fail at once (the store gives up after a second of silence) with a message that names etcd and
// what this agent still does.
export class EtcdOutage {
  constructor(
    private readonly store: Pick<Store, 'health'>,
    private readonly view: () => ClusterView | undefined,
    private readonly self: string,
  ) {}

  // Appended to every "etcd is unreachable" the API sends.
  explain(etcdMessage: string, now = Date.now()): string {
    const snap = this.view();
    const local = snap ? countLocal(snap, this.self) : 0;
    const heard = this.store.health.lastAnswer;
    const since = heard
      ? `its last answer came ${ago(now - heard)} ago (${new Date(heard).toISOString()})`
      : 'it has not answered since this agent started';
    return `${etcdMessage}; ${since}. Host ${this.self} keeps forwarding for its ${local} local endpoint(s) from its view${snap ? ` at revision ${snap.revision}` : ''}; changes wait for etcd`;
  }

  // The line a stale answer carries.
  staleNote(now = Date.now()): string {
    const heard = this.store.health.lastAnswer;
    const age = heard ? `${ago(now - heard)} old` : 'of unknown age';
    return `etcd is not answering: this is host ${this.self}'s view of the cluster, ${age}`;
  }

  // The read from etcd, or, when etcd is away, the same from the view with the stale note.
  async read<T>(fromEtcd: () => Promise<T>, fromView: (snap: ClusterView, note: string) => T): Promise<T> {
    try {
      return await fromEtcd();
    } catch (err) {
      const snap = this.view();
      if (!(err instanceof VxError) || err.reason !== 'etcd-unavailable' || !snap) throw err;
      return fromView(snap, this.staleNote());
    }
  }

  listNetworks(snap: ClusterView, filters: FilterArg[]): Network[] {
    return filterNetworks([...snap.networks.values()], filters).map((n) => networkToProto(n));
  }

  inspectNetwork(snap: ClusterView, ref: string, note: string): Network {
    const net = resolveNetwork(ref, [...snap.networks.values()]);
    const eps: EndpointRecord[] = [];
    for (const e of snap.endpoints.values()) if (e.networkId === net.id) eps.push(e);
    return { ...networkToProto(net, eps), stale: note };
  }
}

function countLocal(snap: ClusterView, self: string): number {
  let n = 0;
  for (const e of snap.endpoints.values()) if (e.host === self) n++;
  return n;
}

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}
