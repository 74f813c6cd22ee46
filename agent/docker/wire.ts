import { invalid } from '../../control/errors';
import { addressOf, canonicalAddress, parseCidr } from '../../control/ipam';
import { MTU_OPTION, VXLANID_OPTION } from '../../control/model';
import type { CreateNetworkRequest__Output } from '../../control/generated/vxnet/v1/CreateNetworkRequest';

// Docker's libnetwork remote plugin API (NetworkDriver + IpamDriver, protocol v1.2 as Docker 20.10
// speaks it): request shapes as dockerd sends them (POST /<Interface>.<Method>, JSON), and the pure
// translations between them and vxnet's own requests. Nothing here does I/O.

export const CONTENT_TYPE = 'application/vnd.docker.plugins.v1.2+json';
// Address spaces of our own: a network created with Docker's default IPAM shows up with Docker's
// ("LocalDefault"/"GlobalDefault") and is refused, because per-host IPAM would hand out one address
// on two hosts.
export const LOCAL_SPACE = 'vxnet-local';
export const GLOBAL_SPACE = 'vxnet-global';
export const GATEWAY_REQUEST = 'com.docker.network.gateway';
export const NETWORK_OPTION = 'vxnet.network';

export interface IpamData {
  AddressSpace: string;
  Pool: string;
  Gateway?: string;
  AuxAddresses?: Record<string, string>;
}

export interface RequestPool {
  AddressSpace: string;
  Pool: string;
  SubPool: string;
  Options: Record<string, string> | null;
  V6: boolean;
}
export interface RequestAddress {
  PoolID: string;
  Address: string;
  Options: Record<string, string> | null;
}
export interface ReleaseAddress {
  PoolID: string;
  Address: string;
}
export interface CreateNetwork {
  NetworkID: string;
  Options: {
    'com.docker.network.enable_ipv6'?: boolean;
    'com.docker.network.generic'?: Record<string, string>;
    'com.docker.network.internal'?: boolean;
  } | null;
  IPv4Data: IpamData[] | null;
  IPv6Data: IpamData[] | null;
}
export interface CreateEndpoint {
  NetworkID: string;
  EndpointID: string;
  Interface: { Address: string; AddressIPv6: string; MacAddress: string } | null;
  Options: Record<string, unknown> | null;
}
export interface EndpointRef {
  NetworkID: string;
  EndpointID: string;
  SandboxKey?: string;
}

// A PoolID names the pool itself, so that every host (global scope: only one host ever saw the
// RequestPool) can find the vxnet network that owns it. ";" cannot occur in a CIDR.
export function poolId(pool: string, subPool: string): string {
  return `vxnet;${pool};${subPool}`;
}

export function parsePoolId(id: string): { pool: string; subPool: string } {
  const m = /^vxnet;([^;]+);([^;]*)$/.exec(id ?? '');
  if (!m) throw invalid(`pool ${id} was not issued by vxnet's IPAM driver`);
  return { pool: m[1], subPool: m[2] };
}

// "10.77.0.5/24" -> "10.77.0.5"; Docker sends gateway and aux addresses with the pool's prefix.
export function stripPrefix(a: string | undefined): string {
  return a ? canonicalAddress(addressOf(a)) : '';
}

export function withPrefix(address: string, pool: string): string {
  return `${canonicalAddress(address)}/${parseCidr(pool).prefix}`;
}

const DRIVER_OPTIONS: Record<string, string> = {
  [NETWORK_OPTION]: 'the vxnet network to use (created if missing)',
  [VXLANID_OPTION]: 'VXLAN id',
  vxlanid: 'VXLAN id',
  [MTU_OPTION]: 'MTU',
  mtu: 'MTU',
};

// `docker network create -o k=v ...` -> the vxnet network's name and a Create request for it.
export function createRequest(
  b: CreateNetwork,
  subPools: ReadonlyMap<string, string>,
): { name: string; req: CreateNetworkRequest__Output } {
  const generic = b.Options?.['com.docker.network.generic'] ?? {};
  for (const k of Object.keys(generic)) {
    if (!(k in DRIVER_OPTIONS))
      throw invalid(
        `unknown option "${k}": the vxnet driver knows ${Object.entries(DRIVER_OPTIONS)
          .map(([o, what]) => `${o} (${what})`)
          .join(', ')}`,
      );
  }
  const { [NETWORK_OPTION]: wanted, ...options } = generic;
  const name = wanted || `docker-${b.NetworkID.slice(0, 12)}`;
  const config = (
    d: IpamData,
  ): { subnet: string; ipRange: string; gateway: string; auxiliaryAddresses: Record<string, string> } => {
    if (d.AddressSpace !== LOCAL_SPACE && d.AddressSpace !== GLOBAL_SPACE) {
      throw invalid(
        "the vxnet driver needs the vxnet IPAM driver: add --ipam-driver vxnet (Docker's default IPAM hands out addresses per host, so two hosts would give out the same one)",
      );
    }
    return {
      subnet: d.Pool,
      ipRange: subPools.get(d.Pool) ?? '',
      gateway: stripPrefix(d.Gateway),
      auxiliaryAddresses: Object.fromEntries(Object.entries(d.AuxAddresses ?? {}).map(([k, v]) => [k, stripPrefix(v)])),
    };
  };
  const ipamConfig = [...(b.IPv4Data ?? []), ...(b.IPv6Data ?? [])].map(config);
  return {
    name,
    req: {
      name,
      driver: 'vxnet',
      ipamDriver: 'vxnet',
      ipamConfig,
      enableIpv6: !!b.Options?.['com.docker.network.enable_ipv6'],
      internal: !!b.Options?.['com.docker.network.internal'],
      attachable: true,
      labels: {},
      options,
      ipamOptions: {},
    },
  };
}

// The subnets (and gateways) an existing vxnet network must have for a Docker network to bind to it.
export function sameSubnets(
  have: { subnet: string; gateway: string }[],
  want: { subnet: string; gateway: string }[],
): string | undefined {
  const fmt = (l: { subnet: string; gateway: string }[]): string =>
    l
      .map((s) => s.subnet)
      .sort()
      .join(', ');
  const canon = (l: { subnet: string; gateway: string }[]): string[] => l.map((s) => parseCidr(s.subnet).text).sort();
  if (canon(have).join(',') !== canon(want).join(','))
    return `it has subnet ${fmt(have) || '(none)'}: create the Docker network with ${have.map((s) => `--subnet ${s.subnet}`).join(' ')}`;
  for (const w of want) {
    const h = have.find((s) => parseCidr(s.subnet).text === parseCidr(w.subnet).text);
    if (h && w.gateway && canonicalAddress(w.gateway) !== canonicalAddress(h.gateway))
      return `its gateway in ${h.subnet} is ${h.gateway}, not ${w.gateway}`;
  }
  return undefined;
}
