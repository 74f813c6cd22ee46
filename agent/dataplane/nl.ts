import type { RtNetlinkSocket, rt } from 'netlink';

// The netlink wire as vxnet speaks it, for every module that does (the adapters, the batches and
// dumps, isolation's dumps, the bench's counter): the constants of linux/rtnetlink.h, neighbour.h,
// if_link.h and fib_rules.h that the netlink package does not export, and the few messages it
// cannot express. One copy: a constant declared per file drifted unnoticed from its twins.

// Header sizes.
export const NLMSG_HDRLEN = 16;
export const NDMSG_LEN = 12; // struct ndmsg: family, pad, ifindex (int32 at 4), state (u16 at 8), flags, type
export const IFINFOMSG_LEN = 16; // struct ifinfomsg: family, pad, type, index (int32 at 4), flags, change

// Message types.
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const RTM_GETLINK = 18;
export const RTM_SETLINK = 19;
export const RTM_GETROUTE = 26;
export const RTM_NEWNEIGH = 28;
export const RTM_DELNEIGH = 29;
export const RTM_GETNEIGH = 30;
export const RTM_GETRULE = 34;

// Message flags.
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_DUMP = 0x300;

// Address families.
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;

// Link attributes.
export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_PROTINFO = 12;
export const IFLA_NET_NS_FD = 28;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const VETH_INFO_PEER = 1;
export const IFLA_BRPORT_LEARNING = 8;
export const IFLA_BRPORT_UNICAST_FLOOD = 9;
export const NLA_F_NESTED = 0x8000;

// Neighbor (and FDB) entries.
export const NDA_DST = 1;
export const NDA_LLADDR = 2;
export const NDA_IFINDEX = 8;
export const NUD_NOARP = 0x40; // a bridge FDB entry's state when it is static
export const NUD_PERMANENT = 0x80;
export const NTF_SELF = 0x02;
export const NTF_MASTER = 0x04;

// Routes and rules.
export const RT_TABLE_MAIN = 254;
export const RTA_DST = 1;
export const RTA_TABLE = 15;
export const RTN_PROHIBIT = 8;
export const FRA_IIFNAME = 3;
export const FRA_PRIORITY = 6;
export const FRA_TABLE = 15;

// The errnos the batches and their callers tell apart.
export const ENOENT = 2;
export const ESRCH = 3;
export const EINVAL = 22;

// --- attributes ---------------------------------------------------------------------------------

export function nlattr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const buf = Buffer.alloc((len + 3) & ~3);
  buf.writeUInt16LE(len, 0);
  buf.writeUInt16LE(type, 2);
  payload.copy(buf, 4);
  return buf;
}
export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
};
export const cstr = (s: string): Buffer => Buffer.concat([Buffer.from(s), Buffer.from([0])]);

// The offset of the first attribute of `type` after a fixed header of `start` bytes, or -1; its
// payload is at offset + 4, its payload's length is readUInt16LE(offset) - 4. `end`: where the
// message ends in `data` (its length when it holds one message).
export function attrAt(data: Buffer, start: number, type: number, end = data.length): number {
  let off = start;
  while (off + 4 <= end) {
    const len = data.readUInt16LE(off);
    if (len < 4 || off + len > end) return -1;
    if ((data.readUInt16LE(off + 2) & 0x3fff) === type) return off;
    off += (len + 3) & ~3;
  }
  return -1;
}

// --- addresses and MACs, text to bytes ------------------------------------------------------------
// Written in place: the batches encode tens of thousands of entries straight from their strings.

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

// "aa:bb:cc:dd:ee:ff" into b[at..at+6]; false when it is not a MAC.
export function putMac(b: Buffer, at: number, mac: string): boolean {
  if (mac.length !== 17) return false;
  for (let i = 0; i < 6; i++) {
    const hi = hexDigit(mac.charCodeAt(i * 3));
    const lo = hexDigit(mac.charCodeAt(i * 3 + 1));
    if (hi < 0 || lo < 0 || (i < 5 && mac.charCodeAt(i * 3 + 2) !== 58)) return false;
    b[at + i] = hi * 16 + lo;
  }
  return true;
}

// A dotted quad into b[at..at+4]; false when it is not one.
export function putIPv4(b: Buffer, at: number, ip: string): boolean {
  let part = 0;
  let n = 0;
  let digits = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part === 3) return false;
      b[at + part++] = n;
      n = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      n = n * 10 + c - 48;
      digits++;
      if (n > 255) return false;
    } else return false;
  }
  if (digits === 0 || part !== 3) return false;
  b[at + 3] = n;
  return true;
}

// An IPv6 address into b[at..at+16]; false when it is not one.
export function putIPv6(b: Buffer, at: number, ip: string): boolean {
  const halves = ip.split('::');
  if (halves.length > 2) return false;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return false;
  const groups = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...tail];
  for (let i = 0; i < 8; i++) {
    const g = groups[i];
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
    const v = parseInt(g, 16);
    b[at + 2 * i] = v >> 8;
    b[at + 2 * i + 1] = v & 255;
  }
  return true;
}

// The addresses and MACs come from records validated when they were written.
export function macBytes(mac: string): Buffer {
  const b = Buffer.alloc(6);
  putMac(b, 0, mac);
  return b;
}
export function ipBytes(ip: string): Buffer {
  const v6 = ip.includes(':');
  const b = Buffer.alloc(v6 ? 16 : 4);
  if (v6) putIPv6(b, 0, ip);
  else putIPv4(b, 0, ip);
  return b;
}

// --- addresses and MACs, bytes to text ------------------------------------------------------------

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function macText(b: Buffer, off: number, len: number): string {
  if (len === 6)
    return `${HEX[b[off]]}:${HEX[b[off + 1]]}:${HEX[b[off + 2]]}:${HEX[b[off + 3]]}:${HEX[b[off + 4]]}:${HEX[b[off + 5]]}`;
  const parts: string[] = [];
  for (let i = 0; i < len; i++) parts.push(HEX[b[off + i]]);
  return parts.join(':');
}

// Addresses as inet_ntop writes them (the form desired state uses: compared as strings).
export function ipText(b: Buffer, off: number, len: number): string {
  if (len === 4) return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
  if (len !== 16) return '';
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(off + i).toString(16));
  // compress the longest run of zero groups, as inet_ntop does
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

export function ipString(b: Buffer | undefined): string {
  return b ? ipText(b, 0, b.length) : '';
}

// An address message as "ip/len", the form desired state gives addresses in.
export function addressCidr(a: rt.AddressMessage): string {
  return `${ipString(a.attrs.local ?? a.attrs.address)}/${a.data.prefixlen}`;
}

// --- messages -------------------------------------------------------------------------------------

// A struct ndmsg: what a neighbor request or dump starts with (a dump reads only the family, and
// for AF_BRIDGE the port in `ifindex`).
export function ndmsg(family: number, ifindex = 0, state = 0, flags = 0): Buffer {
  const b = Buffer.alloc(NDMSG_LEN);
  b.writeUInt8(family, 0);
  b.writeInt32LE(ifindex, 4);
  b.writeUInt16LE(state, 8);
  b.writeUInt8(flags, 10);
  return b;
}

// An RTM_SETLINK payload that sets one bridge port attribute (IFLA_BRPORT_*) of `index` to `value`:
// an AF_BRIDGE ifinfomsg with the attribute nested in IFLA_PROTINFO.
export function bridgePortSetting(index: number, attr: number, value: number): Buffer {
  const ifinfo = Buffer.alloc(IFINFOMSG_LEN);
  ifinfo.writeUInt8(AF_BRIDGE, 0);
  ifinfo.writeInt32LE(index, 4);
  return Buffer.concat([ifinfo, nlattr(IFLA_PROTINFO | NLA_F_NESTED, nlattr(attr, Buffer.from([value])))]);
}

// The IFLA_LINKINFO of a veth whose peer is named, addressed and sized here (the netlink package
// cannot express a peer's nested ifinfomsg). With `nsFd` the peer is born in that namespace.
export function vethLinkinfo(peer: { ifname: string; mac: string; mtu: number; nsFd?: number }): Buffer {
  const attrs = Buffer.concat([
    Buffer.alloc(IFINFOMSG_LEN), // struct ifinfomsg of the peer: family 0, no flags (it cannot be set up here)
    nlattr(IFLA_IFNAME, cstr(peer.ifname)),
    nlattr(IFLA_ADDRESS, macBytes(peer.mac)),
    nlattr(IFLA_MTU, u32(peer.mtu)),
    ...(peer.nsFd !== undefined ? [nlattr(IFLA_NET_NS_FD, u32(peer.nsFd))] : []),
  ]);
  return Buffer.concat([nlattr(IFLA_INFO_KIND, cstr('veth')), nlattr(IFLA_INFO_DATA, nlattr(VETH_INFO_PEER, attrs))]);
}

// Adds (or replaces) `cidr` on interface `index`. `nodad`: an IPv6 address is ours by IPAM, and
// duplicate address detection would hold it "tentative" for a second.
export function addAddress(
  s: RtNetlinkSocket,
  index: number,
  cidr: string,
  nodad: boolean,
): Promise<rt.AddressMessage[]> {
  const [ip, len] = cidr.split('/');
  const b = ipBytes(ip);
  return s.newAddress(
    {
      family: b.length === 4 ? AF_INET : AF_INET6,
      prefixlen: Number(len),
      index,
      ...(nodad && b.length === 16 ? { flags: { nodad: true } } : {}),
    },
    { local: b, address: b },
    { flags: NLM_F_CREATE | NLM_F_REPLACE },
  );
}

// Adds (or replaces) the main table's default route of `family` via `gateway` out of `index`.
export function addDefaultRoute(
  s: RtNetlinkSocket,
  family: 4 | 6,
  index: number,
  gateway: string,
): Promise<rt.RouteMessage[]> {
  return s.newRoute(
    {
      family: family === 4 ? AF_INET : AF_INET6,
      dstLen: 0,
      table: RT_TABLE_MAIN,
      protocol: 'BOOT',
      scope: 'UNIVERSE',
      type: 'UNICAST',
    },
    { gateway: ipBytes(gateway), oif: index },
    { flags: NLM_F_CREATE | NLM_F_REPLACE },
  );
}

export function isDefaultRoute(r: rt.RouteMessage): boolean {
  return r.data.dstLen === 0 && (r.data.table === RT_TABLE_MAIN || r.attrs.table === RT_TABLE_MAIN);
}

// The errno name of a netlink failure: the netlink package's "Request rejected: ENODEV" carries it
// only in the text. The one place that reads it, so that a better-typed error changes one function.
export function errnoName(err: unknown): string {
  const e = err as { errno?: number; code?: string; message?: string };
  if (e.code) return e.code;
  const msg = e.message ?? '';
  // The netlink library names errnos through libuv, which does not know every Linux one.
  const unknown = /Unknown system error -(\d+)/.exec(msg)?.[1];
  if (unknown) return LINUX_ONLY_ERRNO[Number(unknown)] ?? `errno ${unknown}`;
  return /\b(E[A-Z0-9]{2,})\b/.exec(msg)?.[1] ?? (msg || String(err));
}

// Linux errnos that libuv has no name for, as the kernel's headers name them.
const LINUX_ONLY_ERRNO: Record<number, string> = { 54: 'EXFULL' };
