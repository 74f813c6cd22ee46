import * as assert from 'assert';
import * as fs from 'fs';
import { status } from '@grpc/grpc-js';
import type { Etcd3 } from 'etcd3';
import { dumpEtcd } from '../helpers/etcd';
import type { EtcdCluster } from '../helpers/etcd';
import { EtcdLink } from '../helpers/etcd-link';
import { useCluster } from '../helpers/cluster';
import { runCli } from '../helpers/agent';
import type { TestAgent } from '../helpers/agent';
import { fdbOf, ping, pingFlood, sh, waitFor } from '../helpers/topology';
import type { Topology } from '../helpers/topology';

// A host cut off from etcd keeps its data plane and its peers keep it; a host gone for good is seen
// as such and removed on request (or after dead_host_timeout); an etcd outage is told fast and
// truthfully. Each host reaches etcd through an EtcdLink that the tests cut like a dropped link.
describe('partitions and dead hosts', function () {
  this.timeout(120000);
  const TTL = 3;
  const DEAD_S = 12; // h1 only: the first up host by name is the one that removes dead hosts
  const links: Record<string, EtcdLink> = {};
  const cluster = useCluster({
    hosts: 3,
    agent: (h, etcd) => {
      links[h.name] = EtcdLink.open(etcd.unixUrls[0]);
      return {
        etcd: [links[h.name].url],
        leaseTtl: TTL,
        resyncInterval: 3600,
        extra: h.name === 'h1' ? ['--dead-host-timeout', String(DEAD_S)] : [],
      };
    },
    logLines: 30,
    beforeStop: () => Object.values(links).forEach((l) => l.heal()),
  });
  after(() => Object.values(links).forEach((l) => l.close()));

  let etcd: EtcdCluster;
  let kv: Etcd3;
  let topo: Topology;
  let agents: TestAgent[];
  const box: Record<string, string> = {};
  const ip: Record<string, string> = {};
  const mac: Record<string, string> = {};
  let vx = '';
  const sock = (i: number): string => `unix://${agents[i].socket}`;
  const cli = (i: number, args: string[]): ReturnType<typeof runCli> => runCli(args, { host: sock(i) });

  const connect = async (name: string, host: number): Promise<void> => {
    box[name] = topo.container(name);
    const r = await agents[host].client.connect({ network: 'pt', sandbox: box[name] });
    ip[name] = r.endpoint!.ipv4Address.split('/')[0];
    mac[name] = r.endpoint!.macAddress;
  };
  const logSince = (a: TestAgent, offset: number): string => fs.readFileSync(a.logFile, 'utf8').slice(offset);
  const hostLs = async (i: number): Promise<Record<string, { state: string; endpoints: number }>> => {
    const r = await agents[i].client.listHosts({});
    return Object.fromEntries(r.hosts.map((h) => [h.name, { state: h.state, endpoints: h.endpoints }]));
  };
  const keysOfHost = async (name: string): Promise<string[]> => {
    const d = await dumpEtcd(kv);
    return Object.entries(d)
      .filter(([k, v]) => k.endsWith(`/${name}`) || v.includes(`"host":"${name}"`))
      .map(([k]) => k);
  };

  before(async () => {
    ({ etcd, kv, topo, agents } = cluster());
    const net = await agents[0].client.create({ name: 'pt', ipamConfig: [{ subnet: '10.79.0.0/24' }] });
    vx = `vx-${net.vni}`;
    await connect('a1', 0);
    await connect('b1', 1);
    await connect('c1', 2);
    await waitFor('a1 reaches b1 and c1', () => ping(box.a1, ip.b1) && ping(box.a1, ip.c1), 5000);
  });

  it('a host cut off from etcd for 3x the lease TTL: 0 pings lost both ways, its peers keep it, and its return writes nothing', async () => {
    const offsets = agents.map((a) => fs.statSync(a.logFile).size);
    const seconds = 3 * TTL + 2;
    const flows = [pingFlood(box.a1, ip.b1, seconds), pingFlood(box.b1, ip.a1, seconds)];
    await new Promise((r) => setTimeout(r, 1000));
    links.h1.partition();
    try {
      await waitFor(
        'h2 sees h1 unreachable',
        async () => (await hostLs(1)).h1?.state === 'unreachable',
        (TTL + 3) * 1000,
        200,
      );
      await new Promise((r) => setTimeout(r, 3 * TTL * 1000 - (TTL + 1) * 1000));
      assert.match(fdbOf(topo.hosts[1].ns, vx), new RegExp(mac.a1), 'h2 dropped the entry of h1 container');
    } finally {
      links.h1.heal();
    }
    const [out, back] = await Promise.all(flows);
    console.log(
      `      measured: a1->b1 ${out.received}/${out.sent}, b1->a1 ${back.received}/${back.sent} across the partition`,
    );
    assert.strictEqual(out.sent - out.received, 0, out.out);
    assert.strictEqual(back.sent - back.received, 0, back.out);
    await waitFor('h1 up again', async () => (await hostLs(1)).h1?.state === 'up', 10000, 200);
    // Adopted as it is: no kernel write on either side from the re-registration.
    await new Promise((r) => setTimeout(r, 1000));
    for (const [i, a] of agents.entries())
      assert.doesNotMatch(logSince(a, offsets[i]), /"msg":"reconciled"/, `${a.opts.name} wrote the kernel`);
  });

  it('a Connect on a host cut off from etcd fails within a second naming etcd and leaves nothing, also after healing; one elsewhere reaches it after', async () => {
    links.h1.partition();
    let lost: string;
    try {
      // The agent needs a moment to hear nothing: every call after that is told at once.
      const sandbox = topo.container('lost');
      lost = sandbox;
      const t0 = Date.now();
      const r = await cli(0, ['network', 'connect', 'pt', sandbox]);
      const took = Date.now() - t0;
      console.log(`      measured: connect on the cut-off host answered in ${took} ms`);
      assert.notStrictEqual(r.code, 0);
      assert.match(r.stderr, /etcd/);
      assert.doesNotMatch(r.stderr, /Is the agent running/);
      assert.ok(took < 1000 + 500, `took ${took} ms (CLI start included)`);
      assert.doesNotMatch(sh('ip', ['-n', sandbox, '-o', 'link']), /eth0/);
      // Reads answer from the view, marked stale.
      const ls = await cli(0, ['network', 'ls']);
      assert.strictEqual(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, /\bpt\b/);
      assert.match(ls.stderr, /WARNING: etcd is not answering: this is host h1's view/);
      const insp = await cli(0, ['network', 'inspect', 'pt']);
      assert.strictEqual(insp.code, 0, insp.stderr);
      assert.match((JSON.parse(insp.stdout) as { Stale?: string }[])[0].Stale ?? '', /etcd is not answering/);
      // The other side of the partition works as usual.
      await connect('b2', 1);
    } finally {
      links.h1.heal();
    }
    await waitFor('a1 reaches b2', () => ping(box.a1, ip.b2), 5000);
    await new Promise((r) => setTimeout(r, 2000));
    const eps = (await agents[1].client.inspect({ network: 'pt' })).endpoints;
    assert.ok(!eps.some((e) => e.name.includes('lost')), `the abandoned Connect left ${JSON.stringify(eps)}`);
    assert.doesNotMatch(sh('ip', ['-n', lost, '-o', 'link']), /eth0/);
    await agents[1].client.disconnect({ network: 'pt', sandbox: box.b2 });
  });

  it('host ls states and filters; host rm refused while up, and for bad names', async () => {
    const ls = await cli(1, ['host', 'ls']);
    assert.strictEqual(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /HOST\s+VTEP\s+VERSION\s+UPTIME\s+ENDPOINTS\s+LEASE TTL\s+STATE/);
    assert.match(ls.stdout, /h3\s+\S+\s+\S+\s+\S+\s+1\s+\d+s\s+up/);
    const q = await cli(1, ['host', 'ls', '-q', '--filter', 'state=up']);
    assert.deepStrictEqual(q.stdout.trim().split('\n'), ['h1', 'h2', 'h3']);
    const none = await cli(1, ['host', 'ls', '-q', '-f', 'state=unreachable']);
    assert.strictEqual(none.stdout, '');
    const f = await cli(1, ['host', 'ls', '--format', '{{.Name}} {{.Endpoints}}']);
    assert.match(f.stdout, /^h1 1$/m);
    const bad = await cli(1, ['host', 'ls', '-f', 'state=dead']);
    assert.strictEqual(bad.code, 1);
    assert.match(bad.stderr, /use up or unreachable/);
    const before = await dumpEtcd(kv);
    const cases: [string, number, RegExp][] = [
      ['h3', status.FAILED_PRECONDITION, /is up/],
      ['h2', status.FAILED_PRECONDITION, /own host/],
      ['nosuch', status.NOT_FOUND, /no host nosuch/],
      ['', status.INVALID_ARGUMENT, /required/],
      ['bad/name', status.INVALID_ARGUMENT, /not a valid host name/],
    ];
    for (const [name, code, msg] of cases)
      await assert.rejects(
        agents[1].client.removeHost({ name, force: false }),
        (e: { code: number; details: string }) => {
          assert.strictEqual(e.code, code, `${name}: ${e.details}`);
          assert.match(e.details, msg);
          return true;
        },
      );
    const cliUp = await cli(1, ['host', 'rm', 'h3']);
    assert.strictEqual(cliUp.code, 1);
    assert.match(cliUp.stderr, /Error response from agent: host rm: h3 is up/);
    assert.deepStrictEqual(await dumpEtcd(kv), before);
  });

  it('after kill -9 and the TTL, host rm releases every endpoint of the host and its peers lose exactly its entries', async () => {
    await connect('c2', 2);
    await waitFor('a1 reaches c2', () => ping(box.a1, ip.c2), 5000);
    const fdbBefore = fdbOf(topo.hosts[0].ns, vx);
    agents[2].signal('SIGKILL');
    await waitFor(
      'h3 marked unreachable',
      async () =>
        (await agents[0].client.listHosts({})).hosts.some((h) => h.name === 'h3' && h.since && h.state !== 'up'),
      (TTL + 5) * 1000,
      200,
    );
    const ls = await cli(0, ['host', 'ls']);
    assert.match(ls.stdout, /h3\s.*\s2\s+-\s+unreachable since \d{4}-\d\d-\d\dT/);
    // Still programmed: the lease says nothing about its containers.
    assert.match(fdbOf(topo.hosts[0].ns, vx), new RegExp(mac.c2));
    const rm = await cli(0, ['host', 'rm', 'h3']);
    assert.strictEqual(rm.code, 0, rm.stderr);
    assert.match(rm.stderr, /released 2 endpoint/);
    assert.deepStrictEqual(await keysOfHost('h3'), []);
    await waitFor(
      'h1 and h2 dropped h3 entries',
      () => [0, 1].every((h) => ![mac.c1, mac.c2].some((m) => fdbOf(topo.hosts[h].ns, vx).includes(m))),
      3000,
    );
    const kept = fdbBefore
      .split('\n')
      .filter((l) => l.trim() && !l.includes(mac.c1) && !l.includes(mac.c2))
      .map((l) => l.trim())
      .sort();
    const now = fdbOf(topo.hosts[0].ns, vx)
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => l.trim())
      .sort();
    assert.deepStrictEqual(now, kept);
    // Its addresses can be taken again, here by static Connects on another host.
    for (const name of ['c1', 'c2']) {
      const again = topo.container(`re${name}`);
      const r = await agents[1].client.connect({ network: 'pt', sandbox: again, ipv4Address: ip[name] });
      assert.strictEqual(r.endpoint!.ipv4Address.split('/')[0], ip[name]);
      await agents[1].client.disconnect({ network: 'pt', sandbox: again });
    }
    assert.ok(!(await hostLs(0)).h3);
    // Back with a fresh agent: its sandboxes' endpoints are gone, so it releases nothing more.
    await agents[2].start();
    await waitFor('h3 up', async () => (await hostLs(0)).h3?.state === 'up', 10000, 200);
  });

  it('host rm --force removes a host cut off behind a partition while its lease still runs; healed, it registers again', async () => {
    await connect('c3', 2);
    links.h3.partition();
    try {
      const up = await cli(1, ['host', 'rm', 'h3']);
      assert.strictEqual(up.code, 1);
      assert.match(up.stderr, /h3 is up .* --force/);
      const rm = await cli(1, ['host', 'rm', '--force', 'h3']);
      assert.strictEqual(rm.code, 0, rm.stderr);
      assert.match(rm.stderr, /WARNING: removed h3 by force/);
      assert.ok(!(await hostLs(1)).h3);
      await waitFor('peers dropped c3', () => !fdbOf(topo.hosts[0].ns, vx).includes(mac.c3), 3000);
    } finally {
      links.h3.heal();
    }
    await waitFor('h3 registered again', async () => (await hostLs(1)).h3?.state === 'up', 15000, 200);
    await waitFor('c3 veth gone on h3', () => !/eth0/.test(sh('ip', ['-n', box.c3, '-o', 'link'])), 5000);
  });

  it('dead_host_timeout removes a killed host by itself', async () => {
    await connect('c4', 2);
    agents[2].signal('SIGKILL');
    const t0 = Date.now();
    await waitFor('h3 removed by h1', async () => !(await hostLs(0)).h3, (TTL + DEAD_S + 6) * 1000, 250);
    console.log(
      `      measured: a killed host removed ${Date.now() - t0} ms after SIGKILL (TTL ${TTL} s, dead_host_timeout ${DEAD_S} s)`,
    );
    assert.deepStrictEqual(await keysOfHost('h3'), []);
    assert.match(fs.readFileSync(agents[0].logFile, 'utf8'), /removed a host unreachable past dead_host_timeout/);
    await agents[2].start();
  });

  it('etcd stopped: every call answers within a second naming etcd; reads are stale, writes change nothing; the first create after it returns succeeds', async () => {
    const settled = (d: Record<string, string>): Record<string, string> =>
      Object.fromEntries(Object.entries(d).filter(([k]) => !/\/(alive|down|reconciled)\//.test(k)));
    const before = settled(await dumpEtcd(kv));
    await etcd.stopMember(0);
    try {
      const sandbox = topo.container('down');
      const c = agents[0].client;
      const calls: [string, () => Promise<unknown>, boolean][] = [
        ['ls', () => c.list({}), true],
        ['inspect', () => c.inspect({ network: 'pt' }), true],
        ['host ls', () => c.listHosts({}), true],
        ['create', () => c.create({ name: 'during', ipamConfig: [{ subnet: '10.80.0.0/24' }] }), false],
        ['connect', () => c.connect({ network: 'pt', sandbox }), false],
        ['rm', () => c.delete({ network: 'pt' }), false],
      ];
      for (const [what, call, read] of calls) {
        const t0 = Date.now();
        const r = await call().then(
          (v) => ({ ok: true, v, details: '' }),
          (e: { code: number; details: string }) => {
            assert.strictEqual(e.code, status.UNAVAILABLE, `${what}: ${e.details}`);
            return { ok: false, v: undefined, details: e.details };
          },
        );
        const took = Date.now() - t0;
        console.log(`      measured: ${what} with etcd stopped answered in ${took} ms`);
        assert.ok(took < 1000, `${what} took ${took} ms`);
        assert.strictEqual(r.ok, read, `${what}: ${r.details}`);
        if (read) assert.match(JSON.stringify(r.v), /etcd is not answering: this is host h1's view/);
        else assert.match(r.details, /etcd .*Host h1 keeps forwarding for its \d+ local endpoint/);
      }
      assert.doesNotMatch(sh('ip', ['-n', sandbox, '-o', 'link']), /eth0/);
      // What a person reads: the etcd problem and the stale view, never "is the agent running?".
      const ls = await cli(0, ['network', 'ls']);
      assert.strictEqual(ls.code, 0, ls.stderr);
      assert.match(ls.stderr, /^WARNING: etcd is not answering/m);
      const hosts = await cli(0, ['host', 'ls']);
      assert.match(hosts.stderr, /^WARNING: etcd is not answering/m);
      const create = await cli(0, ['network', 'create', '--subnet', '10.80.0.0/24', 'during']);
      assert.strictEqual(create.code, 1);
      assert.match(create.stderr, /^Error response from agent: etcd /m);
      assert.doesNotMatch(create.stderr, /Is the agent running/);
    } finally {
      await etcd.startMember(0);
    }
    const t0 = Date.now();
    await agents[0].client.create({ name: 'after', ipamConfig: [{ subnet: '10.81.0.0/24' }] });
    console.log(`      measured: the first create after etcd started again took ${Date.now() - t0} ms`);
    const after = settled(await dumpEtcd(kv));
    const changed = Object.keys({ ...before, ...after }).filter((k) => before[k] !== after[k]);
    assert.ok(
      changed.every((k) => after[k]?.includes('"after"') || /\/(networks|names|vnis)\//.test(k)),
      `changed during the outage: ${changed.join(', ')}`,
    );
    assert.strictEqual(changed.length, 3, changed.join(', '));
    await agents[0].client.delete({ network: 'after' });
  });
});
