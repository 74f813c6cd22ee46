import * as crypto from 'crypto';
import * as dgram from 'dgram';
import * as net from 'net';
import type { Packet, Question } from 'dns-packet';
import * as dnsPacket from 'dns-packet';
import { AnswerCache } from './cache';
import type { DnsStats } from './stats';
import type { Upstream } from './upstreams';

export interface ForwardSettings {
  timeoutMs: number; // per upstream, then the next: well under a client's own (glibc: 5 s)
  maxInFlight: number;
}

// Forwards what vxnet does not answer itself to the host's upstream resolvers, from the host's own
// namespace and address. Each query goes out on a socket of its own (a fresh random source port
// from the kernel) with a random ID, and only a reply from the upstream asked, with that ID and that
// question, is taken (Kaminsky). One upstream at a time, `timeoutMs` each.
export class Forwarder {
  constructor(
    private readonly upstreams: () => readonly Upstream[],
    private readonly settings: () => ForwardSettings,
    private readonly cache: AnswerCache,
    private readonly stats: DnsStats,
    private readonly now: () => number = Date.now,
  ) {}

  // The response for the client (its ID), or undefined when no upstream answered and the in-flight
  // table is full (the caller answers SERVFAIL).
  async forward(query: Buffer, decoded: Packet, q: Question, tcp: boolean): Promise<Buffer | undefined> {
    const id = decoded.id ?? 0;
    const key = AnswerCache.key(q.name, q.type, q.class ?? 'IN');
    const cached = this.cache.get(key, id, this.now());
    if (cached) {
      this.stats.cacheHits++;
      return cached;
    }
    const s = this.settings();
    if (this.stats.inFlight >= s.maxInFlight) {
      this.stats.inFlightRefused++;
      return undefined;
    }
    this.stats.inFlight++;
    this.stats.forwarded++;
    try {
      for (const up of this.upstreams()) {
        const label = up.address.includes(':') ? `[${up.address}]:${up.port}` : `${up.address}:${up.port}`;
        try {
          let answer = await udpExchange(up, query, q, s.timeoutMs);
          if (answer && tcp && answer.packet.flags! & dnsPacket.TRUNCATED_RESPONSE)
            answer = await tcpExchange(up, query, q, s.timeoutMs);
          if (!answer) {
            this.stats.upstreamFailed(label, 'timeout');
            continue;
          }
          this.cache.put(key, answer.packet, this.now());
          answer.raw.writeUInt16BE(id, 0);
          return answer.raw;
        } catch {
          this.stats.upstreamFailed(label, 'error');
        }
      }
      return undefined;
    } finally {
      this.stats.inFlight--;
    }
  }
}

interface Exchange {
  raw: Buffer;
  packet: Packet;
}

function matches(p: Packet, id: number, q: Question): boolean {
  const r = p.questions?.[0];
  return (
    p.type === 'response' &&
    p.id === id &&
    !!r &&
    r.type === q.type &&
    r.name.toLowerCase().replace(/\.$/, '') === q.name.toLowerCase().replace(/\.$/, '')
  );
}

function withId(query: Buffer): { out: Buffer; id: number } {
  const out = Buffer.from(query);
  const id = crypto.randomInt(0, 65536);
  out.writeUInt16BE(id, 0);
  return { out, id };
}

// undefined on timeout; throws on a socket error (ICMP unreachable on the connected socket).
function udpExchange(up: Upstream, query: Buffer, q: Question, timeoutMs: number): Promise<Exchange | undefined> {
  const { out, id } = withId(query);
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(up.address.includes(':') ? 'udp6' : 'udp4');
    let done = false;
    const finish = (err: Error | undefined, v?: Exchange): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(v);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    sock.on('error', (err) => finish(err));
    sock.on('message', (m) => {
      let p: Packet;
      try {
        p = dnsPacket.decode(m);
      } catch {
        return;
      }
      // Connected: the kernel takes datagrams from the upstream's address and port only.
      if (matches(p, id, q)) finish(undefined, { raw: m, packet: p });
    });
    sock.connect(up.port, up.address, () => sock.send(out));
  });
}

function tcpExchange(up: Upstream, query: Buffer, q: Question, timeoutMs: number): Promise<Exchange | undefined> {
  const { out, id } = withId(query);
  return new Promise((resolve) => {
    const sock = net.connect({ host: up.address, port: up.port });
    let buf: Buffer = Buffer.alloc(0);
    const finish = (v?: Exchange): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish(), timeoutMs);
    sock.on('error', () => finish());
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(out.length);
      sock.write(Buffer.concat([len, out]));
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const raw = buf.subarray(2, 2 + buf.readUInt16BE(0));
      try {
        const p = dnsPacket.decode(raw);
        finish(matches(p, id, q) ? { raw: Buffer.from(raw), packet: p } : undefined);
      } catch {
        finish();
      }
    });
  });
}
