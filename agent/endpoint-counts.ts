import type { ClusterView } from '../control/store/store';

export interface EndpointCount {
  network: string;
  local: number;
  remote: number;
}

// Per network this host serves: its own endpoints, and those of live peers it programs.
export function endpointCounts(snap: ClusterView | undefined, host: string): EndpointCount[] {
  if (!snap) return [];
  const out: EndpointCount[] = [];
  for (const net of snap.networks.values()) {
    const byHost = snap.endpoints.hostsOf(net.id);
    const local = byHost.get(host) ?? 0;
    if (!local) continue;
    let remote = 0;
    for (const [h, n] of byHost) if (h !== host && snap.hosts.has(h)) remote += n;
    out.push({ network: net.name, local, remote });
  }
  return out;
}
