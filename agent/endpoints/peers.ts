import type { EndpointDeps } from './deps';

// Peers that are up (hold their lease) with an endpoint in the network must report a reconciled
// revision at or past the endpoint's record; returns those that had not when the time ran out. A
// host without its lease reports nothing, so waiting for it would only cost the whole timeout.
export async function waitForPeers(
  d: Pick<EndpointDeps, 'state' | 'self'>,
  networkId: string,
  revision: number,
  timeoutMs: number,
): Promise<string[]> {
  const lagging = (): string[] => {
    const snap = d.state.snap;
    if (!snap) return [];
    const peers = [...snap.endpoints.hostsOf(networkId).keys()].filter((h) => h !== d.self.name && snap.alive.has(h));
    return peers.filter((h) => (snap.reconciled.get(h) ?? 0) < revision).sort();
  };
  await d.state.waitUntil(() => lagging().length === 0, timeoutMs);
  return lagging();
}
