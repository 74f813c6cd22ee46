// `vxnet network create`'s flags -> the CreateNetworkRequest, checked as Docker's client checks them.
import type { CreateNetworkRequest } from '../control/generated/vxnet/v1/CreateNetworkRequest';
import { contains, overlaps, parseAddress, parseCidr, type Cidr } from '../control/ipam';
import { bool, exactArgs, keyValues, list, parseArgs, Parsed, str, UsageError } from './args';
import { CREATE_FLAGS } from './network-usage';

// Docker's client-side pairing (cli/command/network/create.go): every gateway, range and aux
// address goes to each subnet that contains it; none containing it is an error, and so are two
// gateways or ranges for one subnet and overlapping subnets. The agent validates the rest.
export function buildCreateRequest(p: Parsed): CreateNetworkRequest {
  exactArgs(p, 1, 'vxnet network create');
  const scope = str(p, 'scope');
  if (scope && scope !== 'global' && scope !== 'swarm')
    throw new UsageError(`scope ${scope} is not supported: vxnet networks are global`, 1, false);
  const subnets = list(p, 'subnet');
  const ranges = list(p, 'ip-range');
  const gateways = list(p, 'gateway');
  if (subnets.length < ranges.length || subnets.length < gateways.length)
    throw new UsageError('every ip-range or gateway must have a corresponding subnet', 1, false);
  const parsed: Cidr[] = subnets.map((s) => {
    try {
      return parseCidr(s);
    } catch {
      throw new UsageError(`invalid subnet: invalid CIDR address: ${s}`, 1, false);
    }
  });
  parsed.forEach((a, i) =>
    parsed.slice(0, i).forEach((b) => {
      if (overlaps(a, b)) throw new UsageError('multiple overlapping subnet configuration is not supported', 1, false);
    }),
  );
  const configs: { subnet: string; ipRange: string; gateway: string; auxiliaryAddresses: Record<string, string> }[] =
    subnets.map((subnet) => ({ subnet, ipRange: '', gateway: '', auxiliaryAddresses: {} }));
  // As Go's subnetMatches: a CIDR matches by its first address; an unparsable value matches nothing.
  const holders = (value: string): number[] => {
    let ip: { v6: boolean; value: bigint } | undefined;
    try {
      if (value.includes('/')) {
        const c = parseCidr(value, 'range');
        ip = { v6: c.v6, value: c.network };
      } else {
        ip = parseAddress(value);
      }
    } catch {
      if (value.includes('/')) throw new UsageError(`invalid CIDR address: ${value}`, 1, false);
    }
    return ip ? parsed.flatMap((c, i) => (contains(c, ip.value, ip.v6) ? [i] : [])) : [];
  };
  for (const r of ranges) {
    const at = holders(r);
    if (!at.length) throw new UsageError(`no matching subnet for range ${r}`, 1, false);
    for (const i of at) {
      if (configs[i].ipRange)
        throw new UsageError(
          `cannot configure multiple ranges (${r}, ${configs[i].ipRange}) on the same subnet (${subnets[i]})`,
          1,
          false,
        );
      configs[i].ipRange = r;
    }
  }
  for (const g of gateways) {
    const at = holders(g);
    if (!at.length) throw new UsageError(`no matching subnet for gateway ${g}`, 1, false);
    for (const i of at) {
      if (configs[i].gateway)
        throw new UsageError(
          `cannot configure multiple gateways (${g}, ${configs[i].gateway}) for the same subnet (${subnets[i]})`,
          1,
          false,
        );
      configs[i].gateway = g;
    }
  }
  for (const [k, v] of Object.entries(keyValues(list(p, 'aux-address'), 'aux-address', true))) {
    const at = holders(v);
    if (!at.length) throw new UsageError(`no matching subnet for aux-address ${v}`, 1, false);
    for (const i of at) configs[i].auxiliaryAddresses[k] = v;
  }
  return {
    name: p.args[0],
    driver: str(p, 'driver'),
    ipamDriver: str(p, 'ipam-driver'),
    // Empty fields stay out of the request, so that the agent picks defaults.
    ipamConfig: configs.map((c) => ({
      subnet: c.subnet,
      ...(c.ipRange ? { ipRange: c.ipRange } : {}),
      ...(c.gateway ? { gateway: c.gateway } : {}),
      auxiliaryAddresses: c.auxiliaryAddresses,
    })),
    enableIpv6: bool(p, 'ipv6'),
    internal: bool(p, 'internal'),
    attachable: bool(p, 'attachable'),
    labels: keyValues(list(p, 'label'), 'label'),
    options: keyValues(list(p, 'opt'), 'option'),
    ipamOptions: keyValues(list(p, 'ipam-opt'), 'IPAM option'),
  };
}

// `vxnet network create ...` arguments (after "create") -> the request.
export function parseCreate(argv: string[]): CreateNetworkRequest {
  return buildCreateRequest(parseArgs(argv, CREATE_FLAGS));
}
