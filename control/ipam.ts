import { randomBytes } from 'crypto';
import { Address4, Address6 } from 'ip-address';
import { exhausted, exists, invalid } from './errors';
import type { SubnetConfig } from './model';

// Pure address arithmetic on bigints, with ip-address doing the parsing. Every address leaves here
// in one canonical form (dotted quad, compressed lower-case IPv6) so that an etcd key per address
// is unique per address.

export interface Cidr {
  v6: boolean;
  bits: number; // 32 or 128
  prefix: number;
  network: bigint; // first address
  last: bigint; // last address
  text: string; // canonical "network/prefix"
}

export function isV6(addr: string): boolean {
  return addr.includes(':');
}

export function parseAddress(s: string, what = 'address'): { v6: boolean; value: bigint; text: string } {
  const t = s.trim();
  if (!t || t.includes('/')) throw invalid(`${what} "${s}" is not a valid IP address`);
  try {
    if (isV6(t)) {
      if (!Address6.isValid(t)) throw new Error('invalid');
      const a = new Address6(t);
      return { v6: true, value: a.bigInt(), text: a.correctForm() };
    }
    if (!Address4.isValid(t)) throw new Error('invalid');
    const a = new Address4(t);
    return { v6: false, value: a.bigInt(), text: a.correctForm() };
  } catch {
    throw invalid(`${what} "${s}" is not a valid IP${isV6(t) ? 'v6' : 'v4'} address`);
  }
}

// "10.0.0.2/24" -> "10.0.0.2" without an array: once per endpoint in the agent's hot loops.
export function addressOf(cidr: string): string {
  const slash = cidr.indexOf('/');
  return slash < 0 ? cidr : cidr.slice(0, slash);
}

export function canonicalAddress(s: string): string {
  return parseAddress(s).text;
}

export function formatAddress(v: bigint, v6: boolean): string {
  if (v6) return Address6.fromBigInt(v).correctForm();
  return formatV4(Number(v));
}

// Dotted decimal by hand: the library's object per address made a scan past 10,000 taken addresses
// (a Connect to a network that big) cost ~30 ms.
function formatV4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

// Host bits are cleared, as Docker does for --subnet 10.1.0.1/24 -> 10.1.0.0/24.
export function parseCidr(s: string, what = 'subnet'): Cidr {
  const t = s.trim();
  const m = /^([^/]+)\/(\d{1,3})$/.exec(t);
  if (!m) throw invalid(`${what} "${s}" is not in CIDR form (for example 10.1.0.0/24 or fd00:1::/64)`);
  const v6 = isV6(m[1]);
  const bits = v6 ? 128 : 32;
  const prefix = Number(m[2]);
  if (prefix > bits) throw invalid(`${what} "${s}" has an invalid prefix length /${prefix} (at most /${bits})`);
  let addr;
  try {
    addr = parseAddress(m[1], what);
  } catch {
    throw invalid(`${what} "${s}" is not a valid IP${v6 ? 'v6' : 'v4'} CIDR`);
  }
  const size = 1n << BigInt(bits - prefix);
  const network = (addr.value / size) * size;
  return { v6, bits, prefix, network, last: network + size - 1n, text: `${formatAddress(network, v6)}/${prefix}` };
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.v6 === b.v6 && a.network <= b.last && b.network <= a.last;
}

export function contains(c: Cidr, v: bigint, v6: boolean): boolean {
  return c.v6 === v6 && v >= c.network && v <= c.last;
}

export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  return outer.v6 === inner.v6 && inner.network >= outer.network && inner.last <= outer.last;
}

// The addresses never handed out by dynamic allocation in an IPv4 subnet: network and broadcast.
// IPv6 has no broadcast; its first address (subnet-router anycast) is skipped likewise.
function isEdge(c: Cidr, v: bigint): boolean {
  if (c.v6) return v === c.network;
  if (c.prefix >= 31) return false;
  return v === c.network || v === c.last;
}

export function defaultGateway(subnet: string): string {
  const c = parseCidr(subnet);
  return formatAddress(c.network + 1n, c.v6);
}

export function reserved(cfg: SubnetConfig): Set<string> {
  return new Set([cfg.gateway, ...Object.values(cfg.auxAddresses)].filter((a) => a).map(canonicalAddress));
}

// What allocation asks of the addresses in use: a Set of them, or a view over the agent's indexes.
export interface Taken {
  has(address: string): boolean;
  readonly size: number;
}

// Free addresses for dynamic allocation, lowest first (from `from` if it is inside the range, the
// address below which nothing is free), skipping the network's edges, its gateway and aux
// addresses, and `taken`; bounded by ip-range. Lazy: a /64 is never enumerated, only walked until
// `limit` free addresses are found.
export function freeCandidates(
  cfg: SubnetConfig,
  taken: Taken,
  opts: { limit: number; from?: bigint; maxScan?: number },
): string[] {
  const subnet = parseCidr(cfg.subnet);
  const range = cfg.ipRange ? parseCidr(cfg.ipRange, 'ip-range') : subnet;
  const skip = reserved(cfg);
  const out: string[] = [];
  const first = range.network;
  const span = range.last - range.network + 1n;
  const maxScan = BigInt(opts.maxScan ?? Number(taken.size + skip.size + opts.limit + 4));
  const offset = opts.from !== undefined && opts.from >= first && opts.from <= range.last ? opts.from - first : 0n;
  for (let i = 0n; i < span && i < maxScan + BigInt(opts.limit) && out.length < opts.limit; i++) {
    const v = first + ((offset + i) % span);
    if (isEdge(subnet, v)) continue;
    const text = formatAddress(v, subnet.v6);
    if (skip.has(text) || taken.has(text)) continue;
    out.push(text);
  }
  return out;
}

// How many addresses dynamic allocation can hand out in this subnet (for messages).
export function capacity(cfg: SubnetConfig): bigint {
  const subnet = parseCidr(cfg.subnet);
  const range = cfg.ipRange ? parseCidr(cfg.ipRange, 'ip-range') : subnet;
  let n = range.last - range.network + 1n;
  for (const v of [subnet.network, subnet.last]) if (isEdge(subnet, v) && contains(range, v, subnet.v6)) n--;
  for (const r of reserved(cfg)) {
    const a = parseAddress(r);
    if (contains(range, a.value, a.v6)) n--;
  }
  return n > 0n ? n : 0n;
}

// A static address request: inside the subnet, not its edges, gateway or aux addresses, not taken.
export function checkStaticAddress(cfg: SubnetConfig, addr: string, taken: Taken, network: string): string {
  const a = parseAddress(addr);
  const subnet = parseCidr(cfg.subnet);
  if (!contains(subnet, a.value, a.v6))
    throw invalid(`address ${a.text} is outside network ${network}'s subnet ${cfg.subnet}`);
  if (isEdge(subnet, a.value))
    throw invalid(
      `address ${a.text} is the ${a.value === subnet.network ? 'network' : 'broadcast'} address of ${cfg.subnet} and cannot be assigned`,
    );
  if (a.text === canonicalAddress(cfg.gateway))
    throw invalid(`address ${a.text} is the gateway of network ${network} and is reserved`);
  const aux = Object.entries(cfg.auxAddresses).find(([, v]) => canonicalAddress(v) === a.text);
  if (aux) throw invalid(`address ${a.text} is reserved as auxiliary address "${aux[0]}" in network ${network}`);
  if (taken.has(a.text)) throw exists(`address ${a.text} is already in use in network ${network}`);
  return a.text;
}

// Docker's global default pool: a /24 out of 10.0.0.0/8 that overlaps no existing subnet.
export function pickDefaultSubnet(existing: string[]): string {
  const used = existing.map((s) => parseCidr(s)).filter((c) => !c.v6);
  const base = parseCidr('10.0.0.0/8').network;
  for (let i = 0n; i < 65536n; i++) {
    const c: Cidr = {
      v6: false,
      bits: 32,
      prefix: 24,
      network: base + i * 256n,
      last: base + i * 256n + 255n,
      text: '',
    };
    if (!used.some((u) => overlaps(u, c))) return `${formatAddress(c.network, false)}/24`;
  }
  throw exhausted('the default address pool 10.0.0.0/8 has no free /24 left: give --subnet');
}

// --- MAC addresses --------------------------------------------------------------------------------

export function parseMac(s: string): string {
  const t = s.trim().toLowerCase();
  if (!/^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/.test(t))
    throw invalid(`MAC address "${s}" is not of the form 02:42:0a:00:00:02`);
  const mac = t.replace(/-/g, ':');
  const first = parseInt(mac.slice(0, 2), 16);
  if (first & 1)
    throw invalid(`MAC address ${mac} is a multicast address; an interface needs a unicast MAC (first octet even)`);
  if (mac === '00:00:00:00:00:00') throw invalid('MAC address 00:00:00:00:00:00 is not usable');
  return mac;
}

// Docker's scheme: 02:42 followed by the IPv4 address, so a re-used address keeps its MAC and
// peers' cached entries stay right.
export function macFromIPv4(ip: string): string {
  const b = ip.split('.').map((x) => Number(x).toString(16).padStart(2, '0'));
  return `02:42:${b.join(':')}`;
}

export function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0] & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
