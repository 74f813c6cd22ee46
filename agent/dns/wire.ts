import type { Packet } from 'dns-packet';
import * as dnsPacket from 'dns-packet';
import { RCODE } from './answer';

// The edges of dns-packet: decoding that never throws, and encoding within a transport's size.

const UDP_PLAIN = 512; // without EDNS (RFC 1035)
const UDP_EDNS_MAX = 1232; // what vxnet offers with EDNS: no IP fragmentation on any MTU in use

export type Decoded = { ok: true; packet: Packet } | { ok: false; formerr: Buffer | undefined };

const MAX_QUERY = 4096; // a question and an OPT record need a few hundred bytes

export function decodeQuery(buf: Buffer): Decoded {
  // A reply to a response or to a few stray bytes only feeds a loop or a reflection: nothing.
  if (buf.length < 12 || buf[2] & 0x80) return { ok: false, formerr: undefined };
  // The header's counts first: a query holds one question and at most an OPT and a TSIG. Decoding
  // what claims 65,535 records of each kind took dns-packet ~6 ms per packet.
  const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o));
  if (buf.length > MAX_QUERY || counts[0] !== 1 || counts[1] || counts[2] || counts[3] > 2) return formerr(buf);
  try {
    return { ok: true, packet: dnsPacket.decode(buf) };
  } catch {
    return formerr(buf);
  }
}

function formerr(buf: Buffer): Decoded {
  const flags = (buf.readUInt16BE(2) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE | RCODE.FORMERR;
  return {
    ok: false,
    formerr: dnsPacket.encode({ id: buf.readUInt16BE(0), type: 'response', flags, questions: [] }),
  };
}

// The largest UDP response a query allows: 512 bytes, or its EDNS size up to vxnet's own.
export function udpLimit(query: Packet): number {
  const opt = query.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  if (!opt) return UDP_PLAIN;
  return Math.max(UDP_PLAIN, Math.min(opt.udpPayloadSize ?? UDP_PLAIN, UDP_EDNS_MAX));
}

// Encoded; over UDP a response larger than the limit goes out with TC set and no records, so the
// client asks again over TCP.
export function encodeResponse(packet: Packet, limit: number): Buffer {
  const buf = dnsPacket.encode(packet);
  if (buf.length <= limit) return buf;
  return dnsPacket.encode({
    ...packet,
    flags: (packet.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE,
    answers: [],
    authorities: [],
    additionals: (packet.additionals ?? []).filter((a) => a.type === 'OPT'),
  });
}
