import * as assert from 'assert';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import type { Etcd3 } from 'etcd3';
import { dumpEtcd } from '../helpers/etcd';
import { useCluster } from '../helpers/cluster';
import type { TestAgent } from '../helpers/agent';
import { Topology, waitFor, sh, addrOf } from '../helpers/topology';
import { takePid, killPid } from '../helpers/pids';

// A sandbox is the namespace Connect opened, not its path: a path that names another namespace
// later (bind-mounted over, a PID taken by another process) must get nothing, and the endpoint is
// released as for a sandbox that ended.

function linksIn(args: string[]): string {
  return sh('nsenter', [...args, 'ip', '-o', 'link', 'show'], { allowFail: true });
}

// A process in a network namespace of its own, started by this test.
function loner(): ChildProcess {
  return spawn('unshare', ['--net', 'sleep', '1000'], { stdio: 'ignore' });
}

async function ended(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGKILL');
  await gone;
}

describe('sandbox identity: a path that names another namespace gets nothing', function () {
  this.timeout(90000);
  const procs: ChildProcess[] = [];
  const strangers: number[] = [];
  const mounted: string[] = [];
  const cluster = useCluster({
    hosts: 1,
    logLines: 20,
    beforeStop: async () => {
      for (const m of mounted) sh('umount', [m], { allowFail: true });
      for (const p of procs) await ended(p);
      for (const pid of strangers) killPid(pid);
    },
  });
  let kv: Etcd3;
  let topo: Topology;
  let agent: TestAgent;

  const endpointIps = async (): Promise<string[]> =>
    (await agent.client.inspect({ network: 'idnet' })).endpoints.map((e) => e.ipv4Address.split('/')[0]);
  const ipamHolds = async (ip: string): Promise<boolean> =>
    Object.keys(await dumpEtcd(kv)).some((k) => k.includes('/ipam/') && k.endsWith(`/${ip}`));

  before(async () => {
    ({ kv, topo } = cluster());
    agent = cluster().agents[0];
    await agent.client.create({ name: 'idnet', ipamConfig: [{ subnet: '10.94.0.0/24' }] });
  });

  it('Connect records the identity of the namespace it opened', async () => {
    const box = topo.container('idrec');
    const r = await agent.client.connect({ network: 'idnet', sandbox: box });
    const rec = Object.entries(await dumpEtcd(kv)).find(
      ([k]) => k.includes('/endpoints/') && k.endsWith(r.endpoint!.endpointId),
    );
    assert.ok(rec, 'endpoint record');
    const st = fs.statSync(`/run/netns/${box}`);
    assert.deepStrictEqual((JSON.parse(String(rec[1])) as { netns: unknown }).netns, { dev: st.dev, ino: st.ino });
    await agent.client.disconnect({ network: 'idnet', sandbox: box });
  });

  it('a veth deleted by hand in a live sandbox that is still the same namespace is attached again there', async () => {
    const box = topo.container('idsame');
    const r = await agent.client.connect({ network: 'idnet', sandbox: box });
    const ip = r.endpoint!.ipv4Address.split('/')[0];
    const host = cluster().topo.hosts[0].ns;
    const veth = /^\d+: (vxv\w+)@/m.exec(sh('ip', ['-n', host, '-o', 'link', 'show', 'type', 'veth']))![1];
    sh('ip', ['-n', host, 'link', 'del', veth]);
    agent.signal('SIGHUP');
    await waitFor(
      're-attached',
      () => {
        try {
          return addrOf(box) === ip;
        } catch {
          return false;
        }
      },
      10000,
    );
    assert.match(fs.readFileSync(agent.logFile, 'utf8'), /endpoint re-attached/);
    await agent.client.disconnect({ network: 'idnet', sandbox: box });
  });

  it('a /run/netns/NAME with another namespace bind-mounted over it: nothing attached there, the endpoint released', async () => {
    const box = topo.container('idbox');
    const other = topo.container('idother');
    const r = await agent.client.connect({ network: 'idnet', sandbox: box });
    const ip = r.endpoint!.ipv4Address.split('/')[0];
    assert.strictEqual(addrOf(box), ip);
    sh('mount', ['--bind', `/run/netns/${other}`, `/run/netns/${box}`]);
    mounted.push(`/run/netns/${box}`);
    agent.signal('SIGHUP');
    await waitFor('endpoint released', async () => !(await endpointIps()).includes(ip), 10000);
    assert.strictEqual(await ipamHolds(ip), false, 'address still allocated');
    assert.doesNotMatch(linksIn([`--net=/run/netns/${other}`]), /eth0/, 'an interface was made in the other namespace');
    // Another resync after the release attaches nothing either.
    agent.signal('SIGHUP');
    await new Promise((res) => setTimeout(res, 1500));
    assert.doesNotMatch(linksIn([`--net=/run/netns/${other}`]), /eth0/);
    assert.match(fs.readFileSync(agent.logFile, 'utf8'), /sandbox is gone, releasing its endpoint/);
  });

  it('a /proc/PID/ns/net whose PID another process in another namespace took: it gets no interface, the endpoint is released', async function () {
    const p = loner();
    procs.push(p);
    const pid = p.pid!;
    await waitFor(
      'own namespace',
      () => fs.readlinkSync(`/proc/${pid}/ns/net`) !== fs.readlinkSync('/proc/self/ns/net'),
      5000,
    );
    const r = await agent.client.connect({ network: 'idnet', sandbox: `/proc/${pid}/ns/net` });
    const ip = r.endpoint!.ipv4Address.split('/')[0];
    assert.match(linksIn(['-t', String(pid), '-n']), /eth0/);
    await ended(p);
    if (!takePid(pid)) this.skip(); // the machine forked too busily to take the PID back
    strangers.push(pid);
    await waitFor(
      'the stranger in a namespace of its own',
      () => fs.readlinkSync(`/proc/${pid}/ns/net`) !== fs.readlinkSync('/proc/self/ns/net'),
      5000,
    );
    agent.signal('SIGHUP');
    await waitFor('endpoint released', async () => !(await endpointIps()).includes(ip), 10000);
    assert.strictEqual(await ipamHolds(ip), false, 'address still allocated');
    agent.signal('SIGHUP');
    await new Promise((res) => setTimeout(res, 1500));
    assert.doesNotMatch(linksIn(['-t', String(pid), '-n']), /eth0/, "the stranger got the dead container's interface");
    assert.ok(
      !fs
        .readFileSync(agent.logFile, 'utf8')
        .split('\n')
        .some((l) => l.includes('endpoint re-attached') && l.includes(`/proc/${pid}/`)),
      're-attached into the stranger',
    );
    const released = fs
      .readFileSync(agent.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('sandbox is gone') && l.includes(`/proc/${pid}/`));
    assert.strictEqual(released.length, 1, 'released once, logged once');
    console.log(`      ${(JSON.parse(released[0]) as { reason: string }).reason}`);
  });

  it('a sandbox that ends without Disconnect is released within a few seconds, not at the 30 s resync', async () => {
    const p = loner();
    procs.push(p);
    await waitFor(
      'own namespace',
      () => fs.readlinkSync(`/proc/${p.pid!}/ns/net`) !== fs.readlinkSync('/proc/self/ns/net'),
      5000,
    );
    const r = await agent.client.connect({ network: 'idnet', sandbox: `/proc/${p.pid!}/ns/net` });
    const ip = r.endpoint!.ipv4Address.split('/')[0];
    await ended(p);
    const ms = await waitFor('endpoint released', async () => !(await endpointIps()).includes(ip), 6000);
    assert.strictEqual(await ipamHolds(ip), false, 'address still allocated');
    console.log(`      released ${ms} ms after the sandbox's process ended`);
  });

  it('a record written without an identity (older version) stays attached through a resync and disconnects', async () => {
    const box = topo.container('idold');
    const r = await agent.client.connect({ network: 'idnet', sandbox: box });
    const ip = r.endpoint!.ipv4Address.split('/')[0];
    const [key, value] = Object.entries(await dumpEtcd(kv)).find(
      ([k]) => k.includes('/endpoints/') && k.endsWith(r.endpoint!.endpointId),
    )!;
    const old = JSON.parse(String(value)) as Record<string, unknown>;
    delete old.netns;
    await kv.put(key).value(JSON.stringify(old));
    // The address is removed by hand: the resync puts it back on the endpoint's own interface.
    sh('ip', ['-n', box, 'addr', 'flush', 'dev', 'eth0']);
    agent.signal('SIGHUP');
    await waitFor(
      'address repaired',
      () => {
        try {
          return addrOf(box) === ip;
        } catch {
          return false;
        }
      },
      10000,
    );
    assert.deepStrictEqual(await endpointIps(), [ip]);
    await agent.client.disconnect({ network: 'idnet', sandbox: box });
    assert.deepStrictEqual(await endpointIps(), []);
  });
});
