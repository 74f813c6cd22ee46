import * as assert from 'assert';
import { ClusterState } from '../../agent/view';
import { Reconciler } from '../../agent/reconciler';
import { EndpointService } from '../../agent/endpoints/service';
import { computeDesired } from '../../agent/desired';
import type { Self } from '../../agent/desired';
import { diff } from '../../agent/diff';
import { describe as describeOp } from '../../agent/ops';
import { hostVethName } from '../../agent/names';
import type { EndpointRecord } from '../../control/model';
import type { Store } from '../../control/store/store';
import type { NetworkService } from '../../control/networks';
import { FakeEtcd, FakeKernel, quietLog, jitter, connectRequest } from '../helpers/fakes';
import { epRecord, hostRecord, netRecord, rng, sequence, snapshot } from '../helpers/records';

const self: Self = { name: 'h1', vtep: '192.168.231.11', vxlanPort: 4789, underlayMtu: 1500 };
const HOUR = 3_600_000;

interface Rig {
  etcd: FakeEtcd;
  kernel: FakeKernel;
  state: ClusterState;
  rec: Reconciler;
  svc: EndpointService;
}

async function rig(r: (() => number) | undefined, resyncMs = HOUR): Promise<Rig> {
  const etcd = new FakeEtcd(r);
  for (const h of [hostRecord('h1', self.vtep), hostRecord('h2', '192.168.231.12'), hostRecord('h3', '192.168.231.13')])
    etcd.addHost(h);
  etcd.addNetwork(netRecord('n1', 100, '10.1.0.0/24'));
  etcd.addNetwork(netRecord('n2', 200, '10.2.0.0/24'));
  const store = etcd.asStore() as Store;
  const kernel = new FakeKernel(self.vtep, r);
  const state = new ClusterState(store, self.name, quietLog);
  const networks = { resolve: () => Promise.reject(new Error('not in this fake')) } as unknown as NetworkService;
  const late: { rec?: Reconciler } = {}; // the service and the reconciler know each other
  const svc = new EndpointService(store, networks, state, kernel, kernel, self, quietLog, (op) =>
    late.rec?.settled(op),
  );
  const rec = (late.rec = new Reconciler(state, kernel, self, svc, quietLog, resyncMs));
  await state.start();
  rec.start();
  return { etcd, kernel, state, rec, svc };
}

// Every event delivered and no run under way or asked for, twice in a row.
async function quiet(x: Rig): Promise<void> {
  const busy = (): boolean => (x.rec as unknown as { busy: boolean }).busy;
  let calm = 0;
  for (let i = 0; i < 2000 && calm < 3; i++) {
    await x.etcd.delivered();
    await new Promise((res) => setTimeout(res, 1));
    calm = busy() ? 0 : calm + 1;
  }
  assert.ok(calm >= 3, 'the reconciler never went quiet');
}

// What etcd says this host's kernel must hold, against what the fake kernel holds: nothing to do.
async function leftUndone(x: Rig): Promise<string[]> {
  const snap = snapshot(x.etcd.networks.values(), x.etcd.endpoints.values(), x.etcd.hosts.values(), x.etcd.revision);
  return diff(computeDesired(snap, self), await x.kernel.readActual(), self).map(describeOp);
}

const nextId = sequence((n) => `r${String(n).padStart(63, '0')}`);
function remoteEp(host: string, networkId: string, n: number): EndpointRecord {
  const ip = `10.${networkId === 'n1' ? 1 : 2}.1.${n}`;
  return epRecord({
    id: nextId(),
    networkId,
    host,
    mac: `02:00:00:01:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`,
    ipv4: `${ip}/24`,
  });
}

const req = connectRequest;

describe('reconciler on fakes: every change reaches the kernel without the periodic resync', function () {
  this.timeout(20000);

  it("the reported case: a host's first endpoints of a network, connected at once, get the peers' entries", async () => {
    const x = await rig(undefined);
    x.etcd.put(remoteEp('h2', 'n1', 2));
    await quiet(x);
    for (const b of ['b1', 'b2', 'b3']) x.kernel.sandboxes.set(`/run/netns/${b}`, new Set());
    await Promise.all(['b1', 'b2', 'b3'].map((b) => x.svc.connect(req('n1', b))));
    await quiet(x);
    assert.deepStrictEqual(await leftUndone(x), []);
    assert.strictEqual(x.kernel.fdb.get(100)?.size, 1);
    await x.rec.stop();
  });

  it("another host's endpoint that arrives while the view has, for a moment, no local endpoint of a served network", async () => {
    const x = await rig(undefined);
    x.kernel.sandboxes.set('/run/netns/l1', new Set());
    x.kernel.sandboxes.set('/run/netns/l2', new Set());
    const l1 = (await x.svc.connect(req('n1', 'l1'))).endpoint!;
    await quiet(x);
    const rec1 = x.etcd.endpoints.get(l1.endpointId!)!;
    // The last local endpoint disconnects as the next one connects, each step as the endpoint
    // service takes it; the other host's endpoint is watched in between, and the disconnect's end
    // comes last.
    x.state.applyLocalEndpoint(rec1, true, x.etcd.remove(rec1));
    await x.kernel.removeVeth(hostVethName(rec1.id));
    x.etcd.put(remoteEp('h2', 'n1', 5));
    await x.etcd.delivered();
    const rec2: EndpointRecord = {
      ...rec1,
      id: 'f'.repeat(64),
      name: 'l2',
      sandbox: '/run/netns/l2',
      mac: '02:00:00:00:00:42',
      ipv4: '10.1.0.42/24',
    };
    await x.kernel.attach({
      sandbox: rec2.sandbox,
      hostVeth: hostVethName(rec2.id),
      ifname: 'eth0',
      mac: rec2.mac,
      mtu: 1450,
      bridge: 'vxbr-100',
      addresses: [rec2.ipv4],
    });
    x.state.applyLocalEndpoint(rec2, false, x.etcd.put(rec2));
    x.rec.settled({ endpointId: rec2.id, networkId: 'n1', vni: 100, host: 'h1', ok: true });
    x.rec.settled({ endpointId: rec1.id, networkId: 'n1', vni: 100, host: 'h1', ok: true });
    await quiet(x);
    assert.deepStrictEqual(await leftUndone(x), []);
    await x.rec.stop();
  });

  for (let seed = 1; seed <= 40; seed++) {
    it(`interleaved Connects, Disconnects and other hosts' endpoints coming and going (seed ${seed})`, async () => {
      const r = rng(seed);
      const x = await rig(r);
      const local: { net: string; box: string }[] = [];
      const remote: EndpointRecord[] = [];
      const pending: Promise<unknown>[] = [];
      let boxes = 0;
      let n = 2;
      // Bursts: of this host's Connects and Disconnects alone (first and last endpoints of a
      // network here), or of other hosts' endpoints, overlapping each other.
      for (let burst = 0; burst < 12; burst++) {
        const localOnly = r() < 0.5;
        const size = 1 + Math.floor(r() * 4);
        for (let i = 0; i < size; i++) {
          const net = r() < 0.5 ? 'n1' : 'n2';
          const roll = r();
          if (localOnly && (roll < 0.6 || !local.length)) {
            const box = `/run/netns/s${boxes++}`;
            x.kernel.sandboxes.set(box, new Set());
            const l = { net, box };
            pending.push(x.svc.connect(req(net, box)).then(() => local.push(l)));
          } else if (localOnly) {
            const [l] = local.splice(Math.floor(r() * local.length), 1);
            pending.push(x.svc.disconnect({ network: l.net, sandbox: l.box, force: false }));
          } else if (roll < 0.6 || !remote.length) {
            const e = remoteEp(r() < 0.5 ? 'h2' : 'h3', net, n++);
            remote.push(e);
            x.etcd.put(e);
          } else {
            const [e] = remote.splice(Math.floor(r() * remote.length), 1);
            x.etcd.remove(e);
          }
          await jitter(r, 2);
        }
        await jitter(r, 30);
      }
      await Promise.all(pending);
      await quiet(x);
      assert.deepStrictEqual(await leftUndone(x), [], `seed ${seed}: the kernel does not match etcd`);
      await x.rec.stop();
    });
  }

  it("the periodic resync (and only it) repairs drift made behind the agent's back", async () => {
    const x = await rig(undefined, 100);
    x.etcd.put(remoteEp('h2', 'n1', 7));
    x.kernel.sandboxes.set('/run/netns/d1', new Set());
    await x.svc.connect(req('n1', 'd1'));
    await quiet(x);
    assert.deepStrictEqual(await leftUndone(x), []);
    x.kernel.fdb.get(100)!.clear(); // by hand
    assert.notDeepStrictEqual(await leftUndone(x), []);
    const t0 = Date.now();
    while ((await leftUndone(x)).length && Date.now() - t0 < 2000) await new Promise((res) => setTimeout(res, 10));
    assert.deepStrictEqual(await leftUndone(x), [], 'not repaired within 2 s by a resync every 100 ms');
    await x.rec.stop();
  });

  it('a run whose kernel write failed is tried again without any other trigger', async () => {
    const x = await rig(undefined);
    x.kernel.sandboxes.set('/run/netns/f1', new Set());
    await x.svc.connect(req('n1', 'f1'));
    await quiet(x);
    const add = x.kernel.fdbAdd.bind(x.kernel);
    let failures = 1;
    x.kernel.fdbAdd = async (vni, entries) => {
      if (failures-- > 0) throw new Error('ENOBUFS');
      return add(vni, entries);
    };
    x.etcd.put(remoteEp('h3', 'n1', 9));
    const t0 = Date.now();
    while ((await leftUndone(x)).length && Date.now() - t0 < 3000) await new Promise((res) => setTimeout(res, 20));
    assert.deepStrictEqual(await leftUndone(x), [], 'the failed write was never tried again');
    assert.ok(failures < 0);
    await x.rec.stop();
  });
});
