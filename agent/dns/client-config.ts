import type { NetworkRecord } from '../../control/model';
import { gatewaysOf } from '../desired';

export interface ClientDns {
  nameservers: string[];
  search: string[];
  options: string[];
}

// Pure: what a container on `net` should have in its resolv.conf. The gateway is on its own host's
// bridge (anycast), also on an internal network, where it is reached on the link. `ndots:1`: a
// name with a dot is tried as it is first (Kubernetes' ndots:5 sends every external lookup through
// the search list); `timeout:1 attempts:3`: a lost datagram costs a second, not glibc's five.
export function dnsOf(net: Pick<NetworkRecord, 'name' | 'ipv4' | 'ipv6'>, domain: string): ClientDns {
  const gw = gatewaysOf(net);
  return {
    nameservers: [gw.v4, gw.v6].filter((g): g is string => !!g),
    search: [`${net.name.toLowerCase()}.${domain}`, domain],
    options: ['ndots:1', 'timeout:1', 'attempts:3'],
  };
}
