import type { EndpointDeps } from './deps';

// Live peers with an endpoint in the network must report a reconciled revision at or past the
// endpoint's record; returns those that had not when the time ran out.
export async function waitForPeers(
  d: Pick<EndpointDeps, 'state' | 'self'>,
  networkId: string,
  revision: number,
  timeoutMs: number,
): Promise<string[]> {
  const lagging = (): string[] => {
    const snap = d.state.snap;
    if (!snap) return [];
    const peers = [...snap.endpoints.hostsOf(networkId).keys()].filter((h) => h !== d.self.name && snap.hosts.has(h));
    return peers.filter((h) => (snap.reconciled.get(h) ?? 0) < revision).sort();
  };
  await d.state.waitUntil(() => lagging().length === 0, timeoutMs);
  return lagging();
}
