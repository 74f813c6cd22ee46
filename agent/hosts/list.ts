import type { HostRecord } from '../../control/model';
import type { ClusterView, HostState } from '../../control/store/store';
import type { Host } from '../../control/generated/vxnet/v1/Host';

export type HostStateName = 'up' | 'unreachable';

// `vxnet host ls`: every host with endpoints, a record or a lease. Up means its agent holds its lease
// (it reaches etcd); unreachable means it does not, which says nothing of its containers: peers keep
// programming them until the host is removed.
export function hostEntries(states: readonly HostState[]): Host[] {
  return states
    .map((h) => {
      const r: Partial<HostRecord> = h.record ?? {};
      const up = h.alive !== undefined;
      return {
        name: h.name,
        vtep: r.vtep ?? '',
        version: r.version ?? '',
        started: r.started ?? '',
        endpoints: h.endpoints,
        leaseTtlLeft: String(h.alive?.ttlLeft ?? -1),
        vxlanPort: r.vxlanPort ?? 0,
        underlayMtu: r.underlayMtu ?? 0,
        state: up ? 'up' : 'unreachable',
        since: (up ? h.alive?.since : h.downSince) ?? '',
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

// The same from the agent's view, for when etcd does not answer (lease times unknown).
export function hostStatesOfView(snap: ClusterView): HostState[] {
  const by = new Map<string, HostState>();
  const of = (name: string): HostState => {
    let h = by.get(name);
    if (!h) by.set(name, (h = { name, endpoints: 0 }));
    return h;
  };
  for (const [name, rec] of snap.hosts) of(name).record = rec;
  for (const [name, since] of snap.alive) of(name).alive = { since, ttlLeft: -1 };
  for (const [name, since] of snap.down) of(name).downSince = since;
  for (const ep of snap.endpoints.values()) of(ep.host).endpoints++;
  return [...by.values()];
}
