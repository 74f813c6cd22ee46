import * as assert from 'assert';
import { status } from '@grpc/grpc-js';
import {
  capacity,
  checkStaticAddress,
  defaultGateway,
  freeCandidates,
  macFromIPv4,
  parseCidr,
  parseMac,
  pickDefaultSubnet,
  randomMac,
  canonicalAddress,
  overlaps,
} from '../../control/ipam';
import type { SubnetConfig } from '../../control/model';

const cfg = (subnet: string, extra: Partial<SubnetConfig> = {}): SubnetConfig => ({
  subnet,
  gateway: defaultGateway(subnet),
  auxAddresses: {},
  ...extra,
});
const code = (fn: () => unknown): number => {
  try {
    fn();
  } catch (e) {
    return (e as { code: number }).code;
  }
  return -1;
};

describe('IPAM (pure)', () => {
  describe('parseCidr', () => {
    const good: [string, string][] = [
      ['10.1.0.0/24', '10.1.0.0/24'],
      ['10.1.0.7/24', '10.1.0.0/24'],
      ['192.168.0.0/16', '192.168.0.0/16'],
      ['fd00:1::/64', 'fd00:1::/64'],
      ['FD00:0001:0000::5/64', 'fd00:1::/64'],
      ['10.0.0.0/8', '10.0.0.0/8'],
    ];
    for (const [input, want] of good)
      it(`canonicalizes ${input} to ${want}`, () => assert.strictEqual(parseCidr(input).text, want));
    for (const bad of [
      'banana',
      '10.0.0.0',
      '10.0.0.0/33',
      '10.0.300.0/24',
      'fd00:::1/64',
      '10.0.0.0/-1',
      '/24',
      'fd00::/129',
    ]) {
      it(`refuses ${bad} with INVALID_ARGUMENT naming it`, () => {
        assert.throws(
          () => parseCidr(bad),
          (e: { code: status; message: string }) => e.code === status.INVALID_ARGUMENT && e.message.includes(bad),
        );
      });
    }
  });

  it('overlap is symmetric and family-aware', () => {
    const t: [string, string, boolean][] = [
      ['10.1.0.0/24', '10.1.0.128/25', true],
      ['10.1.0.0/25', '10.1.0.128/25', false],
      ['10.0.0.0/8', '10.200.1.0/24', true],
      ['fd00::/64', 'fd00::/48', true],
      ['fd00:1::/64', 'fd00:2::/64', false],
    ];
    for (const [a, b, want] of t) {
      assert.strictEqual(overlaps(parseCidr(a), parseCidr(b)), want, `${a} ${b}`);
      assert.strictEqual(overlaps(parseCidr(b), parseCidr(a)), want, `${b} ${a}`);
    }
  });

  it('default gateway is the first usable address', () => {
    assert.strictEqual(defaultGateway('10.1.2.0/24'), '10.1.2.1');
    assert.strictEqual(defaultGateway('fd00:1::/64'), 'fd00:1::1');
  });

  describe('freeCandidates', () => {
    it('skips network, broadcast, gateway and aux addresses, lowest first', () => {
      const c = cfg('10.1.0.0/29', { auxAddresses: { r: '10.1.0.2' } });
      assert.deepStrictEqual(freeCandidates(c, new Set(), { limit: 10 }), [
        '10.1.0.3',
        '10.1.0.4',
        '10.1.0.5',
        '10.1.0.6',
      ]);
    });
    it('skips taken addresses and honours ip-range', () => {
      const c = cfg('10.1.0.0/24', { ipRange: '10.1.0.128/30' });
      assert.deepStrictEqual(freeCandidates(c, new Set(['10.1.0.129']), { limit: 10 }), [
        '10.1.0.128',
        '10.1.0.130',
        '10.1.0.131',
      ]);
    });
    it('walks a /64 lazily', () => {
      const c = cfg('fd00:1::/64');
      assert.deepStrictEqual(freeCandidates(c, new Set(['fd00:1::2']), { limit: 2 }), ['fd00:1::3', 'fd00:1::4']);
    });
    it('finds the last free address of a nearly full /16 quickly', () => {
      const c = cfg('10.9.0.0/16');
      const taken = new Set<string>();
      for (let i = 2; i < 65534; i++) if (i !== 40000) taken.add(`10.9.${i >> 8}.${i & 255}`);
      const t0 = Date.now();
      assert.deepStrictEqual(freeCandidates(c, taken, { limit: 1 }), ['10.9.156.64']);
      assert.ok(Date.now() - t0 < 2000);
    });
    it('returns nothing when full', () => {
      const c = cfg('10.1.0.0/30');
      assert.deepStrictEqual(freeCandidates(c, new Set(['10.1.0.2']), { limit: 1 }), []);
    });
  });

  it('capacity counts what dynamic allocation can hand out', () => {
    assert.strictEqual(capacity(cfg('10.1.0.0/24')), 253n);
    assert.strictEqual(capacity(cfg('10.1.0.0/24', { ipRange: '10.1.0.128/25' })), 127n);
    assert.strictEqual(capacity(cfg('10.1.0.0/29', { auxAddresses: { a: '10.1.0.5' } })), 4n);
  });

  describe('checkStaticAddress', () => {
    const c = cfg('10.1.0.0/24', { auxAddresses: { r: '10.1.0.9' } });
    const cases: [string, number][] = [
      ['10.1.0.5', -1],
      ['10.2.0.5', status.INVALID_ARGUMENT],
      ['10.1.0.0', status.INVALID_ARGUMENT],
      ['10.1.0.255', status.INVALID_ARGUMENT],
      ['10.1.0.1', status.INVALID_ARGUMENT],
      ['10.1.0.9', status.INVALID_ARGUMENT],
      ['10.1.0.7', status.ALREADY_EXISTS],
      ['10.1.0.300', status.INVALID_ARGUMENT],
      ['not-an-ip', status.INVALID_ARGUMENT],
    ];
    for (const [addr, want] of cases)
      it(`${addr} -> ${want === -1 ? 'ok' : status[want]}`, () =>
        assert.strictEqual(
          code(() => checkStaticAddress(c, addr, new Set(['10.1.0.7']), 'blue')),
          want,
        ));
  });

  it('picks the first free /24 of 10.0.0.0/8 for the default pool', () => {
    assert.strictEqual(pickDefaultSubnet([]), '10.0.0.0/24');
    assert.strictEqual(pickDefaultSubnet(['10.0.0.0/24', '10.0.1.0/24']), '10.0.2.0/24');
    assert.strictEqual(pickDefaultSubnet(['10.0.0.0/16']), '10.1.0.0/24');
    assert.strictEqual(pickDefaultSubnet(['fd00::/64', '10.0.0.0/23']), '10.0.2.0/24');
  });

  it('canonical addresses are unique per address', () => {
    assert.strictEqual(canonicalAddress('FD00:0:0::0001'), 'fd00::1');
    assert.strictEqual(canonicalAddress('10.0.0.1'), '10.0.0.1');
  });

  describe('MAC addresses', () => {
    it('accepts and canonicalizes unicast MACs', () => {
      assert.strictEqual(parseMac('02:42:AC:11:00:02'), '02:42:ac:11:00:02');
      assert.strictEqual(parseMac('02-42-ac-11-00-02'), '02:42:ac:11:00:02');
    });
    for (const bad of [
      '02:42:ac:11:00',
      'zz:42:ac:11:00:02',
      '01:00:5e:00:00:01',
      '00:00:00:00:00:00',
      '',
      '0242ac110002',
    ]) {
      it(`refuses ${JSON.stringify(bad)}`, () =>
        assert.strictEqual(
          code(() => parseMac(bad)),
          status.INVALID_ARGUMENT,
        ));
    }
    it('derives a MAC from an IPv4 address like Docker, and random ones are unicast and local', () => {
      assert.strictEqual(macFromIPv4('10.77.0.2'), '02:42:0a:4d:00:02');
      for (let i = 0; i < 50; i++) {
        const m = randomMac();
        assert.strictEqual(parseInt(m.slice(0, 2), 16) & 3, 2);
      }
    });
  });
});
