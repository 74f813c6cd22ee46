import type { Answer, Packet } from 'dns-packet';
import * as dnsPacket from 'dns-packet';

const MAX_TTL = 300; // an upstream's change is seen within 5 minutes whatever TTL it gave
const NEGATIVE_TTL = 30; // a negative answer without an SOA to say how long

// Pure (the clock is passed in): forwarded answers by question, for at most their TTL; the oldest
// entry goes first when full. Served with their TTLs counted down, so no client holds an answer
// longer than the upstream allowed.
export class AnswerCache {
  private readonly entries = new Map<string, { packet: Packet; stored: number; expires: number }>();

  constructor(private readonly size: number) {}

  static key(name: string, type: string, cls = 'IN'): string {
    return `${name.toLowerCase().replace(/\.$/, '')}|${type}|${cls}`;
  }

  get length(): number {
    return this.entries.size;
  }

  // The cached response for `key` with `id`, or undefined.
  get(key: string, id: number, now: number): Buffer | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (now >= e.expires) {
      this.entries.delete(key);
      return undefined;
    }
    const age = Math.floor((now - e.stored) / 1000);
    const down = (rs: Answer[] | undefined): Answer[] =>
      (rs ?? []).map((r) => (r.type === 'OPT' ? r : { ...r, ttl: Math.max(0, (r.ttl ?? 0) - age) }) as Answer);
    return dnsPacket.encode({
      ...e.packet,
      id,
      answers: down(e.packet.answers),
      authorities: down(e.packet.authorities),
      additionals: down(e.packet.additionals),
    });
  }

  // Only complete answers: NOERROR (with or without records) and NXDOMAIN; not truncated ones.
  put(key: string, packet: Packet, now: number): void {
    if (this.size === 0) return;
    const flags = packet.flags ?? 0;
    const rcode = flags & 0xf;
    if ((rcode !== 0 && rcode !== 3) || flags & dnsPacket.TRUNCATED_RESPONSE) return;
    const ttl = ttlOf(packet);
    if (ttl <= 0) return;
    this.entries.delete(key);
    if (this.entries.size >= this.size) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { packet, stored: now, expires: now + ttl * 1000 });
  }
}

function ttlOf(p: Packet): number {
  const answers = (p.answers ?? []).filter((r) => r.type !== 'OPT');
  if (answers.length) return Math.min(MAX_TTL, ...answers.map((r) => r.ttl ?? 0));
  const soa = (p.authorities ?? []).find((r) => r.type === 'SOA') as
    { ttl?: number; data: { minimum: number } } | undefined;
  if (soa) return Math.min(MAX_TTL, soa.ttl ?? 0, soa.data.minimum);
  return NEGATIVE_TTL;
}
