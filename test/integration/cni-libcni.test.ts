import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TestAgent, ROOT } from '../helpers/agent';
import { startCluster, stopCluster, printLogsIfFailed, TestCluster } from '../helpers/cluster';
import { Topology, ping, waitFor, addrOf } from '../helpers/topology';

// The plugin driven by a real CNI runtime library: libcni (what containerd, CRI-O and podman's CNI
// backend use), through the small client that scripts/test.sh builds from Debian's packages
// (.cache/cni-runtime, from test/tools/cni-runtime). libcni passes the result cache, prevResult on
// CHECK and DEL, CNI_ARGS and
// the capabilities exactly as those runtimes do.
const CLIENT = path.join(ROOT, '.cache', 'cni-runtime');
const SHIM = path.join(ROOT, 'native', 'build', 'Release', 'vxnet-cni');

describe('CNI plugin with a real libcni runtime', function () {
  this.timeout(120000);
  let cl: TestCluster | undefined;
  let topo: Topology;
  let agents: TestAgent[] = [];
  let dir: string;

  before(async function () {
    if (!fs.existsSync(CLIENT)) throw new Error(`${CLIENT} is missing: scripts/build-cni-runtime.sh builds it`);
    cl = await startCluster({ hosts: 3 });
    ({ topo, agents } = cl);
    await agents[0].client.create({ name: 'lib', ipamConfig: [{ subnet: '10.97.0.0/24' }] });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vxt-libcni-'));
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.copyFileSync(SHIM, path.join(dir, 'bin', 'vxnet'));
    fs.chmodSync(path.join(dir, 'bin', 'vxnet'), 0o755);
    for (const [i, a] of agents.entries()) {
      fs.mkdirSync(path.join(dir, `net${i}`));
      // One list per spec version libcni speaks (it stops at 1.0.0; 1.1.0 is tested by direct calls).
      for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0']) {
        const name = v === '1.0.0' ? 'vxnet-lib' : `vxnet-lib-${v.replace(/\./g, '')}`;
        fs.writeFileSync(
          path.join(dir, `net${i}`, `${name}.conflist`),
          JSON.stringify({
            cniVersion: v,
            name,
            plugins: [
              {
                type: 'vxnet',
                network: 'lib',
                agent: path.join(a.dir, 'cni.sock'),
                capabilities: { ips: true, mac: true, portMappings: true, aliases: true },
              },
            ],
          }),
        );
      }
    }
  });
  after(async () => {
    await stopCluster(cl);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(function () {
    printLogsIfFailed(this.currentTest, cl);
  });

  const run = (h: number, args: string[], env: Record<string, string> = {}): { code: number | null; out: string } => {
    const r = spawnSync('nsenter', [`--net=/run/netns/${topo.hosts[h].ns}`, CLIENT, ...args], {
      encoding: 'utf8',
      timeout: 30000,
      env: {
        PATH: process.env.PATH ?? '',
        NETCONFPATH: path.join(dir, `net${h}`),
        CNI_PATH: path.join(dir, 'bin'),
        CNI_CACHE_DIR: path.join(dir, `cache${h}`),
        ...env,
      },
    });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };

  it('ADD, CHECK, DEL, DEL again on three hosts; every pair of containers on different hosts pings', async () => {
    const boxes = [0, 1, 2].map((h) => topo.container(`l3${h}`));
    const ips = boxes.map((b, h) => {
      const r = run(h, ['add', 'vxnet-lib', `/run/netns/${b}`]);
      assert.strictEqual(r.code, 0, r.out);
      return /"address":\s*"([^"/]+)/.exec(r.out)![1];
    });
    for (let a = 0; a < 3; a++)
      for (let b = 0; b < 3; b++) if (a !== b) await waitFor(`l3${a} -> l3${b}`, () => ping(boxes[a], ips[b]), 3000);
    for (let h = 0; h < 3; h++) {
      assert.strictEqual(run(h, ['check', 'vxnet-lib', `/run/netns/${boxes[h]}`]).code, 0);
      assert.strictEqual(run(h, ['del', 'vxnet-lib', `/run/netns/${boxes[h]}`]).code, 0);
      assert.strictEqual(run(h, ['del', 'vxnet-lib', `/run/netns/${boxes[h]}`]).code, 0, 'a second DEL must succeed');
    }
  });

  it('gives results libcni accepts in every version up to 1.0.0', () => {
    for (const v of ['0.3.0', '0.3.1', '0.4.0']) {
      const b = topo.container(`lv${v.replace(/\./g, '')}`);
      const list = `vxnet-lib-${v.replace(/\./g, '')}`;
      const r = run(0, ['add', list, `/run/netns/${b}`]);
      assert.strictEqual(r.code, 0, `${v}: ${r.out}`);
      const res = JSON.parse(r.out) as { cniVersion: string; ips: { version?: string; address: string }[] };
      assert.strictEqual(res.cniVersion, v);
      assert.strictEqual(res.ips[0].version, '4');
      assert.strictEqual(run(0, ['check', list, `/run/netns/${b}`]).code, v === '0.3.0' || v === '0.3.1' ? 1 : 0); // CHECK exists from 0.4.0 on
      assert.strictEqual(run(0, ['del', list, `/run/netns/${b}`]).code, 0);
    }
  });

  it('DEL after the namespace is gone succeeds and releases the address', async () => {
    const b = topo.container('lgone');
    const r = run(1, ['add', 'vxnet-lib', `/run/netns/${b}`]);
    assert.strictEqual(r.code, 0, r.out);
    topo.removeNs(b);
    const del = run(1, ['del', 'vxnet-lib', `/run/netns/${b}`]);
    assert.strictEqual(del.code, 0, del.out);
    assert.strictEqual((await agents[0].client.inspect({ network: 'lib' })).endpoints.length, 0);
  });

  it('validates, adds (with CNI_ARGS and capabilities), checks, deletes twice; containers on two hosts ping', async () => {
    const v = run(0, ['validate', 'vxnet-lib']);
    assert.strictEqual(v.code, 0, v.out);
    const a = topo.container('la');
    const b = topo.container('lb');
    const ra = run(0, ['add', 'vxnet-lib', `/run/netns/${a}`], {
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=demo',
      CAP_ARGS: JSON.stringify({
        ips: ['10.97.0.7/24'],
        mac: '02:00:00:97:00:07',
        portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
      }),
    });
    assert.strictEqual(ra.code, 0, ra.out);
    assert.match(ra.out, /10\.97\.0\.7\/24/);
    const rb = run(1, ['add', 'vxnet-lib', `/run/netns/${b}`], { CNI_ARGS: 'IgnoreUnknown=1;IP=10.97.0.8' });
    assert.strictEqual(rb.code, 0, rb.out);
    assert.strictEqual(addrOf(b), '10.97.0.8');
    await waitFor('la -> lb', () => ping(a, '10.97.0.8'), 3000);
    await waitFor('lb -> la', () => ping(b, '10.97.0.7'), 3000);
    for (const [h, ns] of [
      [0, a],
      [1, b],
    ] as const) {
      const c = run(h, ['check', 'vxnet-lib', `/run/netns/${ns}`]);
      assert.strictEqual(c.code, 0, c.out);
    }
    const inspect = await agents[0].client.inspect({ network: 'lib' });
    assert.deepStrictEqual(inspect.endpoints.map((e) => e.ipv4Address).sort(), ['10.97.0.7/24', '10.97.0.8/24']);
    for (const [h, ns] of [
      [0, a],
      [1, b],
    ] as const) {
      assert.strictEqual(run(h, ['del', 'vxnet-lib', `/run/netns/${ns}`]).code, 0);
      assert.strictEqual(run(h, ['del', 'vxnet-lib', `/run/netns/${ns}`]).code, 0, 'a second DEL must succeed');
    }
    assert.strictEqual((await agents[0].client.inspect({ network: 'lib' })).endpoints.length, 0);
  });

  it("fails ADD into a namespace that already has the interface, with the plugin's code", () => {
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
