// The one place that knows the key layout under /vxnet/v1/. Nothing else builds key strings.
export const PREFIX = '/vxnet/v1/';

export const keys = {
  all: PREFIX,
  networks: `${PREFIX}networks/`,
  network: (id: string): string => `${PREFIX}networks/${id}`,
  name: (name: string): string => `${PREFIX}names/${name}`,
  vni: (vni: number): string => `${PREFIX}vnis/${vni}`,
  ipamOf: (netId: string): string => `${PREFIX}ipam/${netId}/`,
  ipam: (netId: string, ip: string): string => `${PREFIX}ipam/${netId}/${ip}`,
  endpointsAll: `${PREFIX}endpoints/`,
  endpointsOf: (netId: string): string => `${PREFIX}endpoints/${netId}/`,
  endpoint: (netId: string, epId: string): string => `${PREFIX}endpoints/${netId}/${epId}`,
  epNamesOf: (netId: string): string => `${PREFIX}epnames/${netId}/`,
  epName: (netId: string, name: string): string => `${PREFIX}epnames/${netId}/${name}`,
  hosts: `${PREFIX}hosts/`,
  host: (name: string): string => `${PREFIX}hosts/${name}`,
  // Present while the host's agent holds its lease: says the agent reaches etcd, not that its
  // containers are unreachable, so peers never drop a host's entries for its absence.
  aliveAll: `${PREFIX}alive/`,
  alive: (name: string): string => `${PREFIX}alive/${name}`,
  // When a peer first saw a host without its lease: the clock behind `host ls` and dead_host_timeout.
  downAll: `${PREFIX}down/`,
  down: (name: string): string => `${PREFIX}down/${name}`,
  reconciledAll: `${PREFIX}reconciled/`,
  reconciled: (name: string): string => `${PREFIX}reconciled/${name}`,
  // Addresses Docker's IPAM reserved on a host and no endpoint owns yet (an index for clean-up).
  reservationsOf: (host: string): string => `${PREFIX}reservations/${host}/`,
  reservation: (host: string, netId: string, ip: string): string => `${PREFIX}reservations/${host}/${netId}/${ip}`,
  // Docker's network IDs (one per cluster in global scope, one per host in local scope) -> vxnet's.
  dockerNetworks: `${PREFIX}docker/networks/`,
  dockerNetwork: (dockerId: string): string => `${PREFIX}docker/networks/${dockerId}`,
};

export type ParsedKey =
  | { kind: 'network'; id: string }
  | { kind: 'endpoint'; networkId: string; id: string }
  | { kind: 'host'; name: string }
  | { kind: 'reconciled'; name: string }
  | { kind: 'alive'; name: string }
  | { kind: 'down'; name: string }
  | { kind: 'other' };

const OTHER: ParsedKey = { kind: 'other' };

// Once per watched key (tens of thousands in a bulk change): found by position, not split into an
// array of parts.
export function parseKey(key: string): ParsedKey {
  if (!key.startsWith(PREFIX)) return OTHER;
  const p = PREFIX.length;
  const slash = key.indexOf('/', p);
  if (slash < 0) return OTHER;
  const rest = slash + 1;
  const last = key.indexOf('/', rest);
  const kind = slash - p;
  if (kind === 9 && key.startsWith('endpoints', p)) {
    if (last < 0 || key.indexOf('/', last + 1) >= 0) return OTHER;
    return { kind: 'endpoint', networkId: key.slice(rest, last), id: key.slice(last + 1) };
  }
  if (last >= 0) return OTHER;
  if (kind === 8 && key.startsWith('networks', p)) return { kind: 'network', id: key.slice(rest) };
  if (kind === 5 && key.startsWith('hosts', p)) return { kind: 'host', name: key.slice(rest) };
  if (kind === 10 && key.startsWith('reconciled', p)) return { kind: 'reconciled', name: key.slice(rest) };
  if (kind === 5 && key.startsWith('alive', p)) return { kind: 'alive', name: key.slice(rest) };
  if (kind === 4 && key.startsWith('down', p)) return { kind: 'down', name: key.slice(rest) };
  return OTHER;
}

// etcd's "every key with this prefix" range end: the prefix with its last byte incremented.
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] < 0xff) {
      b[i]++;
      return b.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
