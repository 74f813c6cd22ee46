import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { Etcd3 } from 'etcd3';
import { dumpEtcd } from '../helpers/etcd';
import { startCluster, stopCluster, printLogsIfFailed, TestCluster } from '../helpers/cluster';
import { TestAgent, ROOT } from '../helpers/agent';
import { waitFor, sh } from '../helpers/topology';
import { Containerd } from '../helpers/containerd';
import type { CtrResult } from '../helpers/containerd';
import { takePid, killPid } from '../helpers/pids';

// containerd 1.6 (Debian) with `ctr run --cni`: the same go-cni path that containerd's CRI takes
// for Kubernetes pods, one containerd per simulated host. ctr gives the container the sandbox
// /proc/<pid>/ns/net and names the attachment <namespace>-<container id>.
const SHIM = path.join(ROOT, 'native', 'build', 'Release', 'vxnet-cni');

describe('CNI plugin with containerd (ctr run --cni) on two hosts', function () {
  this.timeout(180000);
  let cl: TestCluster | undefined;
  let kv: Etcd3;
  let agents: TestAgent[] = [];
  const cds: Containerd[] = [];
  const netd: string[] = [];
  const strangers: number[] = [];

  const endpoints = async (): Promise<{ name: string; host: string; ip: string; sandbox: string }[]> =>
    (await agents[0].client.inspect({ network: 'cdnet' })).endpoints.map((e) => ({
      name: e.name,
      host: e.host,
      ip: e.ipv4Address.split('/')[0],
      sandbox: e.sandbox,
    }));
  const ipamHolds = async (ip: string): Promise<boolean> =>
    Object.keys(await dumpEtcd(kv)).some((k) => k.includes('/ipam/') && k.endsWith(`/${ip}`));
  const run = (h: number, id: string, cmd: string[], rm = false): CtrResult =>
    cds[h].run(id, cmd, { netd: netd[h], rm });
  const exec = (h: number, id: string, cmd: string[]): CtrResult => cds[h].exec(id, cmd);
  const ipIn = (h: number, id: string): string =>
    /inet (\S+)\//.exec(exec(h, id, ['ip', '-4', '-o', 'addr', 'show', 'eth0']).stdout)?.[1] ?? '';

  before(async function () {
    if (!fs.existsSync('/usr/bin/ctr') || !fs.existsSync('/usr/bin/containerd'))
      throw new Error(
        'containerd is not installed: scripts/test.sh installs it (apt-get install containerd runc busybox-static)',
      );
    cl = await startCluster({ hosts: 2 });
    ({ kv, agents } = cl);
    await agents[0].client.create({ name: 'cdnet', ipamConfig: [{ subnet: '10.93.0.0/24' }] });
    for (const [i, a] of agents.entries()) {
      const cd = new Containerd(cl.topo.hosts[i].ns, `h${i + 1}`);
      cds.push(cd);
      await cd.start(SHIM);
      netd.push(
        cd.confDir('good', {
          cniVersion: '1.0.0',
          name: 'vxnet-cd',
          plugins: [{ type: 'vxnet', network: 'cdnet', agent: path.join(a.dir, 'cni.sock') }],
        }),
      );
    }
  });
  after(async () => {
    for (const pid of strangers) killPid(pid);
    for (const cd of cds) await cd.stop().catch(() => undefined);
    await stopCluster(cl);
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed')
      for (const cd of cds) console.log(`--- containerd ${cd.tag}\n${cd.log()}`);
    printLogsIfFailed(this.currentTest, cl, 20);
  });

  it('attaches a container on each host under the same container ID; they ping each other across hosts', async () => {
    for (const h of [0, 1]) {
      const r = run(h, 'web', ['sleep', '1000']);
      assert.strictEqual(r.code, 0, `host ${h + 1}: ${r.stderr}`);
    }
    const ips = [ipIn(0, 'web'), ipIn(1, 'web')];
    assert.ok(ips[0] && ips[1] && ips[0] !== ips[1], `addresses ${ips.join(', ')}`);
    const eps = (await endpoints()).sort((a, b) => a.host.localeCompare(b.host));
    // Two endpoints, one per host, named readably and uniquely after host and ctr's ID.
    assert.deepStrictEqual(
      eps.map((e) => [e.name, e.host, e.ip]),
      [
        [`cni-${agents[0].opts.name}-default-web-eth0`, agents[0].opts.name, ips[0]],
        [`cni-${agents[1].opts.name}-default-web-eth0`, agents[1].opts.name, ips[1]],
      ],
    );
    assert.match(eps[0].sandbox, /^\/proc\/\d+\/ns\/net$/);
    await waitFor(
      'web on host 1 pings web on host 2',
      () => exec(0, 'web', ['ping', '-c1', '-W1', ips[1]]).code === 0,
      10000,
      200,
    );
    assert.strictEqual(exec(1, 'web', ['ping', '-c1', '-W1', ips[0]]).code, 0);
  });

  it('ctr run --rm releases the endpoint through DEL when the container ends', async () => {
    const r = run(0, 'once', ['sh', '-c', 'ip -4 -o addr show eth0'], true);
    assert.strictEqual(r.code, 0, r.stderr);
    const ip = /inet (\S+)\//.exec(r.stdout)?.[1];
    assert.ok(ip, r.stdout);
    // Gone by the time ctr returns: its DEL did it, not the agent's watch.
    assert.ok(!(await endpoints()).some((e) => e.ip === ip), 'endpoint still there after ctr run --rm');
    assert.strictEqual(await ipamHolds(ip), false);
  });

  it('kill + rm without DEL releases the endpoint within a few seconds; the same ID on the other host keeps its own', async () => {
    const ip = ipIn(0, 'web');
    const other = ipIn(1, 'web');
    const t0 = Date.now();
    cds[0].removeWithoutDel('web');
    await waitFor(
      'endpoint of the removed container released',
      async () => !(await endpoints()).some((e) => e.ip === ip),
      6000,
      100,
    );
    console.log(`      released ${Date.now() - t0} ms after ctr task kill`);
    assert.strictEqual(await ipamHolds(ip), false);
    assert.ok(
      (await endpoints()).some((e) => e.ip === other && e.host === agents[1].opts.name),
      "host 2's web lost its endpoint",
    );
    // Its address is free for the next container.
    assert.strictEqual(run(0, 'web2', ['sleep', '1000']).code, 0);
    assert.strictEqual(ipIn(0, 'web2'), ip);
    assert.strictEqual(exec(0, 'web2', ['ping', '-c1', '-W2', other]).code, 0);
  });

  it('a PID taken by another process after its container died gets no interface; the endpoint is released', async function () {
    assert.strictEqual(run(0, 'p1', ['sleep', '1000']).code, 0);
    const pid = cds[0].taskPid('p1');
    assert.ok(pid, 'task pid');
    const ip = ipIn(0, 'p1');
    cds[0].removeWithoutDel('p1');
    if (!takePid(pid)) this.skip(); // the machine forked too busily to take the PID back
    strangers.push(pid);
    await waitFor(
      'the stranger in a namespace of its own',
      () => fs.readlinkSync(`/proc/${pid}/ns/net`) !== fs.readlinkSync('/proc/self/ns/net'),
      5000,
    );
    agents[0].signal('SIGHUP');
    await waitFor('endpoint released', async () => !(await endpoints()).some((e) => e.ip === ip), 6000, 100);
    agents[0].signal('SIGHUP');
    await new Promise((r) => setTimeout(r, 1500));
    const links = sh('nsenter', ['-t', String(pid), '-n', 'ip', '-o', 'link', 'show'], { allowFail: true });
    assert.doesNotMatch(links, /eth0/, "the stranger got the dead container's interface");
    assert.doesNotMatch(fs.readFileSync(agents[0].logFile, 'utf8'), /endpoint re-attached/);
    assert.strictEqual(await ipamHolds(ip), false);
  });

  it('a conflist naming a network that does not exist fails visibly in ctr and changes nothing', async () => {
    const bad = cds[0].confDir('bad', {
      cniVersion: '1.0.0',
      name: 'vxnet-bad',
      plugins: [{ type: 'vxnet', network: 'nosuch', agent: path.join(agents[0].dir, 'cni.sock') }],
    });
    const before = await dumpEtcd(kv);
    const linksBefore = sh('ip', ['-n', cl!.topo.hosts[0].ns, '-o', 'link', 'show']).split('\n').length;
    const r = cds[0].run('bad', ['true'], { netd: bad, rm: true });
    assert.notStrictEqual(r.code, 0);
    assert.match(r.stderr, /network nosuch not found/, r.stderr);
    cds[0].removeWithoutDel('bad');
    assert.deepStrictEqual(Object.keys(await dumpEtcd(kv)).sort(), Object.keys(before).sort());
    assert.strictEqual(sh('ip', ['-n', cl!.topo.hosts[0].ns, '-o', 'link', 'show']).split('\n').length, linksBefore);
  });
});
