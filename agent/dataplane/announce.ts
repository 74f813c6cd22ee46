import { putIPv4, putMac } from './nl';

// Gratuitous ARP replies ("X is at M", to everyone) for remote endpoints whose neighbor entries were
// just programmed, sent into the network's bridge so that every local container hears them.
//
// Why: a container that sends to a peer in the few milliseconds before this host has the peer's
// entry gets no answer to its ARP request (the vxlan device answers only from its entries) and
// retries a second later: the first packet after a Connect waits ~1 s (Docker's overlay driver
// shows exactly this). Linux takes the announcement as the answer to a pending request (it updates
// an existing entry, even an incomplete one; with arp_accept=0 it creates none), so the packet goes
// as soon as the entry exists. A reply, not a request: the vxlan device's ARP proxy answers requests
// itself, which would send a second frame back into the bridge. IPv6 entries are not announced
// (an unsolicited neighbor advertisement needs an ICMPv6 checksum): they wait for the next probe.
export const FRAME = 42; // Ethernet header + ARP for IPv4 over Ethernet

export function arpAnnouncements(entries: readonly { ip: string; mac: string }[]): Buffer {
  const v4 = entries.filter((e) => !e.ip.includes(':'));
  const b = Buffer.alloc(v4.length * FRAME);
  let n = 0;
  for (const e of v4) {
    const o = n * FRAME;
    b.fill(0xff, o, o + 6); // to everyone
    if (!putMac(b, o + 6, e.mac) || !putIPv4(b, o + 28, e.ip)) continue; // malformed: overwritten by the next
    b.writeUInt16BE(0x0806, o + 12); // ARP
    b.writeUInt16BE(1, o + 14); // Ethernet
    b.writeUInt16BE(0x0800, o + 16); // IPv4
    b[o + 18] = 6;
    b[o + 19] = 4;
    b.writeUInt16BE(2, o + 20); // reply
    b.copy(b, o + 22, o + 6, o + 12); // sender MAC
    b.fill(0xff, o + 32, o + 38); // target MAC: broadcast, as for a gratuitous reply
    b.copy(b, o + 38, o + 28, o + 32); // target IP = sender IP: gratuitous
    n++;
  }
  return b.subarray(0, n * FRAME);
}
