import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startEtcd, EtcdCluster } from '../helpers/etcd';
import { TestAgent, ROOT } from '../helpers/agent';
import { Topology, ping, waitFor, addrOf } from '../helpers/topology';

// The plugin driven by a real CNI runtime library: libcni (what containerd, CRI-O and podman's CNI
// backend use), through the small client that scripts/test.sh builds from Debian's packages
// (.cache/cni-runtime, from test/tools/cni-runtime). libcni passes the result cache, prevResult on CHECK and DEL, CNI_ARGS and
// the capabilities exactly as those runtimes do.
const CLIENT = path.join(ROOT, '.cache', 'cni-runtime');
const SHIM = path.join(ROOT, 'native', 'build', 'Release', 'vxnet-cni');

describe('CNI plugin with a real libcni runtime', function () {
  this.timeout(120000);
  let etcd: EtcdCluster;
  let topo: Topology;
  const agents: TestAgent[] = [];
  let dir: string;

  before(async function () {
    if (!fs.existsSync(CLIENT)) throw new Error(`${CLIENT} is missing: scripts/build-cni-runtime.sh builds it`);
    etcd = await startEtcd(1);
    topo = new Topology(2);
    for (const h of topo.hosts) agents.push(new TestAgent({ name: h.name, etcd: etcd.unixUrls, vtep: h.vtep, netns: h.ns }));
    await Promise.all(agents.map((a) => a.start()));
    await agents[0].client.create({ name: 'lib', ipamConfig: [{ subnet: '10.97.0.0/24' }] });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vxt-libcni-'));
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.copyFileSync(SHIM, path.join(dir, 'bin', 'vxnet'));
    fs.chmodSync(path.join(dir, 'bin', 'vxnet'), 0o755);
    for (const [i, a] of agents.entries()) {
      fs.mkdirSync(path.join(dir, `net${i}`));
      fs.writeFileSync(path.join(dir, `net${i}`, '10-vxnet.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'vxnet-lib', plugins: [{ type: 'vxnet', network: 'lib', agent: path.join(a.dir, 'cni.sock'), capabilities: { ips: true, mac: true, portMappings: true, aliases: true } }] }));
    }
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.stop('SIGKILL')));
    agents.forEach((a) => a.cleanup());
    topo?.destroy();
    await etcd?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = (h: number, args: string[], env: Record<string, string> = {}): { code: number | null; out: string } => {
    const r = spawnSync('nsenter', [`--net=/run/netns/${topo.hosts[h].ns}`, CLIENT, ...args], {
      encoding: 'utf8', timeout: 30000,
      env: { PATH: process.env.PATH ?? '', NETCONFPATH: path.join(dir, `net${h}`), CNI_PATH: path.join(dir, 'bin'), CNI_CACHE_DIR: path.join(dir, `cache${h}`), ...env },
    });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };

  it('validates, adds (with CNI_ARGS and capabilities), checks, deletes twice; containers on two hosts ping', async () => {
    const v = run(0, ['validate', 'vxnet-lib']);
    assert.strictEqual(v.code, 0, v.out);
    const a = topo.container('la');
    const b = topo.container('lb');
    const ra = run(0, ['add', 'vxnet-lib', `/run/netns/${a}`], { CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=demo', CAP_ARGS: JSON.stringify({ ips: ['10.97.0.7/24'], mac: '02:00:00:97:00:07', portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] }) });
    assert.strictEqual(ra.code, 0, ra.out);
    assert.match(ra.out, /10\.97\.0\.7\/24/);
    const rb = run(1, ['add', 'vxnet-lib', `/run/netns/${b}`], { CNI_ARGS: 'IgnoreUnknown=1;IP=10.97.0.8' });
    assert.strictEqual(rb.code, 0, rb.out);
    assert.strictEqual(addrOf(b), '10.97.0.8');
    await waitFor('la -> lb', () => ping(a, '10.97.0.8'), 3000);
    await waitFor('lb -> la', () => ping(b, '10.97.0.7'), 3000);
    for (const [h, ns] of [[0, a], [1, b]] as const) {
      const c = run(h, ['check', 'vxnet-lib', `/run/netns/${ns}`]);
      assert.strictEqual(c.code, 0, c.out);
    }
    const inspect = await agents[0].client.inspect({ network: 'lib' });
    assert.deepStrictEqual(inspect.endpoints.map((e) => e.ipv4Address).sort(), ['10.97.0.7/24', '10.97.0.8/24']);
    for (const [h, ns] of [[0, a], [1, b]] as const) {
      assert.strictEqual(run(h, ['del', 'vxnet-lib', `/run/netns/${ns}`]).code, 0);
      assert.strictEqual(run(h, ['del', 'vxnet-lib', `/run/netns/${ns}`]).code, 0, 'a second DEL must succeed');
    }
    assert.strictEqual((await agents[0].client.inspect({ network: 'lib' })).endpoints.length, 0);
  });

  it('fails ADD into a namespace that already has the interface, with the plugin\'s code', () => {
    const c = topo.container('lc');
    assert.strictEqual(run(0, ['add', 'vxnet-lib', `/run/netns/${c}`]).code, 0);
    const again = run(0, ['add', 'vxnet-lib', `/run/netns/${c}`], { CNI_CONTAINERID: 'other' });
    assert.notStrictEqual(again.code, 0);
    assert.match(again.out, /eth0 already exists/);
    assert.strictEqual(run(0, ['del', 'vxnet-lib', `/run/netns/${c}`]).code, 0);
  });

  it('CHECK reports a difference after the address was removed by hand', () => {
    const c = topo.container('ld');
    const r = run(0, ['add', 'vxnet-lib', `/run/netns/${c}`]);
    assert.strictEqual(r.code, 0, r.out);
    const ip = /"address":\s*"([^"]+)"/.exec(r.out)![1];
    spawnSync('ip', ['-n', c, 'addr', 'del', ip, 'dev', 'eth0']);
    const chk = run(0, ['check', 'vxnet-lib', `/run/netns/${c}`]);
    assert.notStrictEqual(chk.code, 0);
    assert.match(chk.out, /lacks/);
    assert.strictEqual(run(0, ['del', 'vxnet-lib', `/run/netns/${c}`]).code, 0);
  });
});
