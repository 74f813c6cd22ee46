import { NDA_DST, NDA_LLADDR, NDMSG_LEN, NTF_SELF, NUD_NOARP, NUD_PERMANENT, attrAt, ipText, macText } from './nl';

// FDB and neighbor entries read straight from the raw messages of a kernel dump (the reading side of
// ./batch.ts). A restart reads every entry of every network (20,000 at 10,000 remote endpoints), and
// the netlink package's parse into objects per message and attribute took a third of the time to
// ready.

export type EntryVisitor = (ifindex: number, mac: string, addr: string) => void;

// Calls `fn` with the device, MAC and address of the entry whose payload (an ndmsg and its
// attributes) is at [start, end) of `d`, if it is one of our kinds: an FDB entry of the device
// itself (NTF_SELF) with a destination, a static entry of a bridge on one of its ports (address
// ''), or a permanent neighbor entry. Anything else (learned, local, another device's) is someone
// else's.
export function visitEntry(d: Buffer, start: number, end: number, kind: 'fdb' | 'neigh', fn: EntryVisitor): void {
  if (end - start < NDMSG_LEN) return;
  const state = d.readUInt16LE(start + 8);
  const ll = attrAt(d, start + NDMSG_LEN, NDA_LLADDR, end);
  if (ll < 0) return;
  if (kind === 'fdb' && (d[start + 10] & NTF_SELF) === 0) {
    if (state === NUD_NOARP) fn(d.readInt32LE(start + 4), macText(d, ll + 4, d.readUInt16LE(ll) - 4), '');
    return;
  }
  if (kind === 'neigh' && (state & NUD_PERMANENT) === 0) return;
  const dst = attrAt(d, start + NDMSG_LEN, NDA_DST, end);
  if (dst < 0) return;
  fn(d.readInt32LE(start + 4), macText(d, ll + 4, d.readUInt16LE(ll) - 4), ipText(d, dst + 4, d.readUInt16LE(dst) - 4));
}
