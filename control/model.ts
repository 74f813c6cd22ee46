// Records as they are stored in etcd (JSON values under /vxnet/v1/). These are the single source of
// truth shared by every agent; kernel state is derived from them and never the other way round.
import { addressOf } from './ipam';

export interface SubnetConfig {
  subnet: string; // canonical CIDR, e.g. "10.0.1.0/24" or "fd00:1::/64"
  gateway: string; // plain address, no prefix
  ipRange?: string; // canonical CIDR inside subnet: bounds dynamic allocation
  auxAddresses: Record<string, string>; // name -> address; never handed out
}

export interface NetworkRecord {
  id: string; // 64 hex chars
  name: string;
  created: string; // RFC 3339
  vni: number;
  mtu: number; // 0: derived per host from the underlay (underlay MTU - VXLAN overhead)
  ipv4: SubnetConfig[];
  ipv6: SubnetConfig[];
  enableIPv6: boolean;
  internal: boolean;
  attachable: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  ipamOptions: Record<string, string>;
}

export interface EndpointRecord {
  id: string; // 64 hex chars
  networkId: string;
  name: string;
  host: string; // host name of the agent that owns the veth
  sandbox: string; // netns path as given (resolved to an absolute path)
  ifname: string; // interface name inside the sandbox
  mac: string; // lower-case colon form
  ipv4: string; // address with prefix, "" if none
  ipv6: string;
  aliases: string[];
  created: string;
  // Integrations record their own identity so they can find the endpoint after an agent restart.
  cni?: { containerId: string; ifname: string };
  docker?: { networkId: string; endpointId: string };
  // The network namespace Connect opened (agent/sandbox-identity.ts): nothing is configured in,
  // repaired in or re-attached to a namespace with another identity under `sandbox`. Absent in
  // records written before it existed, and in Docker's (dockerd owns those sandboxes).
  netns?: NetnsIdentity;
}

// st_dev and st_ino of a network namespace's nsfs file. `hidden`: Connect reached the namespace
// through the runtime's mount namespace (CNI with a private /run/netns), so `sandbox` is not a
// path the agent can look at.
export interface NetnsIdentity {
  dev: number;
  ino: number;
  hidden?: true;
}

// A Docker network bound to a vxnet network (global scope: one for the cluster; local scope: one
// per host, all bound to the same vxnet network).
// An endpoint's addresses with their prefix ("10.0.0.2/24"), IPv4 first, none for a family it lacks.
export function addressesOf(ep: Pick<EndpointRecord, 'ipv4' | 'ipv6'>): string[] {
  return [ep.ipv4, ep.ipv6].filter((a) => a);
}

// The same without the prefix ("10.0.0.2"): what IPAM keys and neighbor entries hold.
export function plainAddressesOf(ep: Pick<EndpointRecord, 'ipv4' | 'ipv6'>): string[] {
  return addressesOf(ep).map(addressOf);
}

export interface DockerNetworkRecord {
  dockerId: string;
  networkId: string;
  host: string; // the host whose dockerd created it
  scope: 'local' | 'global';
}

// The label on vxnet networks that the Docker plugin created: the last Docker network bound to one
// takes it away.
export const CREATED_BY_DOCKER = 'com.vxnet.created-by';

// What an address key under ipam/ holds between Docker's RequestAddress and CreateEndpoint: the
// address is taken cluster-wide but no endpoint owns it yet.
export const reservationOf = (host: string): string => `reserved-by:${host}`;

export interface HostRecord {
  name: string;
  vtep: string; // underlay address
  vxlanPort: number;
  underlayMtu: number;
  version: string;
  started: string;
}

// Bytes VXLAN adds to every frame: outer Ethernet 14, outer IP (20 for IPv4, 40 for IPv6), UDP 8,
// VXLAN 8.
export function vxlanOverhead(vtepIsV6: boolean): number {
  return vtepIsV6 ? 70 : 50;
}

// The MTU every sandbox interface of a network gets on a host with this underlay MTU. The VTEP's
// family is required: an IPv6 VTEP costs 20 bytes more, and a default hid that once.
export function overlayMtu(net: Pick<NetworkRecord, 'mtu'>, underlayMtu: number, vtepIsV6: boolean): number {
  const derived = underlayMtu - vxlanOverhead(vtepIsV6);
  return net.mtu > 0 ? Math.min(net.mtu, derived) : derived;
}

export const VNI_MIN = 4096;
export const VNI_MAX = 16777215;
export const SCOPE = 'global';
export const DRIVER = 'overlay';
export const VXLANID_OPTION = 'com.docker.network.driver.overlay.vxlanid_list';
export const MTU_OPTION = 'com.docker.network.driver.mtu';

// A network's way out (`-o egress=...`): masquerade (the default, as Docker's bridge) translates
// traffic to destinations outside every vxnet network to its host's address; none drops it at the
// host. An internal network has none, whatever its options say.
export const EGRESS_OPTION = 'egress';
export const EGRESS_MODES = ['masquerade', 'none'] as const;
export type EgressMode = (typeof EGRESS_MODES)[number];
export function egressOf(net: Pick<NetworkRecord, 'internal' | 'options'>): EgressMode {
  return net.internal || net.options[EGRESS_OPTION] === 'none' ? 'none' : 'masquerade';
}
