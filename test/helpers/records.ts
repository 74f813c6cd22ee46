// Record factories for unit tests: networks, endpoints and hosts as etcd holds them, the view
// (ClusterView) and its endpoint table built from them, and hex buffers for netlink messages. Each
// factory fills what a test does not care about; a test passes only the fields it asserts on, so
// that a change to a record's shape is made here once.
import type { EndpointRecord, HostRecord, NetworkRecord } from '../../control/model';
import type { ClusterView } from '../../control/store/store';
import { EndpointTable } from '../../control/store/endpoint-table';

// The gateway Docker picks: the subnet's first address ("10.1.0.0/24" -> "10.1.0.1").
const firstAddress = (subnet: string): string => subnet.replace(/\.0\/\d+$/, '.1');

// One IPv4 subnet; `gateway` defaults to its first address ('' for none), anything else in `over`
// replaces the default field.
export function netRecord(
  id: string,
  vni: number,
  subnet: string,
  over: Partial<NetworkRecord> & { gateway?: string } = {},
): NetworkRecord {
  const { gateway = firstAddress(subnet), ...fields } = over;
  return {
    id,
    name: id,
    created: '',
    vni,
    mtu: 0,
    ipv4: [{ subnet, gateway, auxAddresses: {} }],
    ipv6: [],
    enableIPv6: false,
    internal: false,
    attachable: false,
    labels: {},
    options: {},
    ipamOptions: {},
    ...fields,
  };
}

export function hostRecord(name: string, vtep: string): HostRecord {
  return { name, vtep, vxlanPort: 4789, underlayMtu: 1500, version: 'test', started: '' };
}

// `name` defaults to the id and `sandbox` to /run/netns/<name>; no address unless given. Every
// field in `o` is taken as given, an explicit `undefined` included.
export function epRecord(
  o: Partial<EndpointRecord> & Pick<EndpointRecord, 'id' | 'networkId' | 'host'>,
): EndpointRecord {
  const name = o.name ?? o.id;
  const { id, networkId, host, ...rest } = o;
  return {
    id,
    networkId,
    name,
    host,
    sandbox: `/run/netns/${name}`,
    ifname: 'eth0',
    mac: '02:42:00:00:00:01',
    ipv4: '',
    ipv6: '',
    aliases: [],
    created: '',
    ...rest,
  };
}

// 1, 2, 3, ... through `format`: ids and MACs that stay distinct across a file's tests. Declared
// at module level, a sequence runs on from one test to the next, as the tests expect.
export function sequence<T>(format: (n: number) => T): () => T {
  let n = 0;
  return () => format(++n);
}

export function endpointTable(endpoints: Iterable<EndpointRecord> = []): EndpointTable {
  const t = new EndpointTable();
  for (const e of endpoints) t.set(e.id, e);
  return t;
}

// The view as the store's snapshot gives it, in the order given.
export function snapshot(
  networks: Iterable<NetworkRecord> = [],
  endpoints: Iterable<EndpointRecord> = [],
  hosts: Iterable<HostRecord> = [],
  revision = 1,
): ClusterView {
  const hostList = [...hosts];
  return {
    revision,
    networks: new Map([...networks].map((n) => [n.id, n])),
    endpoints: endpointTable(endpoints),
    hosts: new Map(hostList.map((h) => [h.name, h])),
    reconciled: new Map(),
    alive: new Map(hostList.map((h) => [h.name, '2026-01-01T00:00:00.000Z'])),
    down: new Map(),
  };
}

// Bytes written as hex, with any whitespace for layout: "0800 0100 0a000001".
export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Deterministic: a failure names its seed. `mix` spreads small seeds over the state first; a file
// that seeded the plain generator keeps `mix: false`, so that each seed draws what it drew before.
export function rng(seed: number, opts: { mix?: boolean } = {}): () => number {
  let x = opts.mix === false ? seed : (seed * 2654435761) >>> 0;
  return () => (x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32;
}
