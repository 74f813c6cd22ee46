import * as assert from 'assert';
import { status } from '@grpc/grpc-js';
import { ClusterState } from '../../agent/view';
import { EndpointService } from '../../agent/endpoints/service';
import type { Self } from '../../agent/desired';
import type { Settled } from '../../agent/reconciler';
import type { Store } from '../../control/store/store';
import type { NetworkService } from '../../control/networks';
import { VxError, etcdUnavailable } from '../../control/errors';
import { FakeEtcd, FakeKernel, quietLog, connectRequest } from '../helpers/fakes';
import { hostRecord, netRecord } from '../helpers/records';

const self: Self = { name: 'h1', vtep: '192.168.231.11', vxlanPort: 4789, underlayMtu: 1500 };
const req = connectRequest;

async function service(): Promise<{
  etcd: FakeEtcd;
  kernel: FakeKernel;
  state: ClusterState;
  svc: EndpointService;
  settled: Settled[];
}> {
  const etcd = new FakeEtcd();
  etcd.addHost(hostRecord('h1', self.vtep));
  etcd.addNetwork(netRecord('n1', 100, '10.1.0.0/24'));
  const store = etcd.asStore() as Store;
  const kernel = new FakeKernel(self.vtep);
  const state = new ClusterState(store, self.name, quietLog);
  await state.start();
  const settled: Settled[] = [];
  const networks = {
    resolve: () => Promise.reject(new VxError(status.NOT_FOUND, 'no such network')),
  } as unknown as NetworkService;
  const svc = new EndpointService(store, networks, state, kernel, kernel, self, quietLog, (op) => settled.push(op));
  for (const b of ['a', 'b']) kernel.sandboxes.set(`/run/netns/${b}`, new Set());
  return { etcd, kernel, state, svc, settled };
}

const code =
  (c: status) =>
  (err: unknown): boolean =>
    err instanceof VxError && err.code === c;

describe('endpoint service on fakes: a refused Connect changes nothing', () => {
  it('connects: one record in etcd and the view, one veth, and tells the reconciler', async () => {
    const x = await service();
    const r = await x.svc.connect(req('n1', 'a'));
    assert.strictEqual(r.endpoint?.ipv4Address, '10.1.0.2/24');
    assert.strictEqual(x.etcd.endpoints.size, 1);
    assert.strictEqual(x.state.snap?.endpoints.size, 1);
    assert.strictEqual(x.kernel.veths.size, 1);
    assert.deepStrictEqual(
      x.settled.map((s) => [s.networkId, s.ok]),
      [['n1', true]],
    );
  });

  it('etcd refuses (unreachable): no veth left, no record, the sandbox as it was', async () => {
    const x = await service();
    x.etcd.failNext.createEndpoint = new VxError(status.UNAVAILABLE, 'etcd is unreachable');
    await assert.rejects(x.svc.connect(req('n1', 'a')), code(status.UNAVAILABLE));
    assert.strictEqual(x.etcd.endpoints.size, 0);
    assert.strictEqual(x.state.snap?.endpoints.size, 0);
    assert.strictEqual(x.kernel.veths.size, 0);
    assert.deepStrictEqual([...x.kernel.sandboxes.get('/run/netns/a')!], []);
    assert.deepStrictEqual(
      x.settled.map((s) => s.ok),
      [false],
      'the reconciler is told, so that devices made for it go',
    );
  });

  it('the kernel refuses (sandbox gone under it): the committed record is deleted again', async () => {
    const x = await service();
    const attach = x.kernel.attach.bind(x.kernel);
    x.kernel.attach = async () => {
      throw new Error('ENOENT: the namespace went');
    };
    await assert.rejects(x.svc.connect(req('n1', 'a')), /namespace went/);
    assert.strictEqual(x.etcd.endpoints.size, 0, 'record left in etcd');
    assert.strictEqual(x.state.snap?.endpoints.size, 0, 'record left in the view');
    assert.strictEqual(x.kernel.veths.size, 0);
    x.kernel.attach = attach;
    const r = await x.svc.connect(req('n1', 'a'));
    assert.strictEqual(r.endpoint?.ipv4Address, '10.1.0.2/24', 'the address was given back');
  });

  it('a static address already taken: ALREADY_EXISTS naming it, and nothing else changed', async () => {
    const x = await service();
    await x.svc.connect(req('n1', 'a', { ipv4Address: '10.1.0.9' }));
    await assert.rejects(
      x.svc.connect(req('n1', 'b', { ipv4Address: '10.1.0.9' })),
      (err: unknown) => code(status.ALREADY_EXISTS)(err) && /10\.1\.0\.9/.test((err as Error).message),
    );
    assert.strictEqual(x.etcd.endpoints.size, 1);
    assert.strictEqual(x.kernel.veths.size, 1);
    assert.deepStrictEqual([...x.kernel.sandboxes.get('/run/netns/b')!], []);
  });

  it('bad input (no such sandbox, a name that is taken): the right code, nothing changed', async () => {
    const x = await service();
    await assert.rejects(x.svc.connect(req('n1', 'nope')), code(status.NOT_FOUND));
    await x.svc.connect(req('n1', 'a', { name: 'web' }));
    await assert.rejects(x.svc.connect(req('n1', 'b', { name: 'web' })), code(status.ALREADY_EXISTS));
    assert.strictEqual(x.etcd.endpoints.size, 1);
    assert.strictEqual(x.kernel.veths.size, 1);
  });

  it('Disconnect whose etcd delete fails keeps the record and the veth (the next call tries again)', async () => {
    const x = await service();
    await x.svc.connect(req('n1', 'a'));
    x.etcd.failNext.deleteEndpoint = new VxError(status.UNAVAILABLE, 'etcd is unreachable');
    await assert.rejects(x.svc.disconnect({ network: 'n1', sandbox: 'a', force: false }), code(status.UNAVAILABLE));
    assert.strictEqual(x.etcd.endpoints.size, 1);
    assert.strictEqual(x.kernel.veths.size, 1);
    await x.svc.disconnect({ network: 'n1', sandbox: 'a', force: false });
    assert.strictEqual(x.etcd.endpoints.size, 0);
    assert.strictEqual(x.kernel.veths.size, 0);
    assert.deepStrictEqual(
      x.settled.map((s) => s.ok),
      [true, false, true],
    );
  });
});

describe('endpoint service on fakes: a Connect given up on while etcd was silent', () => {
  it('its record, landed after all, is released and never re-attached', async () => {
    const x = await service();
    x.etcd.landsLater = etcdUnavailable('etcd is not answering (no reply from any member in 800 ms)');
    await assert.rejects(x.svc.connect(req('n1', 'a')), code(status.UNAVAILABLE));
    assert.strictEqual(x.kernel.veths.size, 0, 'the veth was removed');
    assert.strictEqual(x.etcd.endpoints.size, 1, 'etcd applied it all the same');
    assert.strictEqual(x.svc.abandoned.size, 1);
    await x.etcd.delivered();
    const ep = [...x.etcd.endpoints.values()][0];
    await x.svc.repair(ep);
    assert.strictEqual(x.kernel.veths.size, 0, 'the repair re-attached an abandoned endpoint');
    await x.svc.abandoned.sweep();
    assert.strictEqual(x.etcd.endpoints.size, 0);
    assert.strictEqual(x.svc.abandoned.size, 0);
    assert.ok(!x.state.snap?.endpoints.has(ep.id));
    x.svc.abandoned.stop();
  });

  it('one that never landed is forgotten once it no longer can', async () => {
    const x = await service();
    x.etcd.failNext.createEndpoint = etcdUnavailable('etcd is not answering');
    await assert.rejects(x.svc.connect(req('n1', 'a')), code(status.UNAVAILABLE));
    assert.strictEqual(x.svc.abandoned.size, 1);
    await x.svc.abandoned.sweep(Date.now());
    assert.strictEqual(x.svc.abandoned.size, 1, 'still in the time it could land');
    await x.svc.abandoned.sweep(Date.now() + 60_000);
    assert.strictEqual(x.svc.abandoned.size, 0);
    x.svc.abandoned.stop();
  });

  it('a Connect that outlives its caller is undone', async () => {
    const x = await service();
    await assert.rejects(x.svc.connect(req('n1', 'a'), {}, undefined, Date.now() - 1), code(status.DEADLINE_EXCEEDED));
    assert.strictEqual(x.etcd.endpoints.size, 0);
    assert.strictEqual(x.kernel.veths.size, 0);
  });
});
