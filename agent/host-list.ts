import type { HostRecord } from '../control/model';
import type { Store } from '../control/store/store';

export type HostEntry = HostRecord & { endpoints: number; leaseTtlLeft: string };

// `vxnet host ls`: every registered host with its endpoint count and what is left of its lease, read
// from etcd (not the view) so that the lease times are current.
export async function listHosts(store: Pick<Store, 'listHostsWithLeases' | 'listEndpoints'>): Promise<HostEntry[]> {
  const [hosts, eps] = await Promise.all([store.listHostsWithLeases(), store.listEndpoints()]);
  return hosts.map(({ host, ttlLeft }) => ({
    ...host,
    endpoints: eps.filter((e) => e.host === host.name).length,
    leaseTtlLeft: String(ttlLeft),
  }));
}
