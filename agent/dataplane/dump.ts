// FDB and neighbor entries read straight from the raw messages of a kernel dump (the reading side of
// ./batch.ts). A restart reads every entry of every network (20,000 at 10,000 remote endpoints), and
// the netlink package's parse into objects per message and attribute took a third of the time to
// ready.

const NDA_DST = 1;
const NDA_LLADDR = 2;
const NTF_SELF = 0x02;
const NUD_NOARP = 0x40;
const NUD_PERMANENT = 0x80;
const NDMSG = 12; // struct ndmsg: family, pad, ifindex (int32 at 4), state (u16 at 8), flags, type

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

export type EntryVisitor = (ifindex: number, mac: string, addr: string) => void;

// Calls `fn` with the device, MAC and address of the entry whose payload (an ndmsg and its
// attributes) is at [start, end) of `d`, if it is one of our kinds: an FDB entry of the device
// itself (NTF_SELF) with a destination, a static entry of a bridge on one of its ports (address
// ''), or a permanent neighbor entry. Anything else (learned, local, another device's) is someone
// else's.
export function visitEntry(d: Buffer, start: number, end: number, kind: 'fdb' | 'neigh', fn: EntryVisitor): void {
  if (end - start < NDMSG) return;
  const state = d.readUInt16LE(start + 8);
  const ll = attrAt(d, start + NDMSG, NDA_LLADDR, end);
  if (ll < 0) return;
  if (kind === 'fdb' && (d[start + 10] & NTF_SELF) === 0) {
    if (state === NUD_NOARP) fn(d.readInt32LE(start + 4), macText(d, ll + 4, d.readUInt16LE(ll) - 4), '');
    return;
  }
  if (kind === 'neigh' && (state & NUD_PERMANENT) === 0) return;
  const dst = attrAt(d, start + NDMSG, NDA_DST, end);
  if (dst < 0) return;
  fn(d.readInt32LE(start + 4), macText(d, ll + 4, d.readUInt16LE(ll) - 4), ipText(d, dst + 4, d.readUInt16LE(dst) - 4));
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function macText(b: Buffer, off: number, len: number): string {
  if (len === 6) return `${HEX[b[off]]}:${HEX[b[off + 1]]}:${HEX[b[off + 2]]}:${HEX[b[off + 3]]}:${HEX[b[off + 4]]}:${HEX[b[off + 5]]}`;
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
  for (let i = 0; i < 8; ) {
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
