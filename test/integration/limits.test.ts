import * as assert from 'assert';
import { spawnSync } from 'child_process';
import { status } from '@grpc/grpc-js';
import { dumpEtcd } from '../helpers/etcd';
import { useCluster } from '../helpers/cluster';
import { sh } from '../helpers/topology';

// The kernel's own limits, met as the API says them.
describe('limits: a full bridge', function () {
  this.timeout(90000);
  const cluster = useCluster({ hosts: 1, agent: { resyncInterval: 3600 } });

  it('the 1,023rd port is refused with RESOURCE_EXHAUSTED saying what is full; nothing is left of the refused Connect', async () => {
    const { agents, topo, kv } = cluster();
    const c = agents[0].client;
    const ns = topo.hosts[0].ns;
    const net = await c.create({ name: 'full', ipamConfig: [{ subnet: '10.82.0.0/20' }] });
    await c.connect({ network: 'full', sandbox: topo.container('first') });
    // The VXLAN device and the first endpoint hold two ports; 1,021 more fill the bridge.
    const bridge = `vxbr-${net.vni}`;
    const lines: string[] = [];
    for (let i = 0; i < 1021; i++) lines.push(`link add fill${i} master ${bridge} type veth peer name fillp${i}`);
    const r = spawnSync('ip', ['-n', ns, '-batch', '-'], { input: lines.join('\n'), timeout: 60000 });
    assert.strictEqual(r.status, 0, r.stderr?.toString());
    const ports = sh('ip', ['-n', ns, '-o', 'link', 'show', 'master', bridge]).trim().split('\n').length;
    assert.strictEqual(ports, 1023);
    const before = await dumpEtcd(kv);
    const sandbox = topo.container('onetoomany');
    await assert.rejects(c.connect({ network: 'full', sandbox }), (e: { code: number; details: string }) => {
      assert.strictEqual(e.code, status.RESOURCE_EXHAUSTED, e.details);
      assert.match(e.details, /network full has no room left on host h1: its bridge takes at most 1,023 ports/);
      return true;
    });
    assert.doesNotMatch(sh('ip', ['-n', sandbox, '-o', 'link']), /eth0/);
    assert.deepStrictEqual(
      Object.keys(await dumpEtcd(kv)).filter((k) => !before[k]),
      [],
      'the refused Connect left keys in etcd',
    );
    // A port freed: the same Connect goes through.
    sh('ip', ['-n', ns, 'link', 'del', 'fill0']);
    const ok = await c.connect({ network: 'full', sandbox });
    assert.ok(ok.endpoint?.ipv4Address);
  });
});
