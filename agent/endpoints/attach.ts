import { exhausted } from '../../control/errors';
import type { VxError } from '../../control/errors';
import { addressesOf } from '../../control/model';
import type { EndpointRecord, NetworkRecord } from '../../control/model';
import type { Attachment } from '../dataplane/types';
import { gatewaysOf, networkMtu } from '../desired';
import type { Self } from '../desired';
import { bridgeName, hostVethName } from '../names';

// An endpoint's veth into its sandbox (Connect, and the re-attach of a deleted veth), with a default
// route via the network's gateway in each family the endpoint has an address of and the sandbox,
// by `lacksRoute`, no route: asked only then, since a look inside a sandbox costs a namespace switch.
export async function attachmentOf(
  self: Pick<Self, 'vtep' | 'underlayMtu'>,
  net: NetworkRecord,
  ep: EndpointRecord,
  at: Pick<Attachment, 'bridgeIndex' | 'sandbox' | 'netns'>,
  lacksRoute: (family: 4 | 6) => boolean | Promise<boolean>,
): Promise<Attachment> {
  const gw = gatewaysOf(net);
  const a: Attachment = {
    ...at,
    hostVeth: hostVethName(ep.id),
    ifname: ep.ifname,
    mac: ep.mac,
    mtu: networkMtu(net, self),
    bridge: bridgeName(net.vni),
    addresses: addressesOf(ep),
  };
  if (!net.internal && ep.ipv4 && gw.v4 && (await lacksRoute(4))) a.gateway4 = gw.v4;
  if (!net.internal && ep.ipv6 && gw.v6 && (await lacksRoute(6))) a.gateway6 = gw.v6;
  return a;
}

// The kernel's "no port left on the bridge" as the API says it: what is exhausted and what to do.
export function bridgeFull(net: NetworkRecord, host: string): VxError {
  return exhausted(
    `network ${net.name} has no room left on host ${host}: its bridge takes at most 1,023 ports, its VXLAN device and 1,022 endpoints; connect this one on another host or to another network`,
  );
}
