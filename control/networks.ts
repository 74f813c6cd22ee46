import { randomBytes } from 'crypto';
import { exhausted, notFound, precondition } from './errors';
import { DRIVER, EndpointRecord, NetworkRecord, SCOPE, VNI_MAX, VNI_MIN, VXLANID_OPTION } from './model';
import type { Store } from './store/store';
import { validateCreate } from './validate';
import { pickDefaultSubnet, defaultGateway } from './ipam';
import { filterNetworks, pruneFilter, resolveNetwork } from './filters';
import type { CreateNetworkRequest__Output } from './generated/vxnet/v1/CreateNetworkRequest';
import type { Network } from './generated/vxnet/v1/Network';
import type { Filter__Output } from './generated/vxnet/v1/Filter';

export const newId = (): string => randomBytes(32).toString('hex');

// Pure: the lowest VNI in range that no network uses.
export function nextFreeVni(existing: NetworkRecord[]): number {
  const used = new Set(existing.map((n) => n.vni));
  for (let v = VNI_MIN; v <= VNI_MAX; v++) if (!used.has(v)) return v;
  throw exhausted(`no free VXLAN id left in ${VNI_MIN}-${VNI_MAX}`);
}

// Pure: a validated request plus what the cluster assigns (ID, VNI, default subnet) -> the record.
export function buildNetwork(
  req: CreateNetworkRequest__Output,
  existing: NetworkRecord[],
  now = new Date(),
): NetworkRecord {
  const v = validateCreate(req, existing);
  const ipv4 = v.ipv4.length || v.ipv6.length ? v.ipv4 : [];
  if (v.ipv4.length === 0) {
    const subnet = pickDefaultSubnet(existing.flatMap((n) => [...n.ipv4, ...n.ipv6].map((s) => s.subnet)));
    ipv4.push({ subnet, gateway: defaultGateway(subnet), auxAddresses: {} });
  }
  const vni = v.vni ?? nextFreeVni(existing);
  return {
    id: newId(),
    name: v.name,
    created: now.toISOString(),
    vni,
    mtu: v.mtu,
    ipv4,
    ipv6: v.ipv6,
    enableIPv6: v.enableIPv6,
    internal: v.internal,
    attachable: v.attachable,
    labels: v.labels,
    options: { ...v.options, [VXLANID_OPTION]: String(vni) },
    ipamOptions: v.ipamOptions,
  };
}

export function endpointToProto(ep: EndpointRecord): NonNullable<Network['endpoints']>[number] {
  return {
    name: ep.name,
    endpointId: ep.id,
    macAddress: ep.mac,
    ipv4Address: ep.ipv4,
    ipv6Address: ep.ipv6,
    host: ep.host,
    sandbox: ep.sandbox,
    interfaceName: ep.ifname,
    aliases: ep.aliases,
    dockerNetworkId: ep.docker?.networkId ?? '',
    dockerEndpointId: ep.docker?.endpointId ?? '',
    cniContainerId: ep.cni?.containerId ?? '',
  };
}

export function networkToProto(n: NetworkRecord, endpoints: EndpointRecord[] = []): Network {
  return {
    name: n.name,
    id: n.id,
    created: n.created,
    scope: SCOPE,
    driver: DRIVER,
    enableIpv6: n.enableIPv6,
    ipam: {
      driver: 'default',
      options: n.ipamOptions,
      config: [...n.ipv4, ...n.ipv6].map((s) => ({
        subnet: s.subnet,
        gateway: s.gateway,
        ipRange: s.ipRange ?? '',
        auxiliaryAddresses: s.auxAddresses,
      })),
    },
    internal: n.internal,
    attachable: n.attachable,
    options: n.options,
    labels: n.labels,
    endpoints: endpoints.map(endpointToProto),
    vni: n.vni,
    mtu: n.mtu,
  };
}

// Cluster-wide network operations: any agent serves them, etcd holds the result.
export class NetworkService {
  constructor(private readonly store: Store) {}

  async create(req: CreateNetworkRequest__Output): Promise<Network> {
    const rec = await this.store.createNetwork((existing) => buildNetwork(req, existing));
    return networkToProto(rec);
  }

  async resolve(ref: string): Promise<NetworkRecord> {
    const { networks } = await this.store.listNetworks();
    return resolveNetwork(ref, networks);
  }

  async list(filters: Filter__Output[]): Promise<Network[]> {
    const { networks } = await this.store.listNetworks();
    return filterNetworks(networks, filters).map((n) => networkToProto(n));
  }

  async inspect(ref: string): Promise<Network> {
    const net = await this.resolve(ref);
    return networkToProto(net, await this.store.listEndpoints(net.id));
  }

  async delete(ref: string): Promise<{ id: string; name: string }> {
    const net = await this.resolve(ref);
    const result = await this.store.deleteNetwork(net);
    if (result === 'gone') throw notFound(`network ${ref} not found`);
    if (result === 'in-use') {
      const eps = await this.store.listEndpoints(net.id);
      throw precondition(
        `network ${net.name} has active endpoints (${eps
          .map((e) => `${e.name} on ${e.host}`)
          .slice(0, 5)
          .join(', ')}${eps.length > 5 ? ', ...' : ''}): disconnect them first`,
      );
    }
    return { id: net.id, name: net.name };
  }

  async prune(filters: Filter__Output[]): Promise<string[]> {
    const match = pruneFilter(filters);
    const { networks } = await this.store.listNetworks();
    const deleted: string[] = [];
    for (const net of networks.filter(match)) {
      if ((await this.store.deleteNetwork(net)) === 'deleted') deleted.push(net.name);
    }
    return deleted;
  }
}
