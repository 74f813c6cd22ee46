import type { Network__Output } from '../control/generated/vxnet/v1/Network';

// Docker's `network inspect` object, field for field, plus where each endpoint lives.
export function inspectJson(n: Network__Output): Record<string, unknown> {
  const containers: Record<string, unknown> = {};
  for (const e of n.endpoints) {
    containers[e.endpointId] = {
      Name: e.name,
      EndpointID: e.endpointId,
      MacAddress: e.macAddress,
      IPv4Address: e.ipv4Address,
      IPv6Address: e.ipv6Address,
      Host: e.host,
      Sandbox: e.sandbox,
      InterfaceName: e.interfaceName,
      ...(e.aliases.length ? { Aliases: e.aliases } : {}),
    };
  }
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: n.scope,
    Driver: n.driver,
    EnableIPv6: n.enableIpv6,
    IPAM: {
      Driver: n.ipam?.driver ?? 'default',
      Options: n.ipam?.options ?? {},
      Config: (n.ipam?.config ?? []).map((c) => ({
        Subnet: c.subnet,
        ...(c.ipRange ? { IPRange: c.ipRange } : {}),
        Gateway: c.gateway,
        ...(Object.keys(c.auxiliaryAddresses).length ? { AuxiliaryAddresses: c.auxiliaryAddresses } : {}),
      })),
    },
    Internal: n.internal,
    Attachable: n.attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: n.options,
    Labels: n.labels,
  };
}

function labelsText(labels: Record<string, string>): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(',');
}

export const LS_HEADERS: Record<string, string> = { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', CreatedAt: 'CREATED AT' };
export const LS_DEFAULT = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';

// One `network ls` row: Docker's fields, with .Label "k" as a method.
export function lsRow(n: Network__Output, noTrunc: boolean): Record<string, unknown> {
  return {
    ID: noTrunc ? n.id : n.id.slice(0, 12),
    Name: n.name,
    Driver: n.driver,
    Scope: n.scope,
    IPv6: n.enableIpv6,
    Internal: n.internal,
    Labels: labelsText(n.labels),
    CreatedAt: n.created,
    Label: (k: string) => n.labels[k] ?? '',
  };
}
