import { NetlinkSocket, RawNetlinkSocket, Protocol, MessageType, parseError, NetlinkMessage } from 'netlink';

// Bulk FDB and neighbor programming: many RTM_NEWNEIGH/RTM_DELNEIGH messages packed into one buffer
// and sent with one sendmsg, an ACK asked only on the last message of each batch. One request per
// entry, each acknowledged, tops out near 25k entries/s from Node; this path measured ~250k/s
// (FACTS.md). Errors of the un-ACKed messages arrive as unsolicited ERROR messages and are
// collected per batch, matched by sequence number.

const RTM_NEWNEIGH = 28;
const RTM_DELNEIGH = 29;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_REPLACE = 0x100;
const NLM_F_CREATE = 0x400;
const NUD_PERMANENT = 0x80;
const NTF_SELF = 0x02;
const NDA_DST = 1;
const NDA_LLADDR = 2;
const AF_BRIDGE = 7;
const AF_INET = 2;
const AF_INET6 = 10;
const BATCH = 256; // messages per sendmsg: one ACK outstanding per batch, far from the buffer limit

export interface NeighMsg {
  kind: 'fdb' | 'neigh';
  op: 'add' | 'del';
  ifindex: number;
  mac: Buffer;   // 6 bytes
  ip: Buffer;    // fdb: the VTEP; neigh: the endpoint's address (4 or 16 bytes)
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

const msgLen = (m: NeighMsg): number => 16 + 12 + ((4 + m.ip.length + 3) & ~3) + 12;

// Writes one message at `off` of a zero-filled buffer (the padding stays zero); returns its length.
function encodeAt(b: Buffer, off: number, m: NeighMsg, seq: number, port: number, ack: boolean): number {
  const dstLen = 4 + m.ip.length;
  const len = msgLen(m);
  const type = m.op === 'add' ? RTM_NEWNEIGH : RTM_DELNEIGH;
  const flags = NLM_F_REQUEST | (m.op === 'add' ? NLM_F_CREATE | NLM_F_REPLACE : 0) | (ack ? NLM_F_ACK : 0);
  b.writeUInt32LE(len, off);
  b.writeUInt16LE(type, off + 4);
  b.writeUInt16LE(flags, off + 6);
  b.writeUInt32LE(seq, off + 8);
  b.writeUInt32LE(port, off + 12);
  b.writeUInt8(m.kind === 'fdb' ? AF_BRIDGE : m.ip.length === 4 ? AF_INET : AF_INET6, off + 16);
  b.writeInt32LE(m.ifindex, off + 20);
  b.writeUInt16LE(m.op === 'add' ? NUD_PERMANENT : 0, off + 24);
  b.writeUInt8(m.kind === 'fdb' ? NTF_SELF : 0, off + 26);
  let a = off + 28;
  b.writeUInt16LE(dstLen, a);
  b.writeUInt16LE(NDA_DST, a + 2);
  m.ip.copy(b, a + 4);
  a += (dstLen + 3) & ~3;
  b.writeUInt16LE(10, a);
  b.writeUInt16LE(NDA_LLADDR, a + 2);
  m.mac.copy(b, a + 4);
  return len;
}

export class NeighBatcher {
  private readonly sock: BatchSocket;
  private readonly port: number;
  private readonly errors = new Map<number, number>(); // seq -> errno of un-ACKed messages

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

  // Sends all messages; resolves with the messages that failed and their errno (ENOENT on delete and
  // EEXIST never happen to be errors for us: callers filter).
  async send(msgs: NeighMsg[]): Promise<{ msg: NeighMsg; errno: number }[]> {
    const failed: { msg: NeighMsg; errno: number }[] = [];
    for (let i = 0; i < msgs.length; i += BATCH) {
      const chunk = msgs.slice(i, i + BATCH);
      const seqs: number[] = [];
      // One buffer per sendmsg, each message written in place.
      const buf = Buffer.alloc(chunk.reduce((n, m) => n + msgLen(m), 0));
      let off = 0;
      chunk.forEach((m, j) => {
        const seq = this.sock.generateSeq();
        seqs.push(seq);
        off += encodeAt(buf, off, m, seq, this.port, j === chunk.length - 1);
      });
      const last = seqs[seqs.length - 1];
      try {
        const reply = await this.sock.sendBatch(buf, last);
        const lastErr = reply[0] ? parseError(reply[0].data, reply[0].flags).errno : 0;
        if (lastErr) this.errors.set(last, Math.abs(lastErr));
      } catch (err) {
        const e = err as { errno?: number };
        this.errors.set(last, Math.abs(e.errno ?? 5));
      }
      // Errors of earlier messages in the batch were delivered before the final ACK.
      seqs.forEach((seq, j) => {
        const errno = this.errors.get(seq);
        if (errno) {
          failed.push({ msg: chunk[j], errno });
          this.errors.delete(seq);
        }
      });
    }
    return failed;
  }

  close(): void {
    this.sock.close();
  }
}

export const ENOENT = 2;
export const ESRCH = 3;
