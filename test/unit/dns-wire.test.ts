import * as assert from 'assert';
import * as dnsPacket from 'dns-packet';
import { AnswerCache } from '../../agent/dns/cache';
import { decodeQuery, encodeResponse, udpLimit } from '../../agent/dns/wire';
import { parseResolvConf, parseUpstream } from '../../agent/dns/upstreams';
import { dnsOf } from '../../agent/dns/client-config';
import { netRecord, rng } from '../helpers/records';

describe('dns wire, cache and upstreams (pure)', () => {
  it('FORMERR for an unreadable query with a header, nothing for stray bytes or responses', () => {
    const bad = Buffer.from('1234010000010000000000000377777700', 'hex'); // name runs off the end
    const d = decodeQuery(bad);
    assert.ok(!d.ok && d.formerr);
    const r = dnsPacket.decode(d.formerr);
    assert.strictEqual(r.id, 0x1234);
    assert.strictEqual((r as { rcode?: string }).rcode, 'FORMERR');
    const short = decodeQuery(Buffer.from('1234', 'hex'));
    assert.ok(!short.ok && !short.formerr);
    const resp = Buffer.from(bad);
    resp[2] |= 0x80;
    const dr = decodeQuery(resp);
    assert.ok(!dr.ok && !dr.formerr);
  });

  it('survives compression loops, huge counts and random bytes', () => {
    const loop = Buffer.from('abcd01000001000000000000c00c00010001', 'hex'); // name points at itself
    assert.strictEqual(decodeQuery(loop).ok, false);
    const huge = Buffer.from('abcd0100ffffffffffffffff', 'hex');
    assert.strictEqual(decodeQuery(huge).ok, false);
    const next = rng(23);
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.alloc(Math.floor(next() * 300));
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(next() * 256);
      decodeQuery(b); // never throws
    }
  });

  it('over 512 bytes without EDNS: TC and no records', () => {
    const q = dnsPacket.decode(dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'many', type: 'A' }] }));
    assert.strictEqual(udpLimit(q), 512);
    const answers = Array.from({ length: 60 }, (_, i) => ({
      type: 'A' as const,
      name: 'many',
      ttl: 2,
      data: `10.1.0.${i + 2}`,
    }));
    const packet = { id: 1, type: 'response' as const, flags: 0, questions: q.questions, answers };
    const tc = dnsPacket.decode(encodeResponse(packet, 512));
    assert.ok(tc.flag_tc);
    assert.strictEqual(tc.answers?.length, 0);
    assert.strictEqual(dnsPacket.decode(encodeResponse(packet, 65535)).answers?.length, 60);
    const edns = dnsPacket.decode(
      dnsPacket.encode({
        type: 'query',
        id: 1,
        questions: [{ name: 'many', type: 'A' }],
        additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096 } as never],
      }),
    );
    assert.strictEqual(udpLimit(edns), 1232);
  });

  it('the cache honours TTLs, counts them down and keeps only complete answers', () => {
    const c = new AnswerCache(2);
    const answer = (ttl: number, rcode = 0): dnsPacket.Packet => ({
      id: 9,
      type: 'response',
      flags: rcode,
      questions: [{ name: 'example.com', type: 'A' }],
      answers: rcode ? [] : [{ type: 'A', name: 'example.com', ttl, data: '198.51.100.80' }],
    });
    const k = AnswerCache.key('Example.COM.', 'A');
    c.put(k, answer(60), 0);
    const hit = dnsPacket.decode(c.get(k, 77, 10_500)!);
    assert.strictEqual(hit.id, 77);
    assert.strictEqual((hit.answers?.[0] as { ttl?: number }).ttl, 50);
    assert.strictEqual(c.get(k, 77, 60_000), undefined);
    c.put(k, answer(60, 2), 0); // SERVFAIL: not kept
    assert.strictEqual(c.get(k, 1, 1), undefined);
    c.put('a', answer(60), 0);
    c.put('b', answer(60), 0);
    c.put('c', answer(60), 0); // the oldest goes
    assert.strictEqual(c.get('a', 1, 1), undefined);
    assert.ok(c.get('c', 1, 1));
    c.put('neg', answer(0, 3), 0); // NXDOMAIN without SOA: 30 s
    assert.ok(c.get('neg', 1, 29_000));
    assert.strictEqual(c.get('neg', 1, 31_000), undefined);
  });

  it('reads upstreams from resolv.conf and lists', () => {
    assert.deepStrictEqual(
      parseResolvConf(
        '# c\nnameserver 198.51.100.1\nsearch x\nnameserver fe80::1%eth0\nnameserver 1.1.1.1\nnameserver 9.9.9.9\n',
      ),
      [
        { address: '198.51.100.1', port: 53 },
        { address: 'fe80::1', port: 53 },
        { address: '1.1.1.1', port: 53 },
      ],
    );
    assert.deepStrictEqual(parseUpstream('198.51.100.1:5353'), { address: '198.51.100.1', port: 5353 });
    assert.deepStrictEqual(parseUpstream('[fd00::1]:54'), { address: 'fd00::1', port: 54 });
    assert.deepStrictEqual(parseUpstream('fd00::1'), { address: 'fd00::1', port: 53 });
  });

  it("tells clients the network's gateway, search domains and options", () => {
    const n = netRecord('x', 1, '10.7.0.0/24', {
      name: 'Blue',
      ipv6: [{ subnet: 'fd00:7::/64', gateway: 'fd00:7::1', auxAddresses: {} }],
    });
    assert.deepStrictEqual(dnsOf(n, 'vxnet'), {
      nameservers: ['10.7.0.1', 'fd00:7::1'],
      search: ['blue.vxnet', 'vxnet'],
      options: ['ndots:1', 'timeout:1', 'attempts:3'],
    });
  });
});
