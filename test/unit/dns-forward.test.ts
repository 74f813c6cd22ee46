import * as assert from 'assert';
import * as dgram from 'dgram';
import * as net from 'net';
import type { Packet } from 'dns-packet';
import * as dnsPacket from 'dns-packet';
import { AnswerCache } from '../../agent/dns/cache';
import { Forwarder } from '../../agent/dns/forward';
import { DnsStats } from '../../agent/dns/stats';
import type { Upstream } from '../../agent/dns/upstreams';

// The forwarder against upstreams on loopback: real sockets at the edge, the upstreams' behaviour
// scripted per test.
type Behaviour = (q: Packet, reply: (p: Partial<Packet>) => void) => void;

interface Fake {
  up: Upstream;
  seen: { id: number; port: number }[];
  close(): void;
}

async function fakeUpstream(behave: Behaviour, tcp?: Behaviour): Promise<Fake> {
  const s = dgram.createSocket('udp4');
  const seen: { id: number; port: number }[] = [];
  s.on('message', (m, r) => {
    const q = dnsPacket.decode(m);
    seen.push({ id: q.id!, port: r.port });
    behave(q, (p) =>
      s.send(dnsPacket.encode({ id: q.id, type: 'response', questions: q.questions, ...p }), r.port, r.address),
    );
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  let server: net.Server | undefined;
  if (tcp) {
    server = net.createServer((c) => {
      c.on('data', (d: Buffer) => {
        const q = dnsPacket.decode(d.subarray(2));
        tcp(q, (p) => {
          const out = dnsPacket.encode({ id: q.id, type: 'response', questions: q.questions, ...p });
          const len = Buffer.alloc(2);
          len.writeUInt16BE(out.length);
          c.end(Buffer.concat([len, out]));
        });
      });
    });
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
  }
  return {
    up: { address: '127.0.0.1', port },
    seen,
    close: () => {
      s.close();
      server?.close();
    },
  };
}

const A = (data: string, ttl = 60): Partial<Packet> => ({
  answers: [{ type: 'A', name: 'example.com', ttl, data }],
});

function query(name = 'example.com', id = 7): { raw: Buffer; packet: Packet } {
  const raw = dnsPacket.encode({
    id,
    type: 'query',
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: 'A' }],
  });
  return { raw, packet: dnsPacket.decode(raw) };
}

function forwarder(ups: Upstream[], o: { timeoutMs?: number; maxInFlight?: number; cache?: number } = {}) {
  const stats = new DnsStats();
  const f = new Forwarder(
    () => ups,
    () => ({ timeoutMs: o.timeoutMs ?? 150, maxInFlight: o.maxInFlight ?? 100 }),
    new AnswerCache(o.cache ?? 0),
    stats,
  );
  const ask = async (name = 'example.com', id = 7, tcp = false): Promise<Packet | undefined> => {
    const q = query(name, id);
    const out = await f.forward(q.raw, q.packet, q.packet.questions![0], tcp);
    return out && dnsPacket.decode(out);
  };
  return { f, stats, ask };
}

const dataOf = (p: Packet | undefined): unknown[] => (p?.answers ?? []).map((a) => (a as { data: unknown }).data);

describe('dns forwarding (loopback upstreams)', function () {
  this.timeout(30_000);
  const fakes: Fake[] = [];
  const make = async (b: Behaviour, tcp?: Behaviour): Promise<Fake> => {
    const f = await fakeUpstream(b, tcp);
    fakes.push(f);
    return f;
  };
  afterEach(() => fakes.splice(0).forEach((f) => f.close()));

  it('asks the next upstream after a timeout and answers with the client ID', async () => {
    const silent = await make(() => undefined);
    const good = await make((_q, reply) => reply(A('198.51.100.80')));
    const { ask, stats } = forwarder([silent.up, good.up]);
    const r = await ask('example.com', 4321);
    assert.strictEqual(r?.id, 4321);
    assert.deepStrictEqual(dataOf(r), ['198.51.100.80']);
    assert.strictEqual(silent.seen.length, 1);
    assert.deepStrictEqual(Object.keys(stats.snapshot().upstreamFailures), [`127.0.0.1:${silent.up.port} timeout`]);
  });

  it('takes only a reply with its ID and question', async () => {
    const liar = await make((q, reply) => {
      reply({ id: (q.id! + 1) & 0xffff, ...A('203.0.113.66') }); // wrong ID
      reply({ questions: [{ name: 'evil.example', type: 'A' }], ...A('203.0.113.67') }); // wrong question
      setTimeout(() => reply(A('198.51.100.80')), 20);
    });
    const { ask } = forwarder([liar.up]);
    assert.deepStrictEqual(dataOf(await ask()), ['198.51.100.80']);
  });

  it('asks each time with a random ID from a fresh source port', async () => {
    const good = await make((_q, reply) => reply(A('198.51.100.80')));
    const { ask } = forwarder([good.up]);
    for (let i = 0; i < 20; i++) await ask('example.com', 7);
    assert.ok(new Set(good.seen.map((s) => s.id)).size >= 18, 'IDs repeat');
    assert.ok(new Set(good.seen.map((s) => s.port)).size >= 18, 'source ports repeat');
  });

  it('serves a cached answer until its TTL ends, and fails when every upstream does', async () => {
    const good = await make((_q, reply) => reply(A('198.51.100.80', 60)));
    const { ask, stats } = forwarder([good.up], { cache: 10 });
    await ask();
    const again = await ask('EXAMPLE.com', 9);
    assert.strictEqual(again?.id, 9);
    assert.deepStrictEqual(dataOf(again), ['198.51.100.80']);
    assert.strictEqual(good.seen.length, 1);
    assert.strictEqual(stats.snapshot().cacheHits, 1);
    const silent = await make(() => undefined);
    assert.strictEqual(await forwarder([silent.up]).ask(), undefined);
  });

  it('refuses past the in-flight bound and counts it', async () => {
    const silent = await make(() => undefined);
    const { ask, stats } = forwarder([silent.up], { maxInFlight: 2, timeoutMs: 300 });
    const pending = [ask('a.example'), ask('b.example')];
    assert.strictEqual(stats.inFlight, 2);
    assert.strictEqual(await ask('c.example'), undefined);
    assert.strictEqual(stats.inFlightRefused, 1);
    await Promise.all(pending);
    assert.strictEqual(stats.inFlight, 0);
  });

  it('holds 5,000 forwards in flight at once (no 1,024 cap) and answers every one', async () => {
    // The upstream holds every reply until it has all 5,000 queries; each query is sent once the
    // upstream has read the one before (one socket's receive queue holds ~256 datagrams).
    const held: (() => void)[] = [];
    let received: (() => void) | undefined;
    const slow = await make((_q, reply) => {
      held.push(() => reply(A('198.51.100.80')));
      received?.();
      if (held.length === 5000) held.forEach((r) => r());
    });
    const { ask, stats } = forwarder([slow.up], { maxInFlight: 65536, timeoutMs: 20_000 });
    const all: Promise<Packet | undefined>[] = [];
    for (let i = 0; i < 5000; i++) {
      const got = new Promise<void>((r) => (received = r));
      all.push(ask(`n${i}.example.com`, i));
      if (i < 4999) await got;
    }
    assert.ok(stats.inFlight > 4990, `in flight: ${stats.inFlight}`);
    const answers = await Promise.all(all);
    assert.strictEqual(answers.filter((a) => a?.answers?.length === 1).length, 5000);
    assert.strictEqual(stats.inFlight, 0);
    assert.strictEqual(stats.inFlightRefused, 0);
  });

  it('asks again over TCP when a TCP client gets a truncated answer', async () => {
    const big = await make(
      (_q, reply) => reply({ flags: dnsPacket.TRUNCATED_RESPONSE }),
      (_q, reply) =>
        reply({
          answers: Array.from({ length: 40 }, (_, i) => ({
            type: 'A',
            name: 'example.com',
            ttl: 60,
            data: `198.51.100.${i + 1}`,
          })),
        }),
    );
    const { ask } = forwarder([big.up]);
    assert.strictEqual(dataOf(await ask('example.com', 1, true)).length, 40);
    const udp = await ask('example.com', 2, false);
    assert.ok((udp?.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE);
  });
});
