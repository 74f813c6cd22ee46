import type { Store } from '../../control/store/store';
import type { ClusterView } from '../../control/store/store';
import { invalid, notFound, precondition } from '../../control/errors';
import type { Host } from '../../control/generated/vxnet/v1/Host';
import type { Logger } from '../../lib/log';
import { hostEntries, hostStatesOfView } from './list';

// The host names an agent accepts (config.ts checks its own against the same rule).
export const HOST_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

export interface HostServiceDeps {
  store: Pick<Store, 'hostStates' | 'removeHost'>;
  self: string;
  view: () => ClusterView | undefined;
  log: Logger;
}

// `host ls` and `host rm`: the cluster's hosts as etcd holds them, and the removal of one that is
// gone for good (its addresses are otherwise claimed for ever).
export class HostService {
  constructor(private readonly d: HostServiceDeps) {}

  async list(): Promise<Host[]> {
    return hostEntries(await this.d.store.hostStates());
  }

  // The hosts as this agent's view holds them: what `list` falls back to while etcd is away.
  listFromView(): Host[] {
    const snap = this.d.view();
    return snap ? hostEntries(hostStatesOfView(snap)) : [];
  }

  async remove(name: string, force: boolean): Promise<number> {
    if (!name) throw invalid('host rm: a host name is required');
    if (!HOST_NAME.test(name))
      throw invalid(`host rm: "${name}" is not a valid host name (letters, digits, _ . -, at most 63)`);
    if (name === this.d.self)
      throw precondition(`host rm: ${name} is this agent's own host; stop its agent and remove it from another host`);
    const h = (await this.d.store.hostStates()).find((s) => s.name === name);
    if (!h) throw notFound(`host rm: no host ${name} (vxnet host ls lists them)`);
    if (h.alive && !force)
      throw precondition(
        `host rm: ${name} is up (its agent holds its lease); stop it first, or use --force for a host known to be gone behind a partition`,
      );
    if (h.alive) this.d.log.warn('removing a host that holds its lease (forced)', { host: name });
    const released = await this.d.store.removeHost(name);
    this.d.log.info('host removed', { host: name, endpointsReleased: released, forced: force && !!h.alive });
    return released;
  }
}
