import * as assert from 'assert';
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { runCli, ROOT } from '../helpers/agent';
import { useCluster } from '../helpers/cluster';
import { sh, UNDERLAY, waitFor } from '../helpers/topology';

const TOOL = path.join(ROOT, 'dist', 'test', 'helpers', 'dns-tool.js');
const BLACKHOLE = `${UNDERLAY}.249`; // takes queries and never answers
const UPSTREAM = `${UNDERLAY}.250`;

// Names across 3 hosts, from containers attached by the CLI: their resolv.conf is the one the CLI
// writes, so `ip netns exec` lookups go where a container's would. An "outside" namespace on the
// underlay runs two upstreams (one a blackhole) and stands for the internet; nothing here reaches a
// real resolver (the agents are given the outside upstreams, never /etc/resolv.conf's).
describe('names (the resolver on the gateways)', function () {
  this.timeout(60_000);
  const cluster = useCluster({
    hosts: 3,
    agent: (h) => ({ extra: ['--dns-upstreams', h.name === 'h1' ? `${BLACKHOLE},${UPSTREAM}` : UPSTREAM] }),
    beforeStop: () => upstreams.forEach((u) => u.proc.kill('SIGKILL')),
  });
  const upstreams: { proc: ChildProcess; lines: string[] }[] = [];
  let outside = '';
  const boxes: Record<string, string> = {};

  const cli = async (host: number, ...args: string[]): Promise<string> => {
    const r = await runCli(args, { host: `unix://${cluster().agents[host].socket}` });
    assert.strictEqual(r.code, 0, `vxnet ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const inBox = (box: string, cmd: string[], timeoutMs = 10_000): { code: number | null; out: string } => {
    const r = spawnSync('ip', ['netns', 'exec', boxes[box], ...cmd], { encoding: 'utf8', timeout: timeoutMs });
    return { code: r.status, out: r.stdout };
  };
  const query = (box: string, server: string, name: string, type = 'A', tcp = false): Record<string, unknown> =>
    JSON.parse(
      inBox(box, [process.execPath, TOOL, 'query', server, name, type, ...(tcp ? ['tcp'] : [])]).out,
    ) as Record<string, unknown>;
  const getent = (box: string, name: string): string => inBox(box, ['getent', 'hosts', name]).out.trim();
  const startUpstream = (addr: string, silent = false): Promise<void> => {
    const proc = spawn('ip', [
      'netns',
      'exec',
      outside,
      process.execPath,
      TOOL,
      'upstream',
      addr,
      ...(silent ? ['silent'] : []),
    ]);
    const u = { proc, lines: [] as string[] };
    upstreams.push(u);
    return new Promise((resolve, reject) => {
      proc.stdout.setEncoding('utf8');
      proc.stdout.on('data', (d: string) => {
        u.lines.push(...d.split('\n').filter(Boolean));
        if (u.lines.includes('listening')) resolve();
      });
      proc.on('exit', (c) => reject(new Error(`upstream ${addr} exited ${c}`)));
    });
  };
  const seenOutside = (name: string): number =>
    upstreams.reduce((n, u) => n + u.lines.filter((l) => l.startsWith(`Q ${name} `)).length, 0);

  before(async () => {
    const c = cluster();
    outside = c.topo.addNs('out');
    sh('ip', [
      'link',
      'add',
      `${c.topo.prefix.slice(0, 8)}out`,
      'netns',
      outside,
      'type',
      'veth',
      'peer',
      'name',
      'out',
      'netns',
      c.topo.underlay,
    ]);
    sh('ip', ['-n', outside, 'link', 'set', `${c.topo.prefix.slice(0, 8)}out`, 'name', 'eth0']);
    for (const a of [BLACKHOLE, UPSTREAM]) sh('ip', ['-n', outside, 'addr', 'add', `${a}/24`, 'dev', 'eth0']);
    sh('ip', ['-n', outside, 'link', 'set', 'eth0', 'up']);
    sh('ip', ['-n', c.topo.underlay, 'link', 'set', 'out', 'master', 'ul', 'up']);
    await Promise.all([startUpstream(BLACKHOLE, true), startUpstream(UPSTREAM)]);
    await cli(0, 'network', 'create', '--subnet', '10.77.0.0/24', 'blue');
    await cli(0, 'network', 'create', '--subnet', '10.78.0.0/24', 'red');
    await cli(0, 'network', 'create', '--subnet', '10.79.0.0/24', '--internal', 'vault');
    await cli(0, 'network', 'create', '--ipv6', '--subnet', '10.80.0.0/24', '--subnet', 'fd00:80::/64', 'six');
    for (const [box, host, net, ...extra] of [
      ['web', 0, 'blue', '--alias', 'www'],
      ['db', 1, 'blue', '--alias', 'store'],
      ['worker', 2, 'blue'],
      ['cache', 1, 'red', '--alias', 'store'],
      ['reader', 0, 'red'],
      ['safe', 1, 'vault'],
      ['guard', 2, 'vault'],
      ['v6a', 0, 'six'],
      ['v6b', 2, 'six'],
    ] as [string, number, string, ...string[]][]) {
      boxes[box] = c.topo.container(box);
      await cli(host, 'network', 'connect', '--wait', ...extra, '--name', box, net, boxes[box]);
    }
  });

  it('writes the namespace resolv.conf that ip netns exec mounts', () => {
    const text = inBox('web', ['cat', '/etc/resolv.conf']).out;
    assert.match(text, /^nameserver 10\.77\.0\.1$/m);
    assert.match(text, /^search blue\.vxnet vxnet$/m);
    assert.match(text, /^options ndots:1 timeout:1 attempts:3$/m);
  });

  it('resolves names and aliases across hosts, short and NAME.NETWORK.vxnet, with getent', () => {
    assert.match(getent('web', 'db'), /^10\.77\.0\.3\s+db/);
    assert.match(getent('worker', 'web'), /^10\.77\.0\.2\s+web/);
    assert.match(getent('db', 'www'), /^10\.77\.0\.2\s+www/);
    assert.match(getent('web', 'worker.blue.vxnet'), /^10\.77\.0\.4\s/);
    assert.match(getent('worker', 'store'), /^10\.77\.0\.3\s/);
    const r = query('web', '10.77.0.1', 'db.blue.vxnet');
    assert.deepStrictEqual(r.answers, ['10.77.0.3']);
    assert.deepStrictEqual(r.ttls, [2]);
    assert.strictEqual(query('web', '10.77.0.1', 'db', 'AAAA').rcode, 'NOERROR'); // NODATA
  });

  it('scopes names to the asking network: aliases are per network, red is invisible from blue', () => {
    assert.match(getent('reader', 'store'), /^10\.78\.0\.2\s/); // red's store is cache
    assert.strictEqual(query('web', '10.77.0.1', 'cache.red.vxnet').rcode, 'NXDOMAIN');
    assert.strictEqual(query('web', '10.77.0.1', 'reader.vxnet').rcode, 'NXDOMAIN');
    assert.strictEqual(getent('web', 'cache.red.vxnet'), '');
    // red's gateway asked from blue (routed through the host): refused, not answered
    assert.strictEqual(query('web', '10.78.0.1', 'cache').rcode ?? 'REFUSED', 'REFUSED');
  });

  it('answers AAAA on an IPv6 network', () => {
    const r = query('v6a', '10.80.0.1', 'v6b', 'AAAA');
    assert.deepStrictEqual(r.answers, ['fd00:80::3']);
    assert.match(getent('v6a', 'v6b'), /^fd00:80::3\s+v6b/);
  });

  it('serves a TC answer over TCP', () => {
    const r = query('web', '10.77.0.1', 'big.example.com');
    assert.strictEqual(r.tc, true);
    const t = query('web', '10.77.0.1', 'big.example.com', 'A', true);
    assert.strictEqual((t.answers as string[]).length, 50);
    assert.deepStrictEqual(query('web', '10.77.0.1', 'db', 'A', true).answers, ['10.77.0.3']);
  });

  it('forwards other names through the outside resolver, the second upstream when the first is silent', async () => {
    // h2's only upstream answers
    assert.match(getent('db', 'example.com'), /^198\.51\.100\.80\s+example\.com/);
    // h1's first upstream is a blackhole: one timeout (1 s), then the second
    const start = Date.now();
    const r = query('web', '10.77.0.1', 'example.com', 'A');
    const ms = Date.now() - start;
    assert.deepStrictEqual(r.answers, ['198.51.100.80']);
    console.log(`      forwarded past a blackholed first upstream in ${ms} ms`);
    await waitFor('both upstreams to log the query', () => seenOutside('example.com') >= 3, 3000);
    assert.ok(upstreams[0].lines.includes('Q example.com A'), 'the blackhole was asked first');
    assert.strictEqual(query('web', '10.77.0.1', 'nothing.example.com').rcode, 'NXDOMAIN');
  });

  it('an internal network resolves its own names and sends nothing outside', async () => {
    assert.match(getent('safe', 'guard'), /^10\.79\.0\.3\s/);
    const before = seenOutside('exfil.example.com');
    assert.strictEqual(query('safe', '10.79.0.1', 'exfil.example.com').rcode, 'REFUSED');
    assert.strictEqual(query('guard', '10.79.0.1', 'example.com').rcode, 'REFUSED'); // not from the cache either
    assert.strictEqual(getent('safe', 'example.com'), '');
    // A query forwarded from the same host after them: once the outside has logged it, it would
    // have logged theirs.
    assert.deepStrictEqual(query('db', '10.77.0.1', 'marker.example.com').rcode, 'NXDOMAIN');
    await waitFor('the marker to reach the outside', () => seenOutside('marker.example.com') > 0, 3000);
    assert.strictEqual(seenOutside('exfil.example.com'), before);
    assert.strictEqual(before, 0);
  });

  it('survives 1,200 hostile packets: FORMERR, REFUSED or NOTIMP, no leak, still serving', async () => {
    const a = cluster().agents[0];
    const pid = a.resolverPid!;
    assert.ok(pid);
    const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
    const r = JSON.parse(inBox('web', [process.execPath, TOOL, 'flood', '10.77.0.1', '1200'], 30_000).out) as {
      answers: Record<string, number>;
    };
    console.log(`      hostile packets' answers: ${JSON.stringify(r.answers)}`);
    assert.deepStrictEqual(
      Object.keys(r.answers).filter((k) => !['FORMERR', 'REFUSED', 'NOTIMP', 'NOERROR'].includes(k)),
      [],
    );
    assert.ok((r.answers.FORMERR ?? 0) > 0 && (r.answers.REFUSED ?? 0) > 0);
    assert.ok(fs.existsSync(`/proc/${pid}`), 'the resolver is alive');
    assert.ok(fs.readdirSync(`/proc/${pid}/fd`).length <= fds + 2);
    // ANY for web from blue: blue's web only
    assert.deepStrictEqual(query('web', '10.77.0.1', 'web', 'ANY').answers, ['10.77.0.2']);
    assert.deepStrictEqual(query('web', '10.77.0.1', 'db').answers, ['10.77.0.3']);
  });

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    // SIGTERM and a start: what `systemctl restart` does to the agent.
    it(`loses no lookup while the agent is stopped with ${signal} and started again a second later`, async () => {
      const a = cluster().agents[0];
      const resolver = a.resolverPid;
      const loop = spawn('ip', [
        'netns',
        'exec',
        boxes.web,
        process.execPath,
        TOOL,
        'loop',
        '10.77.0.1',
        'db',
        '5',
        '200',
      ]);
      let out = '';
      loop.stdout.setEncoding('utf8');
      loop.stdout.on('data', (d: string) => (out += d));
      const ended = new Promise<void>((r) => loop.on('exit', () => r()));
      await new Promise((r) => setTimeout(r, 500));
      await a.stop(signal);
      await new Promise((r) => setTimeout(r, 1000));
      await a.start();
      await ended;
      const res = JSON.parse(out) as { ok: number; failed: number };
      console.log(`      lookups across ${signal} and a restart: ${JSON.stringify(res)}`);
      assert.strictEqual(res.failed, 0);
      assert.ok(res.ok >= 500);
      assert.strictEqual(a.resolverPid, resolver, 'the same resolver serves on');
      // the new agent feeds it
      const box = `late${signal}`;
      boxes[box] = cluster().topo.container(box);
      await cli(0, 'network', 'connect', '--name', box.toLowerCase(), 'blue', boxes[box]);
      await waitFor(`${box} to resolve`, () => getent('web', box.toLowerCase()) !== '', 3000);
    });
  }

  it('a disconnected endpoint stops resolving, and the last disconnect removes the resolv.conf', async () => {
    await cli(2, 'network', 'disconnect', 'blue', boxes.worker);
    const ms = await waitFor(
      'worker to stop resolving',
      () => query('web', '10.77.0.1', 'worker.blue.vxnet').rcode === 'NXDOMAIN',
      3000,
      20,
    );
    console.log(`      stopped resolving ${ms} ms after the disconnect answered`);
    assert.ok(!fs.existsSync(`/etc/netns/${boxes.worker}/resolv.conf`));
    await cli(0, 'network', 'connect', 'red', boxes.web);
    await cli(0, 'network', 'disconnect', 'red', boxes.web);
    assert.match(fs.readFileSync(`/etc/netns/${boxes.web}/resolv.conf`, 'utf8'), /^nameserver 10\.77\.0\.1$/m);
  });
});
