import * as assert from 'assert';
import { status } from '@grpc/grpc-js';
import type { Etcd3 } from 'etcd3';
import { dumpEtcd, EtcdCluster } from '../helpers/etcd';
import { TestAgent, runCli } from '../helpers/agent';
import { useCluster } from '../helpers/cluster';
import type { VxClient } from '../../control/client';

// Three API servers (agents as three hosts, control plane only: no endpoint is connected here, so
// they touch no kernel state) sharing one real etcd.
describe('control plane: networks through gRPC and the CLI, three API servers, one etcd', function () {
  this.timeout(60000);
  const cluster = useCluster({ hosts: ['cp1', 'cp2', 'cp3'], logLines: 20 });
  let etcd: EtcdCluster;
  let kv: Etcd3;
  let agents: TestAgent[] = [];
  let c: VxClient[];

  before(() => {
    ({ etcd, kv, agents } = cluster());
    c = agents.map((a) => a.client);
  });

  afterEach(async () => {
    // Each test starts from no networks.
    const { networks } = await c[0].list({});
    for (const n of networks) await c[0].delete({ network: n.id }).catch(() => undefined);
  });

  it('creates a network that every host sees, with Docker-like fields', async () => {
    const net = await c[0].create({ name: 'blue', ipamConfig: [{ subnet: '10.77.0.0/24' }], labels: { team: 'a' } });
    assert.match(net.id, /^[0-9a-f]{64}$/);
    assert.strictEqual(net.scope, 'global');
    assert.strictEqual(net.driver, 'overlay');
    assert.strictEqual(net.ipam?.config[0].gateway, '10.77.0.1');
    assert.ok(net.vni >= 4096);
    assert.strictEqual(net.options['com.docker.network.driver.overlay.vxlanid_list'], String(net.vni));
    for (const client of c) {
      const seen = await client.inspect({ network: 'blue' });
      assert.strictEqual(seen.id, net.id);
      assert.strictEqual(seen.ipam?.config[0].subnet, '10.77.0.0/24');
    }
    const byPrefix = await c[2].inspect({ network: net.id.slice(0, 8) });
    assert.strictEqual(byPrefix.name, 'blue');
  });

  it('takes a default /24 from 10.0.0.0/8 and the next free VNI when none is given', async () => {
    const a = await c[0].create({ name: 'd1' });
    const b = await c[1].create({ name: 'd2' });
    assert.match(a.ipam!.config[0].subnet, /^10\.\d+\.\d+\.0\/24$/);
    assert.notStrictEqual(a.ipam!.config[0].subnet, b.ipam!.config[0].subnet);
    assert.notStrictEqual(a.vni, b.vni);
  });

  it('refuses a duplicate name and an overlapping subnet with ALREADY_EXISTS', async () => {
    await c[0].create({ name: 'blue', ipamConfig: [{ subnet: '10.77.0.0/24' }] });
    await assert.rejects(c[1].create({ name: 'blue', ipamConfig: [{ subnet: '10.78.0.0/24' }] }), {
      code: status.ALREADY_EXISTS,
    });
    await assert.rejects(
      c[2].create({ name: 'red', ipamConfig: [{ subnet: '10.77.0.128/25' }] }),
      (e: { code: status; details: string }) => e.code === status.ALREADY_EXISTS && /overlaps/.test(e.details),
    );
  });

  it('lists with every filter', async () => {
    await c[0].create({
      name: 'alpha',
      ipamConfig: [{ subnet: '10.80.0.0/24' }],
      labels: { env: 'prod', tier: 'web' },
    });
    await c[0].create({ name: 'beta', ipamConfig: [{ subnet: '10.81.0.0/24' }], labels: { env: 'dev' } });
    const names = async (filters: { key: string; value: string }[]): Promise<string[]> =>
      (await c[1].list({ filters })).networks.map((n) => n.name).sort();
    assert.deepStrictEqual(await names([]), ['alpha', 'beta']);
    assert.deepStrictEqual(await names([{ key: 'name', value: 'alp' }]), ['alpha']);
    assert.deepStrictEqual(await names([{ key: 'label', value: 'env' }]), ['alpha', 'beta']);
    assert.deepStrictEqual(await names([{ key: 'label', value: 'env=dev' }]), ['beta']);
    assert.deepStrictEqual(await names([{ key: 'driver', value: 'overlay' }]), ['alpha', 'beta']);
    assert.deepStrictEqual(await names([{ key: 'driver', value: 'bridge' }]), []);
    assert.deepStrictEqual(await names([{ key: 'scope', value: 'global' }]), ['alpha', 'beta']);
    assert.deepStrictEqual(await names([{ key: 'scope', value: 'local' }]), []);
    const alpha = await c[0].inspect({ network: 'alpha' });
    assert.deepStrictEqual(await names([{ key: 'id', value: alpha.id.slice(0, 10) }]), ['alpha']);
    assert.deepStrictEqual(
      await names([
        { key: 'name', value: 'alpha' },
        { key: 'name', value: 'beta' },
      ]),
      ['alpha', 'beta'],
    );
    await assert.rejects(c[0].list({ filters: [{ key: 'colour', value: 'x' }] }), { code: status.INVALID_ARGUMENT });
  });

  it('removes and prunes (with a label filter), reporting what went', async () => {
    await c[0].create({ name: 'p1', ipamConfig: [{ subnet: '10.90.1.0/24' }], labels: { keep: 'yes' } });
    await c[0].create({ name: 'p2', ipamConfig: [{ subnet: '10.90.2.0/24' }] });
    await c[0].create({ name: 'p3', ipamConfig: [{ subnet: '10.90.3.0/24' }] });
    const pruned = await c[1].prune({ filters: [{ key: 'label!', value: 'keep' }] });
    assert.deepStrictEqual(pruned.networksDeleted.sort(), ['p2', 'p3']);
    const rm = await c[2].delete({ network: 'p1' });
    assert.strictEqual(rm.name, 'p1');
    await assert.rejects(c[0].inspect({ network: 'p1' }), { code: status.NOT_FOUND });
    assert.deepStrictEqual(
      await dumpEtcd(kv).then((d) => Object.keys(d).filter((k) => !/\/(hosts|alive)\//.test(k))),
      [],
    );
  });

  it('lets exactly one of 100 concurrent creates of one name win, across three servers', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) =>
        c[i % 3].create({ name: 'race', ipamConfig: [{ subnet: `10.${100 + (i % 50)}.${i}.0/24` }] }),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    assert.strictEqual(ok.length, 1, `${ok.length} creates succeeded`);
    for (const r of results)
      if (r.status === 'rejected') assert.strictEqual((r.reason as { code: number }).code, status.ALREADY_EXISTS);
    const d = await dumpEtcd(kv);
    assert.strictEqual(Object.keys(d).filter((k) => k.includes('/networks/')).length, 1);
    assert.strictEqual(Object.keys(d).filter((k) => k.includes('/vnis/')).length, 1);
  });

  it('gives 30 concurrent creates with default subnets 30 distinct subnets and VNIs', async () => {
    const nets = await Promise.all(Array.from({ length: 30 }, (_, i) => c[i % 3].create({ name: `auto${i}` })));
    assert.strictEqual(new Set(nets.map((n) => n.ipam!.config[0].subnet)).size, 30);
    assert.strictEqual(new Set(nets.map((n) => n.vni)).size, 30);
  });

  it('answers UNAVAILABLE within its deadline while etcd is down, changes nothing, and recovers without a restart', async () => {
    await c[0].create({ name: 'survivor', ipamConfig: [{ subnet: '10.66.0.0/24' }] });
    await etcd.stopMember(0);
    try {
      // Reads are answered from the agent's view, marked stale; writes are refused.
      const t0 = Date.now();
      const stale = await c[1].list({});
      assert.ok(Date.now() - t0 < 12000, `took ${Date.now() - t0} ms`);
      assert.match(stale.stale, /etcd is not answering/);
      assert.deepStrictEqual(
        stale.networks.map((n) => n.name),
        ['survivor'],
      );
      for (const call of [
        () => c[2].create({ name: 'during', ipamConfig: [{ subnet: '10.67.0.0/24' }] }),
        () => c[0].delete({ network: 'survivor' }),
      ]) {
        const t0 = Date.now();
        await assert.rejects(
          call(),
          (e: { code: status; details: string }) => e.code === status.UNAVAILABLE && /etcd/.test(e.details),
        );
        assert.ok(Date.now() - t0 < 12000, `took ${Date.now() - t0} ms`);
      }
    } finally {
      await etcd.startMember(0);
    }
    const names = (await c[1].list({}, { deadlineMs: 20000 })).networks.map((n) => n.name);
    assert.deepStrictEqual(names, ['survivor']);
  });

  describe('the CLI', () => {
    const host = (): string => `unix://${agents[0].socket}`;
    it('creates, lists, inspects and removes like docker network', async () => {
      const cr = await runCli(
        [
          'network',
          'create',
          '--subnet',
          '10.55.0.0/24',
          '--gateway',
          '10.55.0.254',
          '--ip-range',
          '10.55.0.128/25',
          '--aux-address',
          'router=10.55.0.2',
          '--label',
          'a=b',
          'green',
        ],
        { host: host() },
      );
      assert.strictEqual(cr.code, 0, cr.stderr);
      assert.match(cr.stdout.trim(), /^[0-9a-f]{64}$/);
      const ls = await runCli(['network', 'ls'], { host: `unix://${agents[1].socket}` });
      assert.strictEqual(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, /NETWORK ID\s+NAME\s+DRIVER\s+SCOPE/);
      assert.match(ls.stdout, new RegExp(`${cr.stdout.trim().slice(0, 12)}\\s+green\\s+overlay\\s+global`));
      const q = await runCli(['network', 'ls', '-q', '--no-trunc'], { host: host() });
      assert.strictEqual(q.stdout.trim(), cr.stdout.trim());
      const fmt = await runCli(['network', 'ls', '--format', '{{.Name}} {{.Label "a"}}'], { host: host() });
      assert.strictEqual(fmt.stdout.trim(), 'green b');
      const insp = await runCli(['network', 'inspect', 'green'], { host: host() });
      assert.strictEqual(insp.code, 0, insp.stderr);
      const arr = JSON.parse(insp.stdout) as {
        Name: string;
        IPAM: {
          Config: { Subnet: string; Gateway: string; IPRange: string; AuxiliaryAddresses: Record<string, string> }[];
        };
      }[];
      assert.strictEqual(arr[0].Name, 'green');
      assert.deepStrictEqual(arr[0].IPAM.Config[0], {
        Subnet: '10.55.0.0/24',
        IPRange: '10.55.0.128/25',
        Gateway: '10.55.0.254',
        AuxiliaryAddresses: { router: '10.55.0.2' },
      });
      const f = await runCli(['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}}{{end}}', 'green'], {
        host: host(),
      });
      assert.strictEqual(f.stdout.trim(), '10.55.0.0/24');
      const rm = await runCli(['network', 'rm', 'green'], { host: host() });
      assert.strictEqual(rm.code, 0, rm.stderr);
      assert.strictEqual(rm.stdout.trim(), 'green');
    });

    it('prints one clear line and exits non-zero on errors', async () => {
      const r = await runCli(['network', 'inspect', 'nosuch'], { host: host() });
      assert.notStrictEqual(r.code, 0);
      assert.match(r.stderr, /nosuch/);
      const down = await runCli(['network', 'ls'], { host: 'unix:///nonexistent/vxnet.sock' });
      assert.notStrictEqual(down.code, 0);
      assert.match(down.stderr, /Cannot connect|not running|connect/i);
    });
  });

  describe('bad input changes nothing', () => {
    type Case = [string, Parameters<VxClient['create']>[0], number, RegExp];
    const cases: Case[] = [
      ['empty name', { name: '' }, status.INVALID_ARGUMENT, /name/],
      ['bad characters', { name: 'a b' }, status.INVALID_ARGUMENT, /name/],
      ['leading dash', { name: '-x' }, status.INVALID_ARGUMENT, /name/],
      ['slash', { name: 'a/b' }, status.INVALID_ARGUMENT, /name/],
      ['too long name', { name: 'x'.repeat(200) }, status.INVALID_ARGUMENT, /name/],
      ['not a CIDR', { name: 'x', ipamConfig: [{ subnet: 'banana' }] }, status.INVALID_ARGUMENT, /banana/],
      ['bad octet', { name: 'x', ipamConfig: [{ subnet: '10.0.300.0/24' }] }, status.INVALID_ARGUMENT, /10\.0\.300/],
      [
        'bad prefix',
        { name: 'x', ipamConfig: [{ subnet: '10.0.0.0/33' }] },
        status.INVALID_ARGUMENT,
        /10\.0\.0\.0\/33/,
      ],
      [
        'too small',
        { name: 'x', ipamConfig: [{ subnet: '10.0.0.0/31' }] },
        status.INVALID_ARGUMENT,
        /small|prefix|\/31/,
      ],
      [
        'gateway outside',
        { name: 'x', ipamConfig: [{ subnet: '10.1.0.0/24', gateway: '10.2.0.1' }] },
        status.INVALID_ARGUMENT,
        /gateway/i,
      ],
      [
        'gateway not an IP',
        { name: 'x', ipamConfig: [{ subnet: '10.1.0.0/24', gateway: 'gw' }] },
        status.INVALID_ARGUMENT,
        /gw/,
      ],
      [
        'gateway is network address',
        { name: 'x', ipamConfig: [{ subnet: '10.1.0.0/24', gateway: '10.1.0.0' }] },
        status.INVALID_ARGUMENT,
        /gateway/i,
      ],
      [
        'gateway is broadcast',
        { name: 'x', ipamConfig: [{ subnet: '10.1.0.0/24', gateway: '10.1.0.255' }] },
        status.INVALID_ARGUMENT,
        /gateway/i,
      ],
      [
        'ip-range outside',
        { name: 'x', ipamConfig: [{ subnet: '10.1.0.0/24', ipRange: '10.3.0.0/25' }] },
        status.INVALID_ARGUMENT,
        /range/i,
      ],
      [
        'ip-range not a CIDR',
        { name: 'x', ipamConfig: [{ subnet: '10.1.0.0/24', ipRange: 'x' }] },
        status.INVALID_ARGUMENT,
        /range|x/i,
      ],
      [
        'aux outside',
        { name: 'x', ipamConfig: [{ subnet: '10.1.0.0/24', auxiliaryAddresses: { r: '10.9.0.1' } }] },
        status.INVALID_ARGUMENT,
        /aux|10\.9\.0\.1/i,
      ],
      [
        'aux not an IP',
        { name: 'x', ipamConfig: [{ subnet: '10.1.0.0/24', auxiliaryAddresses: { r: 'zz' } }] },
        status.INVALID_ARGUMENT,
        /zz/,
      ],
      [
        'aux empty name',
        { name: 'x', ipamConfig: [{ subnet: '10.1.0.0/24', auxiliaryAddresses: { '': '10.1.0.9' } }] },
        status.INVALID_ARGUMENT,
        /aux|name/i,
      ],
      [
        'gateway without subnet',
        { name: 'x', ipamConfig: [{ gateway: '10.1.0.1' }] },
        status.INVALID_ARGUMENT,
        /subnet/i,
      ],
      [
        'two overlapping subnets',
        { name: 'x', ipamConfig: [{ subnet: '10.1.0.0/24' }, { subnet: '10.1.0.0/25' }] },
        status.INVALID_ARGUMENT,
        /overlap/i,
      ],
      ['v6 without --ipv6', { name: 'x', ipamConfig: [{ subnet: 'fd00:1::/64' }] }, status.INVALID_ARGUMENT, /ipv6/i],
      [
        'bad v6',
        { name: 'x', enableIpv6: true, ipamConfig: [{ subnet: 'fd00:::1/64' }] },
        status.INVALID_ARGUMENT,
        /fd00/,
      ],
      ['unknown driver', { name: 'x', driver: 'bridge' }, status.INVALID_ARGUMENT, /driver/i],
      ['unknown ipam driver', { name: 'x', ipamDriver: 'dhcp' }, status.INVALID_ARGUMENT, /ipam/i],
      ['unknown option', { name: 'x', options: { colour: 'red' } }, status.INVALID_ARGUMENT, /colour/],
      ['encrypted', { name: 'x', options: { encrypted: '' } }, status.INVALID_ARGUMENT, /encrypt/i],
      ['vni not a number', { name: 'x', options: { vxlanid: 'abc' } }, status.INVALID_ARGUMENT, /abc|vxlan/i],
      ['vni too small', { name: 'x', options: { vxlanid: '12' } }, status.INVALID_ARGUMENT, /4096/],
      ['vni too big', { name: 'x', options: { vxlanid: '16777216' } }, status.INVALID_ARGUMENT, /16777215/],
      [
        'vni list',
        { name: 'x', options: { 'com.docker.network.driver.overlay.vxlanid_list': '5000,5001' } },
        status.INVALID_ARGUMENT,
        /5000/,
      ],
      ['mtu not a number', { name: 'x', options: { mtu: 'big' } }, status.INVALID_ARGUMENT, /mtu/i],
      ['mtu too small', { name: 'x', options: { mtu: '100' } }, status.INVALID_ARGUMENT, /mtu/i],
      [
        'mtu too big',
        { name: 'x', options: { 'com.docker.network.driver.mtu': '100000' } },
        status.INVALID_ARGUMENT,
        /mtu/i,
      ],
      ['empty label key', { name: 'x', labels: { '': 'v' } }, status.INVALID_ARGUMENT, /label/i],
      ['huge label', { name: 'x', labels: { k: 'v'.repeat(70000) } }, status.INVALID_ARGUMENT, /label/i],
      ['label with newline', { name: 'x', labels: { 'a\nb': 'v' } }, status.INVALID_ARGUMENT, /label/i],
      ['duplicate name', { name: 'taken', ipamConfig: [{ subnet: '10.44.1.0/24' }] }, status.ALREADY_EXISTS, /taken/],
      ['overlapping subnet', { name: 'x', ipamConfig: [{ subnet: '10.44.0.0/16' }] }, status.ALREADY_EXISTS, /overlap/],
      ['taken vni', { name: 'x', options: { vxlanid: '7777' } }, status.ALREADY_EXISTS, /7777/],
      [
        'ip-range bigger than subnet',
        { name: 'x', ipamConfig: [{ subnet: '10.1.0.0/24', ipRange: '10.1.0.0/16' }] },
        status.INVALID_ARGUMENT,
        /range/i,
      ],
    ];

    before(async () => {
      await c[0].create({ name: 'taken', ipamConfig: [{ subnet: '10.44.0.0/24' }], options: { vxlanid: '7777' } });
    });
    // afterEach of the outer suite removes `taken`: recreate it for every case.
    beforeEach(async () => {
      await c[0]
        .create({ name: 'taken', ipamConfig: [{ subnet: '10.44.0.0/24' }], options: { vxlanid: '7777' } })
        .catch(() => undefined);
    });

    it(`rejects ${cases.length} malformed Create requests with the right code and a clear message, etcd unchanged`, async () => {
      assert.ok(cases.length >= 40);
      const before = await dumpEtcd(kv);
      for (const [what, req, code, msg] of cases) {
        await assert.rejects(
          c[1].create(req),
          (e: { code: number; details: string }) => {
            assert.strictEqual(e.code, code, `${what}: got ${status[e.code]} (${e.details})`);
            assert.match(e.details, msg, `${what}: message "${e.details}"`);
            return true;
          },
          what,
        );
      }
      assert.deepStrictEqual(await dumpEtcd(kv), before);
    });

    it('rejects bad references and in-use deletes the same way, through gRPC and the CLI', async () => {
      const before = await dumpEtcd(kv);
      await assert.rejects(c[0].inspect({ network: 'nope' }), { code: status.NOT_FOUND });
      await assert.rejects(c[0].delete({ network: 'nope' }), { code: status.NOT_FOUND });
      await assert.rejects(c[0].inspect({ network: '' }), { code: status.INVALID_ARGUMENT });
      const cli: [string[], RegExp][] = [
        [['network', 'create', '--subnet', 'nonsense', 'x1'], /nonsense/],
        [['network', 'create', '--gateway', '10.9.9.9', '--subnet', '10.1.0.0/24', 'x2'], /gateway|10\.9\.9\.9/i],
        [['network', 'create', '-d', 'macvlan', 'x3'], /driver|macvlan/i],
        [['network', 'create', '--label', '=v', 'x4'], /label/i],
        [['network', 'create', '-o', 'vxlanid=1', 'x5'], /vxlan|4096/i],
        [['network', 'create', 'bad name'], /name/i],
        [['network', 'create', '--subnet', '10.44.0.0/24', 'x6'], /overlap/i],
        [['network', 'create'], /name|argument|usage/i],
        [['network', 'create', '--frobnicate', 'x7'], /frobnicate/],
        [['network', 'rm', 'nope'], /nope/],
        [['network', 'ls', '--filter', 'bogus=1'], /bogus/],
      ];
      for (const [args, msg] of cli) {
        const r = await runCli(args, { host: `unix://${agents[0].socket}` });
        assert.notStrictEqual(r.code, 0, `${args.join(' ')} succeeded`);
        assert.match(r.stderr, msg, `${args.join(' ')}: ${r.stderr}`);
        assert.ok(r.stderr.trim().split('\n').length <= 2, `${args.join(' ')}: more than a line of error: ${r.stderr}`);
      }
      assert.deepStrictEqual(await dumpEtcd(kv), before);
    });
  });
});
