import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import type { Etcd3 } from 'etcd3';
import { dumpEtcd } from '../helpers/etcd';
import { startCluster, stopCluster, printLogsIfFailed, TestCluster } from '../helpers/cluster';
import { TestAgent, ROOT } from '../helpers/agent';
import { Topology, ping, waitFor, sh, addrOf } from '../helpers/topology';

const SHIM = path.join(ROOT, 'native', 'build', 'Release', 'vxnet-cni');

interface CniOut {
  code: number | null;
  json: Record<string, unknown>;
  raw: string;
}

// Runs the plugin as a runtime does: in the runtime's (host's) namespace, CNI_* in the environment,
// the network configuration on stdin, the result or error object on stdout.
function cni(hostNs: string, env: Record<string, string>, conf: unknown): CniOut {
  const r = spawnSync('ip', ['netns', 'exec', hostNs, SHIM], {
    input: typeof conf === 'string' ? conf : JSON.stringify(conf),
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 20000,
  });
  let json: Record<string, unknown> = {};
  try {
    json = r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : {};
  } catch {
    /* raw kept */
  }
  return { code: r.status, json, raw: r.stdout + r.stderr };
}

describe('CNI plugin: the shim and the agent, as a runtime calls them', function () {
  this.timeout(120000);
  let cl: TestCluster | undefined;
  let kv: Etcd3;
  let topo: Topology;
  let agents: TestAgent[] = [];
  const conf = (h: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    cniVersion: '1.0.0',
    name: 'cnet',
    type: 'vxnet',
    network: 'cnet',
    agent: path.join(agents[h].dir, 'cni.sock'),
    ...extra,
  });
  const env = (
    cmd: string,
    id: string,
    netns: string,
    ifname = 'eth0',
    extra: Record<string, string> = {},
  ): Record<string, string> => ({
    CNI_COMMAND: cmd,
    CNI_CONTAINERID: id,
    CNI_NETNS: netns,
    CNI_IFNAME: ifname,
    CNI_PATH: path.dirname(SHIM),
    ...extra,
  });

  before(async () => {
    cl = await startCluster({ hosts: 3 });
    ({ kv, topo, agents } = cl);
    await agents[0].client.create({ name: 'cnet', ipamConfig: [{ subnet: '10.96.0.0/24' }] });
  });
  after(() => stopCluster(cl));
  afterEach(function () {
    printLogsIfFailed(this.currentTest, cl, 12);
  });

  it('VERSION lists every supported version, without an agent', () => {
    const r = cni(topo.hosts[0].ns, { CNI_COMMAND: 'VERSION' }, { cniVersion: '1.1.0' });
    assert.strictEqual(r.code, 0);
    assert.deepStrictEqual(r.json.supportedVersions, ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
  });

  it('ADD, CHECK, DEL and DEL again on three hosts; containers on different hosts ping each other', async () => {
    const ips: string[] = [];
    const boxes: string[] = [];
    for (let h = 0; h < 3; h++) {
      const box = topo.container(`cn${h}`);
      boxes.push(box);
      const add = cni(topo.hosts[h].ns, env('ADD', `ctr${h}`, `/run/netns/${box}`), conf(h));
      assert.strictEqual(add.code, 0, add.raw);
      const ip = (add.json.ips as { address: string }[])[0].address;
      ips.push(ip.split('/')[0]);
      assert.strictEqual(addrOf(box), ips[h]);
      const check = cni(
        topo.hosts[h].ns,
        env('CHECK', `ctr${h}`, `/run/netns/${box}`),
        conf(h, { prevResult: add.json }),
      );
      assert.strictEqual(check.code, 0, check.raw);
    }
    for (let a = 0; a < 3; a++)
      for (let b = 0; b < 3; b++) if (a !== b) await waitFor(`cn${a} -> cn${b}`, () => ping(boxes[a], ips[b]), 3000);
    const net = await agents[1].client.inspect({ network: 'cnet' });
    assert.strictEqual(net.endpoints.length, 3);
    for (let h = 0; h < 3; h++) {
      const del = cni(topo.hosts[h].ns, env('DEL', `ctr${h}`, `/run/netns/${boxes[h]}`), conf(h));
      assert.strictEqual(del.code, 0, del.raw);
      assert.strictEqual(
        cni(topo.hosts[h].ns, env('DEL', `ctr${h}`, `/run/netns/${boxes[h]}`), conf(h)).code,
        0,
        'a second DEL must succeed',
      );
      assert.doesNotMatch(sh('ip', ['-n', boxes[h], '-o', 'link']), /eth0/);
    }
    assert.strictEqual((await agents[0].client.inspect({ network: 'cnet' })).endpoints.length, 0);
  });

  it('honours static ips and mac through capabilities (runtimeConfig) and through CNI_ARGS', () => {
    const a = topo.container('cs1');
    const r1 = cni(
      topo.hosts[0].ns,
      env('ADD', 'st1', `/run/netns/${a}`),
      conf(0, { runtimeConfig: { ips: ['10.96.0.77/24'], mac: '02:aa:bb:cc:dd:01' } }),
    );
    assert.strictEqual(r1.code, 0, r1.raw);
    assert.strictEqual((r1.json.ips as { address: string }[])[0].address, '10.96.0.77/24');
    assert.strictEqual((r1.json.interfaces as { mac: string }[])[0].mac, '02:aa:bb:cc:dd:01');
    const b = topo.container('cs2');
    const r2 = cni(
      topo.hosts[1].ns,
      env('ADD', 'st2', `/run/netns/${b}`, 'eth0', {
        CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.96.0.78;MAC=02:aa:bb:cc:dd:02',
      }),
      conf(1),
    );
    assert.strictEqual(r2.code, 0, r2.raw);
    assert.strictEqual((r2.json.ips as { address: string }[])[0].address, '10.96.0.78/24');
    assert.match(sh('ip', ['-n', b, 'link', 'show', 'eth0']), /02:aa:bb:cc:dd:02/);
    assert.strictEqual(cni(topo.hosts[0].ns, env('DEL', 'st1', `/run/netns/${a}`), conf(0)).code, 0);
    assert.strictEqual(cni(topo.hosts[1].ns, env('DEL', 'st2', `/run/netns/${b}`), conf(1)).code, 0);
  });

  it("answers in every supported version, in that version's shape", () => {
    for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
      const box = topo.container(`cv${v.replace(/\./g, '')}`);
      const r = cni(topo.hosts[0].ns, env('ADD', `ver${v}`, `/run/netns/${box}`), conf(0, { cniVersion: v }));
      assert.strictEqual(r.code, 0, `${v}: ${r.raw}`);
      assert.strictEqual(r.json.cniVersion, v);
      const ip = (r.json.ips as Record<string, unknown>[])[0];
      if (v.startsWith('0.')) assert.strictEqual(ip.version, '4', v);
      else assert.strictEqual(ip.version, undefined, v);
      assert.strictEqual(ip.gateway, '10.96.0.1');
      assert.strictEqual(ip.interface, 0);
      const itf = (r.json.interfaces as Record<string, unknown>[])[0];
      assert.strictEqual(itf.name, 'eth0');
      assert.strictEqual(itf.sandbox, `/run/netns/${box}`);
      if (v === '1.1.0') assert.strictEqual(itf.mtu, 1450);
      assert.deepStrictEqual(r.json.routes, [{ dst: '0.0.0.0/0', gw: '10.96.0.1' }]);
      assert.strictEqual(
        cni(topo.hosts[0].ns, env('DEL', `ver${v}`, `/run/netns/${box}`), conf(0, { cniVersion: v })).code,
        0,
      );
    }
  });

  it('ADD fails when the interface already exists; DEL after the namespace is gone succeeds and releases the address', async () => {
    const box = topo.container('cx1');
    const first = cni(topo.hosts[0].ns, env('ADD', 'dup', `/run/netns/${box}`), conf(0));
    assert.strictEqual(first.code, 0, first.raw);
    const again = cni(topo.hosts[0].ns, env('ADD', 'dup2', `/run/netns/${box}`), conf(0));
    assert.notStrictEqual(again.code, 0);
    assert.strictEqual(again.json.code, 101, again.raw);
    assert.match(String(again.json.msg), /eth0 already exists/);
    const addr = (first.json.ips as { address: string }[])[0].address.split('/')[0];
    topo.removeNs(box);
    const del = cni(topo.hosts[0].ns, env('DEL', 'dup', `/run/netns/${box}`), conf(0));
    assert.strictEqual(del.code, 0, del.raw);
    assert.ok(!Object.keys(await dumpEtcd(kv)).some((k) => k.endsWith(`/${addr}`)), 'address not released');
  });

  it('the same container ID and interface on two hosts are two endpoints; after an agent restart CHECK, GC and DEL each find their own', async () => {
    const boxes = [topo.container('same0'), topo.container('same1')];
    const ips: string[] = [];
    for (const h of [0, 1]) {
      const add = cni(topo.hosts[h].ns, env('ADD', 'same', `/run/netns/${boxes[h]}`), conf(h));
      assert.strictEqual(add.code, 0, add.raw);
      ips.push((add.json.ips as { address: string }[])[0].address.split('/')[0]);
    }
    const names = (await agents[0].client.inspect({ network: 'cnet' })).endpoints
      .filter((e) => e.cniContainerId === 'same')
      .map((e) => [e.name, e.host])
      .sort();
    assert.deepStrictEqual(names, [
      [`cni-${topo.hosts[0].name}-same-eth0`, topo.hosts[0].name],
      [`cni-${topo.hosts[1].name}-same-eth0`, topo.hosts[1].name],
    ]);
    await agents[1].stop();
    await agents[1].start();
    for (const h of [0, 1]) {
      const check = cni(
        topo.hosts[h].ns,
        env('CHECK', 'same', `/run/netns/${boxes[h]}`),
        conf(h, { prevResult: { ips: [{ address: `${ips[h]}/24` }] } }),
      );
      assert.strictEqual(check.code, 0, check.raw);
    }
    // GC on host 1 with nothing valid removes host 1's attachment only; DEL on host 2 its own.
    assert.strictEqual(
      cni(
        topo.hosts[0].ns,
        { CNI_COMMAND: 'GC', CNI_PATH: path.dirname(SHIM) },
        conf(0, { 'cni.dev/valid-attachments': [] }),
      ).code,
      0,
    );
    const left = (await agents[1].client.inspect({ network: 'cnet' })).endpoints.filter(
      (e) => e.cniContainerId === 'same',
    );
    assert.deepStrictEqual(
      left.map((e) => e.host),
      [topo.hosts[1].name],
    );
    assert.strictEqual(addrOf(boxes[1]), ips[1]);
    assert.strictEqual(cni(topo.hosts[1].ns, env('DEL', 'same', `/run/netns/${boxes[1]}`), conf(1)).code, 0);
    assert.deepStrictEqual(
      (await agents[1].client.inspect({ network: 'cnet' })).endpoints.filter((e) => e.cniContainerId === 'same'),
      [],
    );
  });

  it('CHECK compares namespaces, not paths: another namespace under CNI_NETNS fails with 105', async () => {
    const box = topo.container('chk');
    const other = topo.container('chkother');
    assert.strictEqual(cni(topo.hosts[1].ns, env('ADD', 'chk', `/run/netns/${box}`), conf(1)).code, 0);
    assert.strictEqual(cni(topo.hosts[1].ns, env('CHECK', 'chk', `/run/netns/${box}`), conf(1)).code, 0);
    sh('mount', ['--bind', `/run/netns/${other}`, `/run/netns/${box}`]);
    try {
      const check = cni(topo.hosts[1].ns, env('CHECK', 'chk', `/run/netns/${box}`), conf(1));
      assert.strictEqual(check.code, 1, check.raw);
      assert.strictEqual(check.json.code, 105, check.raw);
      // The agent's sandbox watch may have released the endpoint first (it looks every 2 s).
      assert.match(String(check.json.msg), /is not the network namespace that ADD attached|no vxnet endpoint/);
    } finally {
      sh('umount', [`/run/netns/${box}`], { allowFail: true });
    }
    assert.strictEqual(cni(topo.hosts[1].ns, env('DEL', 'chk', `/run/netns/${box}`), conf(1)).code, 0);
  });

  it('GC removes exactly the attachments missing from cni.dev/valid-attachments (and accepts cni.dev/attachments)', async () => {
    const ids = ['gc1', 'gc2', 'gc3', 'gc4'];
    for (const id of ids)
      assert.strictEqual(cni(topo.hosts[2].ns, env('ADD', id, `/run/netns/${topo.container(id)}`), conf(2)).code, 0);
    const gc = cni(
      topo.hosts[2].ns,
      { CNI_COMMAND: 'GC', CNI_PATH: path.dirname(SHIM) },
      conf(2, {
        'cni.dev/valid-attachments': [
          { containerID: 'gc1', ifname: 'eth0' },
          { containerID: 'gc3', ifname: 'eth0' },
        ],
      }),
    );
    assert.strictEqual(gc.code, 0, gc.raw);
    const left = (await agents[2].client.inspect({ network: 'cnet' })).endpoints.map((e) => e.name).sort();
    const h2 = topo.hosts[2].name;
    assert.deepStrictEqual(left, [`cni-${h2}-gc1-eth0`, `cni-${h2}-gc3-eth0`]);
    const gcOld = cni(
      topo.hosts[2].ns,
      { CNI_COMMAND: 'GC' },
      conf(2, { cniVersion: '1.1.0', 'cni.dev/attachments': [{ containerID: 'gc3', ifname: 'eth0' }] }),
    );
    assert.strictEqual(gcOld.code, 0, gcOld.raw);
    assert.deepStrictEqual(
      (await agents[2].client.inspect({ network: 'cnet' })).endpoints.map((e) => e.name),
      [`cni-${h2}-gc3-eth0`],
    );
    assert.strictEqual(cni(topo.hosts[2].ns, env('DEL', 'gc3', '', 'eth0'), conf(2)).code, 0);
  });

  it('STATUS is 0 with the agent and etcd up, 50 when the agent is not there', () => {
    assert.strictEqual(cni(topo.hosts[0].ns, { CNI_COMMAND: 'STATUS' }, conf(0, { cniVersion: '1.1.0' })).code, 0);
    const down = cni(
      topo.hosts[0].ns,
      { CNI_COMMAND: 'STATUS' },
      conf(0, { cniVersion: '1.1.0', agent: '/run/vxnet-not-here/cni.sock' }),
    );
    assert.notStrictEqual(down.code, 0);
    assert.strictEqual(down.json.code, 50);
  });

  it('refuses bad input with a CNI error object and the right code, changing nothing', async () => {
    const box = topo.container('cb1');
    const before = await dumpEtcd(kv);
    const kernel = sh('ip', ['-n', topo.hosts[0].ns, '-o', 'link']) + sh('ip', ['-n', box, '-o', 'link']);
    const cases: [string, Record<string, string>, unknown, number][] = [
      ['no CNI_COMMAND', { CNI_CONTAINERID: 'b1', CNI_NETNS: `/run/netns/${box}`, CNI_IFNAME: 'eth0' }, conf(0), 4],
      ['no CNI_NETNS for ADD', { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'b1', CNI_IFNAME: 'eth0' }, conf(0), 4],
      ['no CNI_CONTAINERID', { CNI_COMMAND: 'ADD', CNI_NETNS: `/run/netns/${box}`, CNI_IFNAME: 'eth0' }, conf(0), 4],
      ['unknown CNI_ARGS', env('ADD', 'b1', `/run/netns/${box}`, 'eth0', { CNI_ARGS: 'FOO=bar' }), conf(0), 4],
      // The runtime's stdin names no socket here: the shim falls back to VXNET_CNI_SOCKET (the
      // default path in production).
      [
        'stdin not JSON',
        env('ADD', 'b1', `/run/netns/${box}`, 'eth0', { VXNET_CNI_SOCKET: path.join(agents[0].dir, 'cni.sock') }),
        '{not json',
        6,
      ],
      ['stdin not even an object', env('ADD', 'b1', `/run/netns/${box}`), 'garbage', 6],
      ['wrong type', env('ADD', 'b1', `/run/netns/${box}`), conf(0, { type: 'bridge' }), 7],
      ['network that does not exist', env('ADD', 'b1', `/run/netns/${box}`), conf(0, { network: 'nosuch' }), 102],
      [
        'socket path that does not exist',
        env('ADD', 'b1', `/run/netns/${box}`),
        conf(0, { agent: '/run/nowhere/cni.sock' }),
        11,
      ],
      ['unsupported cniVersion', env('ADD', 'b1', `/run/netns/${box}`), conf(0, { cniVersion: '9.9.9' }), 1],
      [
        'static IP outside the subnet',
        env('ADD', 'b1', `/run/netns/${box}`, 'eth0', { CNI_ARGS: 'IP=10.50.0.5' }),
        conf(0),
        100,
      ],
      ['interface name too long', env('ADD', 'b1', `/run/netns/${box}`, 'averyveryverylongname'), conf(0), 100],
      ['unknown command', env('FROB', 'b1', `/run/netns/${box}`), conf(0), 4],
    ];
    for (const [what, e, c, code] of cases) {
      const r = cni(topo.hosts[0].ns, e, c);
      assert.notStrictEqual(r.code, 0, `${what} succeeded`);
      assert.strictEqual(r.json.code, code, `${what}: ${r.raw}`);
      assert.ok(typeof r.json.msg === 'string' && r.json.msg.length > 5, `${what}: no message`);
    }
    assert.deepStrictEqual(await dumpEtcd(kv), before);
    assert.strictEqual(sh('ip', ['-n', topo.hosts[0].ns, '-o', 'link']) + sh('ip', ['-n', box, '-o', 'link']), kernel);
  });
});
