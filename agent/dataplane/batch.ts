import { NetlinkSocket, RawNetlinkSocket, Protocol, MessageType, parseError, NetlinkMessage } from 'netlink';
import {
  AF_BRIDGE,
  AF_INET,
  AF_INET6,
  EINVAL,
  NDA_DST,
  NDA_LLADDR,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_REPLACE,
  NLM_F_REQUEST,
  NTF_SELF,
  NUD_PERMANENT,
  RTM_DELNEIGH,
  RTM_NEWNEIGH,
  putIPv4,
  putIPv6,
  putMac,
} from './nl';

// Bulk FDB and neighbor programming: many RTM_NEWNEIGH/RTM_DELNEIGH messages packed into one buffer
// and sent with one sendmsg, an ACK asked only on the last message of each batch. One request per
// entry, each acknowledged, tops out near 25k entries/s from Node; this path reaches ~250k/s on a
// 2-core machine. Errors of the un-ACKed messages arrive as unsolicited ERROR messages and are
// collected per batch, matched by sequence number.
//
// Entries are written straight from their strings into the batch's buffer: a bulk change is tens of
// thousands of them, and a Buffer per MAC and per address (plus a message object) cost more than
// the kernel's own work on them.

// Messages per sendmsg: one ACK outstanding per batch. Kept at 256 because every failed message
// comes back as its own error (~800 bytes of receive buffer each) and the netlink package aborts
// the process when its receive buffer overflows (ENOBUFS reaches std::terminate, not 'error').
const BATCH = 256;
const MAX_MSG = 16 + 12 + 20 + 12; // an IPv6 neighbor

export type NeighKind = 'fdb' | 'neigh';
export type NeighOp = 'add' | 'del';

// How to read an entry's MAC and address (the VTEP for fdb, the endpoint's IP for neigh), as text:
// the callers' own entries are encoded as they are, with no object per entry made for the batch.
export interface EntryFields<T> {
  mac(e: T): string;
  addr(e: T): string;
}

class BatchSocket extends NetlinkSocket {
  sendBatch(buf: Buffer, lastSeq: number): Promise<NetlinkMessage[]> {
    return new Promise((resolve, reject) => {
      this.makeRef(lastSeq, (err, msgs) => {
        this.dropRef(lastSeq);
        if (err) reject(err);
        else resolve(msgs ?? []);
      });
      this.socket.send(buf, {}, (e?: Error) => {
        if (e) {
          this.dropRef(lastSeq);
          reject(e);
        }
      });
    });
  }
}

function put16(b: Buffer, at: number, v: number): void {
  b[at] = v & 255;
  b[at + 1] = v >>> 8;
}
function put32(b: Buffer, at: number, v: number): void {
  b[at] = v & 255;
  b[at + 1] = (v >>> 8) & 255;
  b[at + 2] = (v >>> 16) & 255;
  b[at + 3] = v >>> 24;
}

// Writes one message at `off` of a buffer with at least MAX_MSG bytes free; returns its length, or
// 0 when the entry's MAC or address is malformed (nothing is written then that would be sent).
export function encodeEntry(
  b: Buffer,
  off: number,
  kind: NeighKind,
  op: NeighOp,
  ifindex: number,
  mac: string,
  addr: string,
  seq: number,
  port: number,
  ack: boolean,
): number {
  const v6 = addr.includes(':');
  const alen = v6 ? 16 : 4;
  const len = 16 + 12 + 4 + alen + 12;
  b.fill(0, off, off + len);
  if (!(v6 ? putIPv6(b, off + 32, addr) : putIPv4(b, off + 32, addr)) || !putMac(b, off + 32 + alen + 4, mac)) return 0;
  put32(b, off, len);
  put16(b, off + 4, op === 'add' ? RTM_NEWNEIGH : RTM_DELNEIGH);
  put16(b, off + 6, NLM_F_REQUEST | (op === 'add' ? NLM_F_CREATE | NLM_F_REPLACE : 0) | (ack ? NLM_F_ACK : 0));
  put32(b, off + 8, seq);
  put32(b, off + 12, port);
  b[off + 16] = kind === 'fdb' ? AF_BRIDGE : v6 ? AF_INET6 : AF_INET;
  put32(b, off + 20, ifindex);
  put16(b, off + 24, op === 'add' ? NUD_PERMANENT : 0);
  b[off + 26] = kind === 'fdb' ? NTF_SELF : 0;
  put16(b, off + 28, 4 + alen);
  put16(b, off + 30, NDA_DST);
  const l = off + 32 + alen;
  put16(b, l, 10);
  put16(b, l + 2, NDA_LLADDR);
  return len;
}

export class NeighBatcher {
  private readonly sock: BatchSocket;
  private readonly port: number;
  private readonly errors = new Map<number, number>(); // seq -> errno of un-ACKed messages
  private readonly buf = Buffer.alloc(BATCH * MAX_MSG);

  constructor() {
    const opts = { recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 };
    this.sock = new BatchSocket(new RawNetlinkSocket(Protocol.ROUTE, opts));
    this.port = this.sock.address().port;
    this.sock.on('message', (msgs: NetlinkMessage[]) => {
      for (const m of msgs) {
        if (m.type !== (MessageType.ERROR as number)) continue;
        const errno = parseError(m.data, m.flags).errno;
        if (errno) this.errors.set(m.seq, Math.abs(errno));
      }
    });
    // A socket error must not abort the agent; the caller sees the failed batch.
    this.sock.on('error', () => undefined);
  }

  // Sends every entry; resolves with those that failed and their errno (ENOENT on delete is not
  // an error for us: callers filter). A malformed entry fails with EINVAL and is not sent. Each
  // batch is encoded and copied out of the shared buffer before the first await, so calls may overlap.
  async send<T>(
    kind: NeighKind,
    op: NeighOp,
    ifindex: number,
    entries: readonly T[],
    fields: EntryFields<T>,
  ): Promise<{ entry: T; errno: number }[]> {
    const failed: { entry: T; errno: number }[] = [];
    const seqs: number[] = [];
    const sent: T[] = [];
    for (let i = 0; i < entries.length;) {
      seqs.length = 0;
      sent.length = 0;
      let off = 0;
      let lastSeq = 0;
      let lastOff = 0;
      for (; i < entries.length && sent.length < BATCH; i++) {
        const seq = this.sock.generateSeq();
        const len = encodeEntry(
          this.buf,
          off,
          kind,
          op,
          ifindex,
          fields.mac(entries[i]),
          fields.addr(entries[i]),
          seq,
          this.port,
          false,
        );
        if (!len) {
          failed.push({ entry: entries[i], errno: EINVAL });
          continue;
        }
        seqs.push(seq);
        sent.push(entries[i]);
        lastSeq = seq;
        lastOff = off;
        off += len;
      }
      if (!sent.length) continue;
      put16(this.buf, lastOff + 6, this.buf.readUInt16LE(lastOff + 6) | NLM_F_ACK);
      try {
        const reply = await this.sock.sendBatch(Buffer.from(this.buf.subarray(0, off)), lastSeq);
        const lastErr = reply[0] ? parseError(reply[0].data, reply[0].flags).errno : 0;
        if (lastErr) this.errors.set(lastSeq, Math.abs(lastErr));
      } catch (err) {
        const e = err as { errno?: number };
        this.errors.set(lastSeq, Math.abs(e.errno ?? 5));
      }
      // Errors of earlier messages in the batch were delivered before the final ACK.
      for (let j = 0; j < seqs.length; j++) {
        const errno = this.errors.get(seqs[j]);
        if (errno) {
          failed.push({ entry: sent[j], errno });
          this.errors.delete(seqs[j]);
        }
      }
    }
    return failed;
  }

  close(): void {
    this.sock.close();
  }
}
