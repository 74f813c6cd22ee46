import * as assert from 'assert';
import { computeDesired, patchDesired, Self } from '../../agent/desired';
import type { DesiredState, EndpointChange } from '../../agent/desired';
import { deltaOps } from '../../agent/diff';
import type { ActualState } from '../../agent/dataplane/types';
import type { EndpointRecord, NetworkRecord } from '../../control/model';
import { epRecord, hostRecord as host, netRecord, rng as seeded, sequence, snapshot } from '../helpers/records';

const self: Self = { name: 'h1', vtep: '192.168.231.11', vxlanPort: 4789, underlayMtu: 1500 };

const net = (id: string, vni: number): NetworkRecord => netRecord(id, vni, '10.9.0.0/16');
const nextId = sequence((n) => `e${String(n).padStart(63, '0')}`);
const ep = (networkId: string, hostName: string, mac: string, ip: string): EndpointRecord =>
  epRecord({ id: nextId(), networkId, host: hostName, mac, ipv4: `${ip}/16` });
// The plain generator: each seed draws the views it always drew.
const rng = (seed: number): (() => number) => seeded(seed, { mix: false });
const plain = (d: DesiredState): unknown =>
  [...d.networks].map(([vni, n]) => [vni, [...n.fdb].sort(), [...n.neigh].sort(), n.local.map((e) => e.id)]);

describe('patchDesired (a reconcile patching its last desired state with remote endpoints coming and going)', () => {
  let patched = 0;
  let patchedRemovals = 0;
  after(() =>
    assert.ok(
      patched >= 20 && patchedRemovals >= 10,
      `${patched} of 60 seeds patchable, ${patchedRemovals} with a removal in a served network: the test no longer tests the patch`,
    ),
  );
  for (let seed = 1; seed <= 60; seed++) {
    it(`equals computeDesired after random new and removed endpoints, or declines (seed ${seed})`, () => {
      const r = rng(seed);
      const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
      // h4 is not registered (no lease): its endpoints give no entries; h5 shares this host's VTEP.
      const snap = snapshot(
        [net('a', 100), net('b', 200), net('c', 300)],
        [],
        [host('h1', self.vtep), host('h2', '192.168.231.12'), host('h3', '192.168.231.13'), host('h5', self.vtep)],
      );
      const add = (e: EndpointRecord): EndpointRecord => (snap.endpoints.set(e.id, e), e);
      add(ep('a', 'h1', '02:00:00:00:00:01', '10.9.0.2'));
      add(ep('b', 'h1', '02:00:00:00:00:02', '10.9.0.3')); // c has no local endpoint: not served
      // Few MACs and addresses, so that new endpoints share them with old ones and with each other.
      const macs = Array.from({ length: 16 }, (_, i) => `02:00:00:00:01:${i.toString(16).padStart(2, '0')}`);
      const ips = Array.from({ length: 16 }, (_, i) => `10.9.1.${i + 2}`);
      for (let i = 0; i < 8; i++) add(ep(pick(['a', 'b', 'c']), pick(['h2', 'h3', 'h4', 'h5']), pick(macs), pick(ips)));
      const desired = computeDesired(snap, self);
      const changes: EndpointChange[] = [];
      const remote = (): EndpointRecord[] => [...snap.endpoints.values()].filter((e) => e.host !== 'h1');
      for (let i = 0; i < 12; i++) {
        if (r() < 0.4 && remote().length) {
          const gone = pick(remote());
          snap.endpoints.delete(gone.id);
          changes.push({ ep: gone, kind: 'deleted' });
        } else
          changes.push({
            ep: add(ep(pick(['a', 'b', 'c', 'gone']), pick(['h2', 'h3', 'h4', 'h5']), pick(macs), pick(ips))),
            kind: 'created',
          });
      }
      const before = JSON.stringify(plain(desired));
      const delta = patchDesired(desired, snap, self, changes);
      if (!delta) {
        // Declined (a removed MAC or address still held by another endpoint): untouched.
        assert.strictEqual(JSON.stringify(plain(desired)), before);
        return;
      }
      patched++;
      if (changes.some((c) => c.kind === 'deleted' && c.ep.networkId !== 'c')) patchedRemovals++;
      assert.deepStrictEqual(plain(desired), plain(computeDesired(snap, self)));
      // What it reports is what the patched state holds (added) or no longer holds (removed).
      for (const [vni, d] of delta) {
        for (const [mac, dst] of d.added.fdb) assert.strictEqual(desired.networks.get(vni)!.fdb.get(mac), dst);
        for (const mac of d.removed.fdb) assert.ok(!desired.networks.get(vni)!.fdb.has(mac));
        for (const ip of d.removed.neigh) assert.ok(!desired.networks.get(vni)!.neigh.has(ip));
      }
    });
  }

  it('answers undefined, leaving the state untouched, for a change it cannot patch', () => {
    const snap = snapshot([net('a', 100), net('c', 300)], [], [host('h1', self.vtep), host('h2', '192.168.231.12')]);
    const local = ep('a', 'h1', '02:00:00:00:00:01', '10.9.0.2');
    const remote = ep('a', 'h2', '02:00:00:00:00:02', '10.9.0.3');
    const elsewhere = ep('c', 'h2', '02:00:00:00:00:03', '10.9.0.4');
    for (const e of [local, remote, elsewhere]) snap.endpoints.set(e.id, e);
    const desired = computeDesired(snap, self);
    const before = JSON.stringify(plain(desired));
    const fresh = ep('a', 'h2', '02:00:00:00:00:09', '10.9.0.9');
    const twin = ep('a', 'h2', remote.mac, '10.9.0.8'); // shares remote's MAC
    snap.endpoints.set(twin.id, twin);
    snap.endpoints.delete(remote.id);
    for (const changes of [
      [
        { ep: fresh, kind: 'created' as const },
        { ep: ep('a', 'h1', '02:00:00:00:00:05', '10.9.0.5'), kind: 'created' as const },
      ], // this host's own
      [
        { ep: fresh, kind: 'created' as const },
        { ep: remote, kind: 'deleted' as const },
      ], // its MAC is still twin's
      [{ ep: twin, kind: 'updated' as const }],
    ]) {
      assert.strictEqual(patchDesired(desired, snap, self, changes), undefined);
      assert.strictEqual(JSON.stringify(plain(desired)), before);
    }
    // In a network this host does not serve, removals and updates change nothing here.
    assert.deepStrictEqual(
      patchDesired(desired, snap, self, [
        { ep: elsewhere, kind: 'deleted' },
        { ep: elsewhere, kind: 'updated' },
      ]),
      new Map(),
    );
  });

  it('deltaOps: removes what the kernel holds, adds what it does not hold yet', () => {
    const actual: ActualState = {
      networks: new Map([
        [
          100,
          {
            vni: 100,
            fdb: new Map([
              ['02:00:00:00:00:02', '192.168.231.12'],
              ['02:00:00:00:00:03', '192.168.231.12'],
            ]),
            neigh: new Map([
              ['10.9.0.3', '02:00:00:00:00:02'],
              ['10.9.0.4', '02:00:00:00:00:03'],
            ]),
          },
        ],
      ]),
      veths: new Map(),
    };
    const ops = deltaOps(
      new Map([
        [
          100,
          {
            added: {
              fdb: new Map([
                ['02:00:00:00:00:02', '192.168.231.12'],
                ['02:00:00:00:00:07', '192.168.231.13'],
              ]),
              neigh: new Map([
                ['10.9.0.3', '02:00:00:00:00:02'],
                ['10.9.0.7', '02:00:00:00:00:07'],
              ]),
            },
            removed: {
              fdb: new Set(['02:00:00:00:00:03', '02:00:00:00:00:09']),
              neigh: new Set(['10.9.0.4', '10.9.0.9']),
            },
          },
        ],
      ]),
      actual,
    );
    assert.deepStrictEqual(ops, [
      { kind: 'fdbDel', vni: 100, entries: [{ mac: '02:00:00:00:00:03', dst: '192.168.231.12' }] },
      { kind: 'neighDel', vni: 100, entries: [{ ip: '10.9.0.4', mac: '02:00:00:00:00:03' }] },
      { kind: 'fdbAdd', vni: 100, entries: [{ mac: '02:00:00:00:00:07', dst: '192.168.231.13' }] },
      { kind: 'neighAdd', vni: 100, entries: [{ ip: '10.9.0.7', mac: '02:00:00:00:00:07' }] },
    ]);
  });
});
