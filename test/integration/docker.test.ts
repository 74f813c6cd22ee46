import * as assert from 'assert';
import { dumpEtcd } from '../helpers/etcd';
import { DockerCluster, useCluster } from '../helpers/cluster';
import { sh, waitFor } from '../helpers/topology';

// Docker Engine 20.10 (Debian's docker.io) on simulated hosts, one dockerd per host namespace with
// the host's vxnet agent serving its plugin socket (test/helpers/docker.ts builds them).
// Global scope runs with Docker's etcd cluster store (a second etcd with the v2 API in the underlay);
// local scope without one.

type Lab = DockerCluster;

// `docker ...` on a host that must succeed; its stdout, trimmed.
async function d(lab: Lab, host: string, args: string[], timeoutMs = 60000): Promise<string> {
  const r = await lab.docker.docker(host, args, { timeoutMs });
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} on ${host} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

async function pings(lab: Lab, host: string, container: string, target: string): Promise<boolean> {
  return (
    (await lab.docker.docker(host, ['exec', container, 'ping', '-c', '1', '-W', '2', target], { timeoutMs: 10000 }))
      .code === 0
  );
}

async function ipOf(lab: Lab, host: string, container: string, network: string): Promise<string> {
  return d(lab, host, ['inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, container]);
}

// What a removed container must not leave behind, in etcd and in every host's kernel.
async function assertNothingLeft(lab: Lab, what: string): Promise<void> {
  const keys = Object.keys(await dumpEtcd(lab.kv));
  const left = keys.filter((k) => /\/(endpoints|ipam|epnames|reservations)\//.test(k));
  assert.deepStrictEqual(left, [], `${what}: etcd still holds ${left.join(', ')}`);
  for (const h of lab.topo.hosts) {
    await waitFor(
      `${h.name}: no veth, FDB or neighbor entry of vxnet after ${what}`,
      () => {
        const links = sh('ip', ['-n', h.ns, '-o', 'link', 'show']);
        const fdb = sh('bridge', ['-n', h.ns, 'fdb', 'show'], { allowFail: true })
          .split('\n')
          .filter((l) => / dst /.test(l) && /vx-/.test(l));
        const neigh = sh('ip', ['-n', h.ns, 'neigh', 'show'], { allowFail: true })
          .split('\n')
          .filter((l) => /dev vx-/.test(l));
        return !/ vxv[0-9a-f]{12}[@:]| vxd[0-9a-f]{12}[@:]/.test(links) && fdb.length === 0 && neigh.length === 0;
      },
      10000,
    );
  }
}

describe('Docker network and IPAM plugin, global scope (3 hosts, Docker 20.10 with an etcd cluster store)', function () {
  this.timeout(300000);
  const lab = useCluster({ hosts: 3, docker: { scope: 'global' }, agent: { resyncInterval: 3600 }, logLines: 20 });
  const H = ['h1', 'h2', 'h3'];

  it('creates a network on one host that every host sees, in global scope', async () => {
    const l = lab();
    await d(l, 'h1', [
      'network',
      'create',
      '-d',
      'vxnet',
      '--ipam-driver',
      'vxnet',
      '--subnet',
      '10.77.0.0/24',
      '-o',
      'vxnet.network=blue',
      'blue',
    ]);
    for (const h of H)
      assert.match(
        await d(l, h, ['network', 'ls', '--filter', 'name=blue', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']),
        /^blue vxnet global$/m,
      );
    const net = await l.agents[1].client.inspect({ network: 'blue' });
    assert.deepStrictEqual(
      net.ipam?.config?.map((c) => [c.subnet, c.gateway]),
      [['10.77.0.0/24', '10.77.0.1']],
    );
  });

  it('containers on every host ping each other by IP, by name and by alias; --ip is honoured', async () => {
    const l = lab();
    for (const [i, h] of H.entries()) {
      await d(l, h, [
        'run',
        '-d',
        '--name',
        `c${i + 1}`,
        '--network',
        'blue',
        '--network-alias',
        `web${i + 1}`,
        ...(i === 2 ? ['--ip', '10.77.0.100'] : []),
        'vxbusy',
        'sleep',
        '3600',
      ]);
    }
    assert.strictEqual(await ipOf(l, 'h3', 'c3', 'blue'), '10.77.0.100');
    const ips = await Promise.all(H.map((h, i) => ipOf(l, h, `c${i + 1}`, 'blue')));
    assert.strictEqual(new Set(ips).size, 3);
    for (const [i, h] of H.entries()) {
      for (const [j] of H.entries()) {
        if (i === j) continue;
        for (const target of [ips[j], `c${j + 1}`, `web${j + 1}`])
          assert.ok(await pings(l, h, `c${i + 1}`, target), `c${i + 1} on ${h} cannot ping ${target}`);
      }
    }
    // vxnet shows Docker's containers as its endpoints, with the host and Docker's IDs.
    const net = await l.agents[0].client.inspect({ network: 'blue' });
    const dockerNetId = await d(l, 'h2', ['network', 'inspect', '-f', '{{.Id}}', 'blue']);
    const epId = await d(l, 'h2', ['inspect', '-f', '{{.NetworkSettings.Networks.blue.EndpointID}}', 'c2']);
    const ep = net.endpoints?.find((e) => e.dockerEndpointId === epId);
    assert.ok(ep, `endpoint ${epId} of c2 not in vxnet network inspect`);
    assert.strictEqual(ep.host, 'h2');
    assert.strictEqual(ep.dockerNetworkId, dockerNetId);
    assert.strictEqual(ep.ipv4Address, `${ips[1]}/24`);
    // The kernel is what etcd says, Docker's endpoints included.
    for (const a of l.agents)
      assert.deepStrictEqual((await a.client.doctor({})).differences, [], `vxnet doctor on ${a.opts.name}`);
  });

  it('three containers started at once on a host new to the network reach the other host at once', async () => {
    const l = lab();
    await d(l, 'h1', [
      'network',
      'create',
      '-d',
      'vxnet',
      '--ipam-driver',
      'vxnet',
      '--subnet',
      '10.78.0.0/24',
      '-o',
      'vxnet.network=trio',
      'trio',
    ]);
    await d(l, 'h1', ['run', '-d', '--name', 't0', '--network', 'trio', 'vxbusy', 'sleep', '3600']);
    const ip = await ipOf(l, 'h1', 't0', 'trio');
    await Promise.all(
      [1, 2, 3].map((i) =>
        d(l, 'h2', ['run', '-d', '--name', `t${i}`, '--network', 'trio', 'vxbusy', 'sleep', '3600']),
      ),
    );
    for (const i of [1, 2, 3]) assert.ok(await pings(l, 'h2', `t${i}`, ip), `t${i} on h2 cannot reach t0 on h1`);
    for (const a of l.agents)
      assert.deepStrictEqual((await a.client.doctor({})).differences, [], `vxnet doctor on ${a.opts.name}`);
    await d(l, 'h1', ['rm', '-f', 't0']);
    await d(l, 'h2', ['rm', '-f', 't1', 't2', 't3']);
    await d(l, 'h1', ['network', 'rm', 'trio']);
  });

  it('30 containers started at once across the hosts get 30 distinct addresses', async () => {
    const l = lab();
    const names = Array.from({ length: 30 }, (_, i) => ({ host: H[i % 3], name: `m${i}` }));
    await Promise.all(
      names.map((n) =>
        d(l, n.host, ['run', '-d', '--name', n.name, '--network', 'blue', 'vxbusy', 'sleep', '3600'], 120000),
      ),
    );
    const ips = await Promise.all(names.map((n) => ipOf(l, n.host, n.name, 'blue')));
    assert.strictEqual(new Set(ips).size, 30, `duplicates among ${ips.join(' ')}`);
    assert.ok(await pings(l, 'h1', 'm0', ips[29]));
    await Promise.all(
      H.map((h) => d(l, h, ['rm', '-f', ...names.filter((n) => n.host === h).map((n) => n.name)], 120000)),
    );
  });

  it('bad input gets a clear "Error response from daemon" and changes nothing', async () => {
    const l = lab();
    const before = await dumpEtcd(l.kv);
    const cases: [string, string[], RegExp][] = [
      [
        'overlapping subnet',
        ['network', 'create', '-d', 'vxnet', '--ipam-driver', 'vxnet', '--subnet', '10.77.0.0/16', 'x1'],
        /overlaps with vxnet network blue/,
      ],
      [
        'unknown -o option',
        [
          'network',
          'create',
          '-d',
          'vxnet',
          '--ipam-driver',
          'vxnet',
          '--subnet',
          '10.78.0.0/24',
          '-o',
          'colour=red',
          'x2',
        ],
        /unknown option "colour"/,
      ],
      [
        'vxnet.network with another subnet',
        [
          'network',
          'create',
          '-d',
          'vxnet',
          '--ipam-driver',
          'vxnet',
          '--subnet',
          '10.79.0.0/24',
          '-o',
          'vxnet.network=blue',
          'x3',
        ],
        /vxnet network blue exists and it has subnet 10\.77\.0\.0\/24/,
      ],
      [
        "Docker's default IPAM",
        ['network', 'create', '-d', 'vxnet', '--subnet', '10.80.0.0/24', 'x4'],
        /--ipam-driver vxnet/,
      ],
      [
        '--ip outside the subnet',
        ['run', '-d', '--name', 'bad1', '--network', 'blue', '--ip', '10.99.0.5', 'vxbusy', 'sleep', '10'],
        /10\.99\.0\.5/,
      ],
      [
        '--ip taken',
        ['run', '-d', '--name', 'bad2', '--network', 'blue', '--ip', '10.77.0.100', 'vxbusy', 'sleep', '10'],
        /address 10\.77\.0\.100 is already in use/,
      ],
    ];
    for (const [what, args, msg] of cases) {
      const r = await l.docker.docker('h1', args, { timeoutMs: 60000 });
      assert.notStrictEqual(r.code, 0, `${what}: docker accepted it`);
      assert.match(r.stderr, /Error response from daemon: /, `${what}: ${r.stderr}`);
      assert.match(r.stderr, msg, `${what}: ${r.stderr}`);
    }
    await l.docker.docker('h1', ['rm', '-f', 'bad1', 'bad2'], { timeoutMs: 30000 }); // the runs may have left them created
    assert.deepStrictEqual(await dumpEtcd(l.kv), before);
    assert.doesNotMatch(await d(l, 'h2', ['network', 'ls', '--format', '{{.Name}}']), /^x\d$/m);
  });

  it('an agent killed and restarted: running containers keep pinging (20/s, none lost), a new container works', async () => {
    const l = lab();
    const ip2 = await ipOf(l, 'h2', 'c2', 'blue');
    const pinger = l.docker.docker('h1', ['exec', 'c1', 'ping', '-q', '-i', '0.05', '-c', '100', '-W', '1', ip2], {
      timeoutMs: 60000,
    });
    await new Promise((r) => setTimeout(r, 1000));
    await l.agents[1].stop('SIGKILL');
    await l.agents[1].start();
    const r = await pinger;
    const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(r.stdout);
    assert.ok(m, r.stdout + r.stderr);
    assert.strictEqual(Number(m[2]), Number(m[1]), `lost packets across the restart: ${r.stdout}`);
    await d(l, 'h2', ['run', '-d', '--name', 'c2new', '--network', 'blue', 'vxbusy', 'sleep', '3600']);
    assert.ok(await pings(l, 'h1', 'c1', 'c2new'));
    assert.ok(await pings(l, 'h2', 'c2new', 'c3'));
  });

  it('dockerd restarted: its containers come back connected', async () => {
    const l = lab();
    await d(l, 'h3', [
      'run',
      '-d',
      '--name',
      'c3r',
      '--restart',
      'always',
      '--network',
      'blue',
      'vxbusy',
      'sleep',
      '3600',
    ]);
    await l.docker.restartDaemon('h3');
    await waitFor(
      'c3r running again after the dockerd restart',
      async () =>
        (await l.docker.docker('h3', ['inspect', '-f', '{{.State.Running}}', 'c3r'])).stdout.trim() === 'true',
      30000,
      200,
    );
    await waitFor('c1 reaches c3r by name', () => pings(l, 'h1', 'c1', 'c3r'), 15000, 200);
    assert.ok(await pings(l, 'h3', 'c3r', 'c2'));
  });

  it("a container removed while its host's agent was down is cleaned up at the next reconcile", async () => {
    const l = lab();
    await d(l, 'h2', ['run', '-d', '--name', 'gone', '--network', 'blue', 'vxbusy', 'sleep', '3600']);
    const epId = await d(l, 'h2', ['inspect', '-f', '{{.NetworkSettings.Networks.blue.EndpointID}}', 'gone']);
    await l.agents[1].stop('SIGKILL');
    // Docker cannot tell the plugin; it retries, gives up and removes the container anyway.
    await l.docker.docker('h2', ['rm', '-f', 'gone'], { timeoutMs: 120000 });
    await l.agents[1].start();
    await waitFor(
      'the endpoint of the removed container released',
      async () => !Object.keys(await dumpEtcd(l.kv)).some((k) => k.endsWith(epId)),
      20000,
      200,
    );
  });

  it('--gateway, --ip-range, --aux-address, IPv6 and --internal behave as in the CLI', async () => {
    const l = lab();
    await d(l, 'h1', [
      'network',
      'create',
      '-d',
      'vxnet',
      '--ipam-driver',
      'vxnet',
      '--subnet',
      '10.66.0.0/24',
      '--gateway',
      '10.66.0.254',
      '--ip-range',
      '10.66.0.128/25',
      '--aux-address',
      'printer=10.66.0.128',
      '--ipv6',
      '--subnet',
      'fd00:66::/64',
      '-o',
      'vxnet.network=green',
      'green',
    ]);
    const net = await l.agents[2].client.inspect({ network: 'green' });
    assert.deepStrictEqual(
      net.ipam?.config?.map((c) => [c.subnet, c.gateway, c.ipRange, c.auxiliaryAddresses]),
      [
        ['10.66.0.0/24', '10.66.0.254', '10.66.0.128/25', { printer: '10.66.0.128' }],
        ['fd00:66::/64', 'fd00:66::1', '', {}],
      ],
    );
    await d(l, 'h1', ['run', '-d', '--name', 'g1', '--network', 'green', 'vxbusy', 'sleep', '3600']);
    await d(l, 'h2', [
      'run',
      '-d',
      '--name',
      'g2',
      '--network',
      'green',
      '--ip6',
      'fd00:66::99',
      'vxbusy',
      'sleep',
      '3600',
    ]);
    assert.strictEqual(
      await ipOf(l, 'h1', 'g1', 'green'),
      '10.66.0.129',
      'the first free address of the ip-range, past the aux address',
    );
    assert.strictEqual(
      await d(l, 'h2', ['inspect', '-f', '{{.NetworkSettings.Networks.green.GlobalIPv6Address}}', 'g2']),
      'fd00:66::99',
    );
    assert.match(await d(l, 'h1', ['exec', 'g1', 'ip', 'route']), /^default via 10\.66\.0\.254 dev eth0/m);
    assert.ok(await pings(l, 'h1', 'g1', 'fd00:66::99'), 'no IPv6 between the hosts');
    await d(l, 'h1', [
      'network',
      'create',
      '-d',
      'vxnet',
      '--ipam-driver',
      'vxnet',
      '--internal',
      '--subnet',
      '10.67.0.0/24',
      'closed',
    ]);
    await d(l, 'h1', ['run', '-d', '--name', 'i1', '--network', 'closed', 'vxbusy', 'sleep', '3600']);
    await d(l, 'h2', ['run', '-d', '--name', 'i2', '--network', 'closed', 'vxbusy', 'sleep', '3600']);
    assert.doesNotMatch(
      await d(l, 'h1', ['exec', 'i1', 'ip', 'route']),
      /default/,
      'an internal network gave a default route',
    );
    assert.ok(await pings(l, 'h1', 'i1', 'i2'), 'internal networks still connect their containers');
    await d(l, 'h1', ['rm', '-f', 'g1', 'i1']);
    await d(l, 'h2', ['rm', '-f', 'g2', 'i2']);
    await d(l, 'h3', ['network', 'rm', 'green', 'closed']);
  });

  it('disconnect, stop/start, rm -f and network rm leave no endpoint, address, veth, FDB or neighbor entry', async () => {
    const l = lab();
    await d(l, 'h1', ['network', 'disconnect', 'blue', 'c1']);
    await d(l, 'h1', ['network', 'connect', '--alias', 'again', 'blue', 'c1']);
    assert.ok(await pings(l, 'h2', 'c2', 'again'));
    await d(l, 'h2', ['stop', '-t', '0', 'c2']);
    await d(l, 'h2', ['start', 'c2']);
    assert.ok(await pings(l, 'h1', 'c1', 'c2'));
    for (const [h, names] of [
      ['h1', ['c1']],
      ['h2', ['c2', 'c2new']],
      ['h3', ['c3', 'c3r']],
    ] as const)
      await d(l, h, ['rm', '-f', ...names]);
    await assertNothingLeft(l, 'rm -f of every container');
    await d(l, 'h2', ['network', 'rm', 'blue']);
    const keys = Object.keys(await dumpEtcd(l.kv)).filter((k) => !/\/(hosts|alive)\//.test(k));
    assert.deepStrictEqual(keys, [], 'network rm left keys in etcd');
    for (const h of l.topo.hosts)
      assert.doesNotMatch(
        sh('ip', ['-n', h.ns, '-o', 'link', 'show']),
        / vx(br)?-\d+[@:]/,
        `${h.name} still has vxnet devices`,
      );
  });
});

describe('Docker network and IPAM plugin, local scope (2 hosts, no cluster store)', function () {
  this.timeout(240000);
  const lab = useCluster({ hosts: 2, docker: { scope: 'local' }, agent: { resyncInterval: 3600 }, logLines: 20 });

  it('the same network created on each host binds to one vxnet network, and containers ping across hosts', async () => {
    const l = lab();
    for (const h of ['h1', 'h2']) {
      await d(l, h, [
        'network',
        'create',
        '-d',
        'vxnet',
        '--ipam-driver',
        'vxnet',
        '--subnet',
        '10.88.0.0/24',
        '-o',
        'vxnet.network=red',
        'red',
      ]);
      assert.match(await d(l, h, ['network', 'ls', '--filter', 'name=red', '--format', '{{.Scope}}']), /^local$/);
    }
    const nets = await l.agents[0].client.list({ filters: [] });
    assert.deepStrictEqual(
      nets.networks?.map((n) => n.name),
      ['red'],
    );
    await d(l, 'h1', ['run', '-d', '--name', 'r1', '--network', 'red', 'vxbusy', 'sleep', '3600']);
    await d(l, 'h2', ['run', '-d', '--name', 'r2', '--network', 'red', 'vxbusy', 'sleep', '3600']);
    const [ip1, ip2] = [await ipOf(l, 'h1', 'r1', 'red'), await ipOf(l, 'h2', 'r2', 'red')];
    assert.notStrictEqual(ip1, ip2);
    assert.ok(await pings(l, 'h1', 'r1', ip2));
    assert.ok(await pings(l, 'h2', 'r2', ip1));
    const wrong = await l.docker.docker(
      'h2',
      [
        'network',
        'create',
        '-d',
        'vxnet',
        '--ipam-driver',
        'vxnet',
        '--subnet',
        '10.89.0.0/24',
        '-o',
        'vxnet.network=red',
        'red2',
      ],
      { timeoutMs: 30000 },
    );
    assert.match(
      wrong.stderr,
      /Error response from daemon: .*vxnet network red exists and it has subnet 10\.88\.0\.0\/24/,
    );
  });

  it('the last Docker network bound to it takes the vxnet network away', async () => {
    const l = lab();
    await d(l, 'h1', ['rm', '-f', 'r1']);
    await d(l, 'h1', ['network', 'rm', 'red']);
    assert.strictEqual(
      (await l.agents[0].client.list({ filters: [] })).networks?.length,
      1,
      'removed while h2 still uses it',
    );
    await d(l, 'h2', ['rm', '-f', 'r2']);
    await d(l, 'h2', ['network', 'rm', 'red']);
    assert.strictEqual((await l.agents[0].client.list({ filters: [] })).networks?.length, 0);
    await assertNothingLeft(l, 'network rm on both hosts');
  });
});
