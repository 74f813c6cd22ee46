import { RawNetlinkSocket, Protocol } from 'netlink';
import { visitEntry } from './dump';
import {
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  RTM_GETNEIGH,
  RTM_NEWNEIGH,
  ndmsg,
} from './nl';
import type { EntryVisitor } from './dump';

// Dumps of FDB and neighbor entries on a socket of their own, read where they arrive: every
// message of a receive is walked in the kernel's buffer, with no object per message. A restart
// reads 20,000 entries at 10,000 remote endpoints, and the netlink package's parse made an object
// and a Buffer view per message, kept until the dump's end: garbage the young generation copied
// while the restart's heap was mostly survivors (not measurable by itself above a restart's noise).

interface Pending {
  seq: number;
  kind: 'fdb' | 'neigh';
  fn: EntryVisitor;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class EntryDumper {
  private readonly sock: RawNetlinkSocket;
  private seq = 0;
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve(); // one dump at a time per socket (EBUSY)

  constructor() {
    this.sock = new RawNetlinkSocket(Protocol.ROUTE, { recvBufferSize: 4 << 20, sendBufferSize: 1 << 16 });
    // Holds the process only while a dump is under way: an agent that ends on a configuration
    // error must exit, and the netlink package's own sockets are unreferenced the same way.
    this.sock.unref();
    this.sock.on('message', (buf: Buffer) => this.receive(buf));
    this.sock.on('error', (err: Error) => this.fail(err));
  }

  close(): void {
    this.fail(new Error('netlink socket closed'));
    this.sock.close();
  }

  // Calls `fn` for each entry of `kind` (visitEntry) in the dump of `family` (AF_BRIDGE for the FDB).
  // As the netlink package did, a dump the table changed under is taken as it is: the next full
  // reconcile reads it again.
  dump(family: number, kind: 'fdb' | 'neigh', fn: EntryVisitor): Promise<void> {
    const run = (): Promise<void> => this.once(family, kind, fn);
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private once(family: number, kind: 'fdb' | 'neigh', fn: EntryVisitor): Promise<void> {
    return new Promise((resolve, reject) => {
      const seq = (this.seq = (this.seq % 0x7fffffff) + 1);
      const req = Buffer.concat([Buffer.alloc(NLMSG_HDRLEN), ndmsg(family)]);
      req.writeUInt32LE(req.length, 0);
      req.writeUInt16LE(RTM_GETNEIGH, 4);
      req.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
      req.writeUInt32LE(seq, 8);
      this.sock.ref();
      const done = (): void => this.sock.unref();
      this.pending = {
        seq,
        kind,
        fn,
        resolve: () => {
          done();
          resolve();
        },
        reject: (err) => {
          done();
          reject(err);
        },
      };
      this.sock.send(req, {}, (err?: Error) => {
        if (err) this.fail(err);
      });
    });
  }

  private fail(err: Error): void {
    const p = this.pending;
    this.pending = undefined;
    p?.reject(err);
  }

  private receive(buf: Buffer): void {
    const p = this.pending;
    if (!p) return;
    let off = 0;
    while (off + NLMSG_HDRLEN <= buf.length) {
      const len = buf.readUInt32LE(off);
      if (len < NLMSG_HDRLEN || off + len > buf.length) break;
      const type = buf.readUInt16LE(off + 4);
      if (buf.readUInt32LE(off + 8) === p.seq) {
        if (type === RTM_NEWNEIGH) {
          try {
            visitEntry(buf, off + NLMSG_HDRLEN, off + len, p.kind, p.fn);
          } catch (err) {
            this.fail(err as Error); // the rest of this dump's messages find nothing pending
            return;
          }
        } else if (type === NLMSG_DONE || type === NLMSG_ERROR) {
          this.pending = undefined;
          const errno = type === NLMSG_ERROR && len >= NLMSG_HDRLEN + 4 ? -buf.readInt32LE(off + NLMSG_HDRLEN) : 0;
          if (errno) p.reject(new Error(`neighbor dump failed: errno ${errno}`));
          else p.resolve();
          return;
        }
      }
      off += (len + 3) & ~3;
    }
  }
}
