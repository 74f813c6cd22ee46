import * as assert from 'assert';
import { computeDesired, Self } from '../../agent/desired';
import { diff } from '../../agent/diff';
import type { ActualNetwork, ActualState, ActualVeth } from '../../agent/dataplane/types';
import type { EndpointRecord, NetworkRecord } from '../../control/model';
import type { ClusterView } from '../../control/store/store';
import { epRecord, hostRecord as host, netRecord, snapshot as snap } from '../helpers/records';

const self: Self = { name: 'h1', vtep: '192.168.231.11', vxlanPort: 4789, underlayMtu: 1500 };

const net = (id: string, vni: number, subnet = '10.77.0.0/24', gateway = '10.77.0.1'): NetworkRecord =>
  netRecord(id, vni, subnet, { gateway });
// The id padded to 64 characters; the name and the sandbox keep the short one.
const ep = (id: string, networkId: string, host: string, ip: string, mac: string): EndpointRecord =>
  epRecord({ id: id.padEnd(64, '0'), name: id, networkId, host, ipv4: ip, mac });
const hosts = [host('h1', '192.168.231.11'), host('h2', '192.168.231.12'), host('h3', '192.168.231.13')];

describe('computeDesired (pure)', () => {
  const cases: { name: string; s: ClusterView; check: (d: ReturnType<typeof computeDesired>) => void }[] = [
    {
      name: 'a network without a local endpoint is not wanted here',
      s: snap([net('n1', 4097)], [ep('a', 'n1', 'h2', '10.77.0.2/24', '02:42:0a:4d:00:02')], hosts),
      check: (d) => assert.strictEqual(d.networks.size, 0),
    },
    {
      name: 'remote endpoints of a local network become FDB and neighbor entries',
      s: snap(
        [net('n1', 4097)],
        [
          ep('a', 'n1', 'h1', '10.77.0.2/24', '02:42:0a:4d:00:02'),
          ep('b', 'n1', 'h2', '10.77.0.3/24', '02:42:0a:4d:00:03'),
          ep('c', 'n1', 'h3', '10.77.0.4/24', '02:42:0a:4d:00:04'),
        ],
        hosts,
      ),
      check: (d) => {
        const n = d.networks.get(4097)!;
        assert.deepStrictEqual(
          [...n.fdb],
          [
            ['02:42:0a:4d:00:03', '192.168.231.12'],
            ['02:42:0a:4d:00:04', '192.168.231.13'],
          ],
        );
        assert.deepStrictEqual(
          [...n.neigh],
          [
            ['10.77.0.3', '02:42:0a:4d:00:03'],
            ['10.77.0.4', '02:42:0a:4d:00:04'],
          ],
        );
        assert.deepStrictEqual(n.gateways, ['10.77.0.1/24']);
        assert.strictEqual(n.mtu, 1450);
        assert.strictEqual(n.vxlan, 'vx-4097');
        assert.strictEqual(n.bridge, 'vxbr-4097');
        assert.strictEqual(n.local.length, 1);
      },
    },
    {
      name: 'endpoints of a host whose lease is gone are left out',
      s: snap(
        [net('n1', 4097)],
        [
          ep('a', 'n1', 'h1', '10.77.0.2/24', '02:42:0a:4d:00:02'),
          ep('b', 'n1', 'h9', '10.77.0.3/24', '02:42:0a:4d:00:03'),
        ],
        hosts,
      ),
      check: (d) => assert.strictEqual(d.networks.get(4097)!.fdb.size, 0),
    },
    {
      name: 'endpoints of another network never leak into this one',
      s: snap(
        [net('n1', 4097), net('n2', 4098, '10.78.0.0/24', '10.78.0.1')],
        [
          ep('a', 'n1', 'h1', '10.77.0.2/24', '02:42:0a:4d:00:02'),
          ep('b', 'n2', 'h2', '10.78.0.2/24', '02:42:0a:4e:00:02'),
        ],
        hosts,
      ),
      check: (d) => {
        assert.strictEqual(d.networks.size, 1);
        assert.strictEqual(d.networks.get(4097)!.fdb.size, 0);
      },
    },
    {
      name: 'an endpoint whose network is gone is ignored',
      s: snap([], [ep('a', 'gone', 'h1', '10.77.0.2/24', '02:42:0a:4d:00:02')], hosts),
      check: (d) => assert.strictEqual(d.networks.size, 0),
    },
  ];
  for (const t of cases) it(t.name, () => t.check(computeDesired(t.s, self)));
});

describe('diff (pure)', () => {
  const s = snap(
    [net('n1', 4097)],
    [
      ep('a', 'n1', 'h1', '10.77.0.2/24', '02:42:0a:4d:00:02'),
      ep('b', 'n1', 'h2', '10.77.0.3/24', '02:42:0a:4d:00:03'),
    ],
    hosts,
  );
  const desired = computeDesired(s, self);
  const vethA = `vxv${'a'.padEnd(64, '0').slice(0, 12)}`;
  const good = (): ActualNetwork => ({
    vni: 4097,
    vxlan: {
      index: 10,
      vni: 4097,
      local: self.vtep,
      port: 4789,
      learning: false,
      proxy: true,
      up: true,
      mtu: 1450,
      master: 11,
    },
    bridge: { index: 11, up: true, mtu: 1450, addresses: ['10.77.0.1/24'] },
    fdb: new Map([['02:42:0a:4d:00:03', '192.168.231.12']]),
    neigh: new Map([['10.77.0.3', '02:42:0a:4d:00:03']]),
  });
  // vethA as a quiet port of the bridge: no unknown unicast, its container's MAC static on it.
  const port = (over: Partial<ActualVeth> = {}): ActualVeth => ({
    index: 20,
    master: 11,
    flood: false,
    macs: new Set(['02:42:0a:4d:00:02']),
    ...over,
  });
  const actual = (
    n?: ActualNetwork,
    extra: [number, ActualNetwork][] = [],
    veths: [string, ActualVeth][] = [[vethA, port()]],
  ): ActualState => ({
    networks: new Map([...(n ? ([[4097, n]] as [number, ActualNetwork][]) : []), ...extra]),
    veths: new Map(veths),
  });
  const kinds = (ops: ReturnType<typeof diff>): string[] => ops.map((o) => o.kind);

  const cases: { name: string; a: ActualState; busy?: string[]; want: string[] }[] = [
    { name: 'nothing to do when the kernel matches', a: actual(good()), want: [] },
    {
      name: 'missing devices are created and every entry added',
      a: actual(undefined, [], [[vethA, port({ master: 0 })]]),
      want: ['ensureDevices', 'fdbAdd', 'neighAdd', 'attachPort'],
    },
    { name: 'a deleted FDB entry is re-added', a: actual({ ...good(), fdb: new Map() }), want: ['fdbAdd'] },
    {
      name: 'a changed neighbor entry is rewritten',
      a: actual({ ...good(), neigh: new Map([['10.77.0.3', '02:00:00:00:00:99']]) }),
      want: ['neighAdd'],
    },
    {
      name: 'a foreign FDB entry is removed',
      a: actual({
        ...good(),
        fdb: new Map([
          ['02:42:0a:4d:00:03', '192.168.231.12'],
          ['02:aa:00:00:00:01', '192.168.231.99'],
        ]),
      }),
      want: ['fdbDel'],
    },
    {
      name: 'an FDB entry pointing at an old VTEP is rewritten',
      a: actual({ ...good(), fdb: new Map([['02:42:0a:4d:00:03', '192.168.231.99']]) }),
      want: ['fdbAdd'],
    },
    {
      name: 'a vxlan device with learning on is replaced and refilled',
      a: actual({ ...good(), vxlan: { ...good().vxlan!, learning: true } }),
      want: ['ensureDevices', 'fdbAdd', 'neighAdd', 'attachPort'],
    },
    {
      name: 'a missing bridge address is repaired',
      a: actual({ ...good(), bridge: { ...good().bridge!, addresses: [] } }),
      want: ['ensureDevices', 'attachPort'],
    },
    {
      name: 'devices of a network no longer wanted here are removed',
      a: actual(good(), [[4999, { ...good(), vni: 4999 }]]),
      want: ['removeDevices'],
    },
    { name: 'a missing local veth is repaired', a: actual(good(), [], []), want: ['repairEndpoint'] },
    {
      name: 'a stale local veth is removed',
      a: actual(
        good(),
        [],
        [
          [vethA, port()],
          ['vxv0123456789ab', port({ index: 21 })],
        ],
      ),
      want: ['removeVeth'],
    },
    {
      name: 'a local port the bridge floods unknown unicast to is made quiet again',
      a: actual(good(), [], [[vethA, port({ flood: true })]]),
      want: ['attachPort'],
    },
    {
      name: "a local port without its container's static MAC gets it back",
      a: actual(good(), [], [[vethA, port({ macs: new Set(['02:00:00:00:00:99']) })]]),
      want: ['attachPort'],
    },
    {
      name: "a port's static entries unknown (no FDB dump) are not compared",
      a: actual(good(), [], [[vethA, port({ macs: undefined })]]),
      want: [],
    },
    {
      name: 'an endpoint being connected is left to its request',
      a: actual(good(), [], []),
      busy: ['a'.padEnd(64, '0')],
      want: [],
    },
  ];
  for (const t of cases) {
    it(t.name, () => assert.deepStrictEqual(kinds(diff(desired, t.a, self, new Set(t.busy ?? []))), t.want));
  }

  it("attaches a port again with its container's MAC and says why", () => {
    assert.deepStrictEqual(diff(desired, actual(good(), [], [[vethA, port({ flood: true })]]), self), [
      { kind: 'attachPort', vni: 4097, veth: vethA, mac: '02:42:0a:4d:00:02', reason: 'gets unknown unicast' },
    ]);
  });

  it('with the entries known in sync, compares devices and veths but not entries', () => {
    const drifted = actual({ ...good(), fdb: new Map(), bridge: { ...good().bridge!, addresses: [] } }, [], []);
    assert.deepStrictEqual(kinds(diff(desired, drifted, self, new Set(), new Set(), true)), [
      'ensureDevices',
      'repairEndpoint',
    ]);
  });

  it('with the entries known in sync, still refills a vxlan device that must be replaced', () => {
    const a = actual({ ...good(), vxlan: { ...good().vxlan!, learning: true } });
    assert.deepStrictEqual(kinds(diff(desired, a, self, new Set(), new Set(), true)), [
      'ensureDevices',
      'fdbAdd',
      'neighAdd',
      'attachPort',
    ]);
  });

  it('is idempotent: applying the ops to the actual state leaves nothing to do', () => {
    const a = actual({ ...good(), fdb: new Map([['02:aa:00:00:00:01', '1.1.1.1']]), neigh: new Map() });
    const ops = diff(desired, a, self);
    const n = a.networks.get(4097)!;
    for (const op of ops) {
      if (op.kind === 'fdbAdd') op.entries.forEach((e) => n.fdb.set(e.mac, e.dst));
      if (op.kind === 'fdbDel') op.entries.forEach((e) => n.fdb.delete(e.mac));
      if (op.kind === 'neighAdd') op.entries.forEach((e) => n.neigh.set(e.ip, e.mac));
      if (op.kind === 'neighDel') op.entries.forEach((e) => n.neigh.delete(e.ip));
    }
    assert.deepStrictEqual(diff(desired, a, self), []);
  });
});
