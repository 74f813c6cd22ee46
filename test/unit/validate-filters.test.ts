import * as assert from 'assert';
import { status } from '@grpc/grpc-js';
import { validateCreate, validateIfname, validateSandboxArg, validateEndpointName } from '../../control/validate';
import { filterNetworks, pruneFilter, resolveNetwork, parseUntil } from '../../control/filters';
import { buildNetwork, nextFreeVni } from '../../control/networks';
import type { CreateNetworkRequest__Output } from '../../control/generated/vxnet/v1/CreateNetworkRequest';
import type { NetworkRecord } from '../../control/model';
import type { VxError } from '../../control/errors';
import { netRecord } from '../helpers/records';

function req(over: Partial<CreateNetworkRequest__Output>): CreateNetworkRequest__Output {
  return {
    name: 'n',
    driver: '',
    ipamDriver: '',
    ipamConfig: [],
    enableIpv6: false,
    internal: false,
    attachable: false,
    labels: {},
    options: {},
    ipamOptions: {},
    ...over,
  };
}
const sub = (
  subnet: string,
  extra: Partial<{ gateway: string; ipRange: string; auxiliaryAddresses: Record<string, string> }> = {},
) => ({ subnet, gateway: '', ipRange: '', auxiliaryAddresses: {}, ...extra });
// An id made of the name's hex letters, padded to 64; no gateway.
const net = (
  name: string,
  subnet: string,
  vni: number,
  labels: Record<string, string> = {},
  created = '2026-01-01T00:00:00Z',
): NetworkRecord =>
  netRecord((name + 'x'.repeat(64)).slice(0, 64).replace(/[^0-9a-f]/g, 'a'), vni, subnet, {
    name,
    created,
    labels,
    gateway: '',
  });
const existing = [net('blue', '10.44.0.0/24', 7777)];

describe('validateCreate (pure)', () => {
  const good: [string, CreateNetworkRequest__Output, (v: ReturnType<typeof validateCreate>) => void][] = [
    ['defaults', req({}), (v) => assert.deepStrictEqual(v.ipv4, [])],
    [
      'gateway defaults to the first address',
      req({ ipamConfig: [sub('10.1.0.0/24')] }),
      (v) => assert.strictEqual(v.ipv4[0].gateway, '10.1.0.1'),
    ],
    [
      'host bits are cleared',
      req({ ipamConfig: [sub('10.1.0.9/24')] }),
      (v) => assert.strictEqual(v.ipv4[0].subnet, '10.1.0.0/24'),
    ],
    [
      'everything',
      req({
        ipamConfig: [
          sub('10.1.0.0/24', {
            gateway: '10.1.0.254',
            ipRange: '10.1.0.128/25',
            auxiliaryAddresses: { r: '10.1.0.2' },
          }),
        ],
        labels: { a: 'b' },
        options: { vxlanid: '5000', mtu: '1400' },
      }),
      (v) => {
        assert.deepStrictEqual(v.ipv4[0], {
          subnet: '10.1.0.0/24',
          gateway: '10.1.0.254',
          ipRange: '10.1.0.128/25',
          auxAddresses: { r: '10.1.0.2' },
        });
        assert.strictEqual(v.vni, 5000);
        assert.strictEqual(v.mtu, 1400);
      },
    ],
    [
      'dual stack',
      req({ enableIpv6: true, ipamConfig: [sub('10.1.0.0/24'), sub('fd00:1::/64')] }),
      (v) => assert.strictEqual(v.ipv6[0].gateway, 'fd00:1::1'),
    ],
    [
      'docker option names',
      req({
        options: { 'com.docker.network.driver.overlay.vxlanid_list': '4100', 'com.docker.network.driver.mtu': '1300' },
      }),
      (v) => assert.strictEqual(v.vni, 4100),
    ],
    [
      'egress none is stored',
      req({ options: { egress: 'none' } }),
      (v) => assert.deepStrictEqual(v.options, { egress: 'none' }),
    ],
    [
      'egress masquerade is stored',
      req({ options: { egress: 'masquerade' } }),
      (v) => assert.deepStrictEqual(v.options, { egress: 'masquerade' }),
    ],
    ['internal with egress none', req({ internal: true, options: { egress: 'none' } }), (v) => assert.ok(v.internal)],
  ];
  for (const [name, r, check] of good) it(`accepts: ${name}`, () => check(validateCreate(r, existing)));

  const bad: [string, CreateNetworkRequest__Output, number, RegExp][] = [
    ['empty name', req({ name: '' }), status.INVALID_ARGUMENT, /required/],
    ['name with space', req({ name: 'a b' }), status.INVALID_ARGUMENT, /invalid/],
    ['name too long', req({ name: 'a'.repeat(65) }), status.INVALID_ARGUMENT, /too long/],
    ['bad driver', req({ driver: 'bridge' }), status.INVALID_ARGUMENT, /bridge/],
    ['bad ipam driver', req({ ipamDriver: 'dhcp' }), status.INVALID_ARGUMENT, /dhcp/],
    [
      'bad egress mode',
      req({ options: { egress: 'nat' } }),
      status.INVALID_ARGUMENT,
      /egress="nat" is not an egress mode/,
    ],
    ['empty egress mode', req({ options: { egress: '' } }), status.INVALID_ARGUMENT, /egress="" is not an egress mode/],
    [
      'internal with egress masquerade',
      req({ internal: true, options: { egress: 'masquerade' } }),
      status.INVALID_ARGUMENT,
      /egress=masquerade contradicts --internal/,
    ],
    ['bad subnet', req({ ipamConfig: [sub('x')] }), status.INVALID_ARGUMENT, /CIDR/],
    ['tiny subnet', req({ ipamConfig: [sub('10.0.0.0/31')] }), status.INVALID_ARGUMENT, /too small/],
    [
      'gateway outside',
      req({ ipamConfig: [sub('10.1.0.0/24', { gateway: '10.2.0.1' })] }),
      status.INVALID_ARGUMENT,
      /outside/,
    ],
    [
      'gateway = broadcast',
      req({ ipamConfig: [sub('10.1.0.0/24', { gateway: '10.1.0.255' })] }),
      status.INVALID_ARGUMENT,
      /broadcast/,
    ],
    [
      'range outside',
      req({ ipamConfig: [sub('10.1.0.0/24', { ipRange: '10.1.1.0/25' })] }),
      status.INVALID_ARGUMENT,
      /not inside/,
    ],
    [
      'aux = gateway',
      req({ ipamConfig: [sub('10.1.0.0/24', { auxiliaryAddresses: { g: '10.1.0.1' } })] }),
      status.INVALID_ARGUMENT,
      /gateway/,
    ],
    [
      'gateway without subnet',
      req({ ipamConfig: [sub('', { gateway: '10.1.0.1' })] }),
      status.INVALID_ARGUMENT,
      /needs a subnet/,
    ],
    [
      'overlapping own subnets',
      req({ ipamConfig: [sub('10.1.0.0/24'), sub('10.1.0.0/16')] }),
      status.INVALID_ARGUMENT,
      /overlap/,
    ],
    ['v6 without flag', req({ ipamConfig: [sub('fd00::/64')] }), status.INVALID_ARGUMENT, /--ipv6/],
    ['flag without v6', req({ enableIpv6: true }), status.INVALID_ARGUMENT, /IPv6 subnet/],
    ['unknown option', req({ options: { foo: '1' } }), status.INVALID_ARGUMENT, /unknown option "foo"/],
    [
      'two vxlanid spellings',
      req({ options: { vxlanid: '5000', 'com.docker.network.driver.overlay.vxlanid_list': '5000' } }),
      status.INVALID_ARGUMENT,
      /mean the same/,
    ],
    ['vni range', req({ options: { vxlanid: '4095' } }), status.INVALID_ARGUMENT, /out of range/],
    ['mtu range', req({ options: { mtu: '70000' } }), status.INVALID_ARGUMENT, /MTU/],
    ['label control chars', req({ labels: { a: 'x\u0001' } }), status.INVALID_ARGUMENT, /control/],
    ['label too long', req({ labels: { a: 'x'.repeat(5000) } }), status.INVALID_ARGUMENT, /at most/],
    ['duplicate name', req({ name: 'blue' }), status.ALREADY_EXISTS, /already exists/],
    ['overlap with blue', req({ ipamConfig: [sub('10.44.0.128/25')] }), status.ALREADY_EXISTS, /network blue/],
    ['vni taken', req({ options: { vxlanid: '7777' } }), status.ALREADY_EXISTS, /blue/],
  ];
  for (const [name, r, code, msg] of bad) {
    it(`refuses: ${name}`, () =>
      assert.throws(
        () => validateCreate(r, existing),
        (e: { code: number; message: string }) => e.code === code && msg.test(e.message),
      ));
  }

  // Docker's driver binds to a network another host created by the same name, and reports the rest:
  // it tells them apart by reason, so a network named "name" or "rename" changes nothing.
  const clashes: [string, CreateNetworkRequest__Output, string][] = [
    ['name taken', req({ name: 'name' }), 'name-taken'],
    ['subnet overlap', req({ name: 'rename', ipamConfig: [sub('10.45.0.128/25')] }), 'subnet-overlap'],
    ['vni taken', req({ name: 'rename', options: { vxlanid: '7778' } }), 'vni-taken'],
  ];
  const named = [net('name', '10.45.0.0/24', 7778)];
  for (const [what, r, reason] of clashes) {
    it(`names the clash: ${what}`, () =>
      assert.throws(
        () => validateCreate(r, named),
        (e: VxError) => e.code === status.ALREADY_EXISTS && e.reason === reason,
      ));
  }

  it('buildNetwork fills a default subnet, the next free VNI and the vxlanid option', () => {
    const n = buildNetwork(req({ name: 'x' }), [net('a', '10.0.0.0/24', 4096)]);
    assert.strictEqual(n.ipv4[0].subnet, '10.0.1.0/24');
    assert.strictEqual(n.vni, 4097);
    assert.strictEqual(n.options['com.docker.network.driver.overlay.vxlanid_list'], '4097');
    assert.match(n.id, /^[0-9a-f]{64}$/);
    assert.strictEqual(nextFreeVni([]), 4096);
  });
});

describe('argument validation (pure)', () => {
  it('interface names follow the kernel rules', () => {
    for (const ok of ['eth0', 'e', 'a'.repeat(15)]) assert.strictEqual(validateIfname(ok), ok);
    for (const bad of ['', 'a'.repeat(16), 'a/b', 'a b', '.', '..', 'a:b'])
      assert.throws(() => validateIfname(bad), { code: status.INVALID_ARGUMENT });
  });
  it('sandbox arguments are names or paths', () => {
    assert.ok(validateSandboxArg('c1'));
    assert.ok(validateSandboxArg('/proc/1/ns/net'));
    for (const bad of ['', 'a b', 'x\0y'])
      assert.throws(() => validateSandboxArg(bad), { code: status.INVALID_ARGUMENT });
  });
  it('endpoint names', () => {
    assert.ok(validateEndpointName('web-1'));
    assert.throws(() => validateEndpointName('a b'), { code: status.INVALID_ARGUMENT });
  });
});

describe('filters (pure)', () => {
  const nets = [
    net('alpha', '10.1.0.0/24', 4096, { env: 'prod' }),
    net('beta', '10.2.0.0/24', 4097, { env: 'dev', x: '' }, '2020-01-01T00:00:00Z'),
  ];
  const names = (f: { key: string; value: string }[]): string[] => filterNetworks(nets, f).map((n) => n.name);
  const cases: [string, { key: string; value: string }[], string[]][] = [
    ['no filter', [], ['alpha', 'beta']],
    ['name substring', [{ key: 'name', value: 'et' }], ['beta']],
    ['label key', [{ key: 'label', value: 'x' }], ['beta']],
    ['label k=v', [{ key: 'label', value: 'env=prod' }], ['alpha']],
    [
      'OR within a key',
      [
        { key: 'name', value: 'alpha' },
        { key: 'name', value: 'beta' },
      ],
      ['alpha', 'beta'],
    ],
    [
      'AND across keys',
      [
        { key: 'name', value: 'a' },
        { key: 'label', value: 'env=dev' },
      ],
      ['beta'],
    ],
    ['driver', [{ key: 'driver', value: 'overlay' }], ['alpha', 'beta']],
    ['scope local', [{ key: 'scope', value: 'local' }], []],
    ['type custom', [{ key: 'type', value: 'custom' }], ['alpha', 'beta']],
    ['id prefix', [{ key: 'id', value: nets[0].id.slice(0, 6) }], ['alpha']],
  ];
  for (const [n, f, want] of cases) it(n, () => assert.deepStrictEqual(names(f), want));
  it('refuses unknown filters', () =>
    assert.throws(() => names([{ key: 'color', value: 'x' }]), { code: status.INVALID_ARGUMENT }));
  it('prune filters: label, label!, until', () => {
    assert.deepStrictEqual(
      nets.filter(pruneFilter([{ key: 'label!', value: 'env=prod' }])).map((n) => n.name),
      ['beta'],
    );
    assert.deepStrictEqual(
      nets.filter(pruneFilter([{ key: 'label', value: 'env' }])).map((n) => n.name),
      ['alpha', 'beta'],
    );
    assert.deepStrictEqual(
      nets.filter(pruneFilter([{ key: 'until', value: '2021-01-01T00:00:00Z' }])).map((n) => n.name),
      ['beta'],
    );
    assert.strictEqual(parseUntil('1h', 7200_000), 3600_000);
    assert.throws(() => parseUntil('soon'), { code: status.INVALID_ARGUMENT });
  });
  it('resolves by ID, name, then unique prefix', () => {
    assert.strictEqual(resolveNetwork('alpha', nets).name, 'alpha');
    assert.strictEqual(resolveNetwork(nets[1].id, nets).name, 'beta');
    assert.throws(() => resolveNetwork('zzz', nets), { code: status.NOT_FOUND });
    assert.throws(() => resolveNetwork('', nets), { code: status.INVALID_ARGUMENT });
  });
});
