import type { ConnectResponse } from '../control/generated/vxnet/v1/ConnectResponse';
import type { EndpointRecord } from '../control/model';
import type { ClusterView, Store } from '../control/store/store';
import type { CniBackend } from './cni';
import type { EndpointService } from './endpoints/service';
import type { PathIdentity } from './sandbox-identity';
import { gatewaysOf } from './desired';

// What the CNI server needs of the agent, from the endpoint service, the sandboxes and the view.
export class CniAdapter implements CniBackend {
  constructor(
    readonly host: string, // CNI identities are per host
    private readonly endpoints: EndpointService,
    private readonly sandboxes: {
      sandboxAddresses(sandbox: string, ifname: string): Promise<string[] | undefined>;
      identify(sandbox: string): PathIdentity;
    },
    private readonly store: Pick<Store, 'revision'>,
    private readonly view: () => ClusterView | undefined,
    readonly dns?: (networkId: string) => { nameservers: string[]; search: string[]; options: string[] } | undefined,
  ) {}

  // CNI's ADD answers when this host is programmed; it does not wait for the peers.
  connect(
    req: Parameters<CniBackend['connect']>[0],
    cni: { containerId: string; ifname: string },
    access?: string,
  ): Promise<ConnectResponse> {
    return this.endpoints.connect({ ...req, wait: false, waitTimeoutMs: 0 }, { cni }, access);
  }

  findByCni(containerId: string, ifname: string): EndpointRecord | undefined {
    return this.endpoints.findByCni(containerId, ifname);
  }

  localCniEndpoints(network: string): EndpointRecord[] {
    return this.endpoints.localCniEndpoints(network);
  }

  disconnectEndpoint(ep: EndpointRecord): Promise<void> {
    return this.endpoints.disconnectEndpoint(ep);
  }

  sandboxAddresses(sandbox: string, ifname: string): Promise<string[] | undefined> {
    return this.sandboxes.sandboxAddresses(sandbox, ifname);
  }

  identify(sandbox: string): PathIdentity {
    return this.sandboxes.identify(sandbox);
  }

  async etcdHealthy(): Promise<boolean> {
    try {
      await this.store.revision();
      return true;
    } catch {
      return false;
    }
  }

  gateways(networkId: string): { v4: string; v6: string; internal: boolean } {
    const n = this.view()?.networks.get(networkId);
    const gw = n ? gatewaysOf(n) : undefined;
    return { v4: gw?.v4 ?? '', v6: gw?.v6 ?? '', internal: !!n?.internal };
  }
}
