import type { Api } from '../control/server';
import { version } from '../lib/version';
import type { Agent } from './agent';
import { runDoctor } from './doctor';
import { sandboxPath } from './endpoints/sandbox-names';

// The parts of the agent the API is answered from.
export type ApiParts = Pick<
  Agent,
  | 'config'
  | 'endpoints'
  | 'events'
  | 'hosts'
  | 'isolation'
  | 'kernel'
  | 'networks'
  | 'outage'
  | 'ready'
  | 'registration'
  | 'sandboxes'
  | 'self'
  | 'state'
  | 'store'
  | 'table'
  | 'clientDns'
>;

// The gRPC API over the agent's own services: reads fall back to the view while etcd is away,
// Connect's answer carries the resolver, Disconnect's what the sandbox keeps.
export function agentApi(a: ApiParts): Api {
  return {
    create: (r) => a.networks.create(r),
    list: (r) =>
      a.outage.read(
        async () => ({ networks: await a.networks.list(r.filters), stale: '' }),
        (snap, stale) => ({ networks: a.outage.listNetworks(snap, r.filters), stale }),
      ),
    inspect: (ref) =>
      a.outage.read(
        () => a.networks.inspect(ref),
        (snap, stale) => a.outage.inspectNetwork(snap, ref, stale),
      ),
    delete: (ref) => a.networks.delete(ref),
    prune: async (r) => ({ networksDeleted: await a.networks.prune(r.filters) }),
    connect: async (r, deadline) => {
      const res = await a.endpoints.connect(r, {}, undefined, deadline);
      const ep = a.state.snap?.endpoints.get(res.endpoint?.endpointId ?? '');
      const dns = ep && a.clientDns(ep.networkId);
      return dns ? { ...res, dns } : res;
    },
    disconnect: async (r) => {
      await a.endpoints.disconnect(r);
      const p = sandboxPath(r.sandbox);
      let left = 0;
      for (const e of a.state.snap?.endpoints.values() ?? []) if (e.sandbox === p && e.host === a.config.name) left++;
      return { sandboxEndpoints: left };
    },
    watch: (req, push) => a.events.watch(req, push),
    listHosts: () =>
      a.outage.read(
        async () => ({ hosts: await a.hosts.list(), stale: '' }),
        (_snap, stale) => ({ hosts: a.hosts.listFromView(), stale }),
      ),
    removeHost: async (r) => ({ endpointsReleased: await a.hosts.remove(r.name, r.force) }),
    doctor: () =>
      runDoctor({
        self: a.self,
        store: a.store,
        snapshot: () => a.state.snap,
        readActual: () => a.kernel.readActual(),
        sandboxAddresses: (p, i) => a.sandboxes.sandboxAddresses(p, i),
        registered: () => a.registration.registered,
        etcdEndpoints: a.config.etcd.endpoints,
        isolation: () => a.isolation.installed(),
        table: () => a.table.check(),
      }),
    health: async () => {
      const r = a.ready.readiness();
      return {
        status: r.ok ? 'SERVING' : 'NOT_SERVING',
        host: a.config.name,
        version: version(),
        message: r.reason,
      };
    },
  };
}
