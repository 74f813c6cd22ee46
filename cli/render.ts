import type { Network__Output } from '../control/generated/vxnet/v1/Network';
import type { Endpoint__Output } from '../control/generated/vxnet/v1/Endpoint';
import type { IPAMConfig__Output } from '../control/generated/vxnet/v1/IPAMConfig';
import { goAlias, goMap, goStruct, goTimeString, GoTime } from './format';

// Docker's `network inspect` object, field for field (Docker's order and omitempty), plus where
// each endpoint lives (Host, Sandbox, InterfaceName): what `inspect` prints as JSON.
export function inspectJson(n: Network__Output): Record<string, unknown> {
  return JSON.parse(JSON.stringify(inspectDot(n))) as Record<string, unknown>;
}

// The same object as a --format template sees it. Docker runs inspect templates on its Go structs,
// so fields left out of the JSON when empty still read as empty, maps print as map[k:v], Created
// prints as a Go time, and the Go field names (ID, AuxAddress) work besides the JSON ones.
export function inspectDot(n: Network__Output): Record<string, unknown> {
  const containers = goMap<Record<string, unknown>>({});
  for (const e of n.endpoints) containers[e.endpointId] = endpointDot(e);
  const dot = goStruct({
    Name: n.name,
    Id: n.id,
    Created: new GoTime(n.created),
    Scope: n.scope,
    Driver: n.driver,
    EnableIPv6: n.enableIpv6,
    IPAM: goStruct({
      Driver: n.ipam?.driver || 'default',
      Options: goMap({ ...(n.ipam?.options ?? {}) }),
      Config: (n.ipam?.config ?? []).map(ipamConfigDot),
    }),
    Internal: n.internal,
    Attachable: n.attachable,
    Ingress: false,
    ConfigFrom: goStruct({ Network: '' }),
    ConfigOnly: false,
    Containers: containers,
    Options: goMap({ ...n.options }),
    Labels: goMap({ ...n.labels }),
    // Only when etcd did not answer: the agent's view, with its age (not a Docker field).
    ...(n.stale ? { Stale: n.stale } : {}),
  });
  return goAlias(dot, 'ID', n.id);
}

function ipamConfigDot(c: IPAMConfig__Output): Record<string, unknown> {
  const aux = goMap({ ...c.auxiliaryAddresses });
  const dot = goStruct({ Subnet: c.subnet, IPRange: c.ipRange, Gateway: c.gateway, AuxiliaryAddresses: aux }, [
    'IPRange',
    'Gateway',
    'AuxiliaryAddresses',
  ]);
  return goAlias(dot, 'AuxAddress', aux);
}

function endpointDot(e: Endpoint__Output): Record<string, unknown> {
  return goStruct(
    {
      Name: e.name,
      EndpointID: e.endpointId,
      MacAddress: e.macAddress,
      IPv4Address: e.ipv4Address,
      IPv6Address: e.ipv6Address,
      Host: e.host,
      Sandbox: e.sandbox,
      InterfaceName: e.interfaceName,
      Aliases: [...e.aliases],
      DockerNetworkID: e.dockerNetworkId,
      DockerEndpointID: e.dockerEndpointId,
      CNIContainerID: e.cniContainerId,
    },
    ['Aliases', 'DockerNetworkID', 'DockerEndpointID', 'CNIContainerID'],
  );
}

// Docker prints labels in map order (random); sorted is stabler for scripts and equal otherwise.
export function labelsText(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

export const LS_HEADERS: Record<string, string> = {
  ID: 'NETWORK ID',
  Name: 'NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  IPv6: 'IPV6',
  Internal: 'INTERNAL',
  Labels: 'LABELS',
  CreatedAt: 'CREATED AT',
};
export const LS_DEFAULT = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';

// One `network ls` row as Docker's network context has it: every field a string (IPv6 and Internal
// are "true"/"false", CreatedAt a Go time string), keys in the order `{{json .}}` prints them, and
// .Label "k" as a method, which JSON leaves out.
export function lsRow(n: Network__Output, noTrunc: boolean): Record<string, unknown> {
  return goStruct({
    CreatedAt: goTimeString(n.created),
    Driver: n.driver,
    ID: noTrunc ? n.id : n.id.slice(0, 12),
    IPv6: String(n.enableIpv6),
    Internal: String(n.internal),
    Labels: labelsText(n.labels),
    Name: n.name,
    Scope: n.scope,
    Label: (k: unknown) => n.labels[String(k)] ?? '',
  });
}

// Docker sorts `network ls` by name in natural order ("net2" before "net10").
export function naturalLess(a: string, b: string): number {
  const ta = a.match(/\d+|\D+/g) ?? [];
  const tb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ta.length, tb.length); i++) {
    const x = ta[i];
    const y = tb[i];
    if (x === y) continue;
    if (/^\d/.test(x) && /^\d/.test(y)) {
      const d = BigInt(x) - BigInt(y);
      if (d !== 0n) return d < 0n ? -1 : 1;
      return x.length - y.length; // "01" after "1"
    }
    return x < y ? -1 : 1;
  }
  return ta.length - tb.length;
}
