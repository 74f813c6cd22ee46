import * as dgram from 'dgram';
import * as net from 'net';
import type { Logger } from '../../lib/log';

export interface From {
  source: string; // the client's address
  gateway: string; // the address it asked
  tcp: boolean;
}

export type Handler = (query: Buffer, from: From) => Promise<Buffer | undefined>;

const TCP_IDLE_MS = 10_000;
const TCP_MAX_CONNECTIONS = 1024; // per gateway; a client over it is closed at once

// One UDP socket and one TCP listener per gateway address, bound to that address alone: replies
// leave from the address that was asked, and nothing else on the host's port 53 (systemd-resolved
// on 127.0.0.53, a dnsmasq) is in the way. The gateway is on every host's bridge; each host's
// resolver binds its own. An address not there yet (a bridge the reconciler is still making) is
// tried again on the next sync.
export class Listeners {
  private readonly bound = new Map<string, { udp: dgram.Socket; tcp: net.Server; connections: Set<net.Socket> }>();
  private readonly pending = new Set<string>();

  constructor(
    private readonly port: number,
    private readonly handle: Handler,
    private readonly log: Logger,
  ) {}

  get addresses(): string[] {
    return [...this.bound.keys()];
  }

  get missing(): number {
    return this.pending.size;
  }

  async sync(wanted: readonly string[]): Promise<void> {
    const want = new Set(wanted);
    for (const [a, l] of this.bound) {
      if (want.has(a)) continue;
      l.udp.close();
      l.tcp.close();
      for (const c of l.connections) c.destroy();
      this.bound.delete(a);
      this.log.info('resolver stopped listening', { address: a });
    }
    this.pending.clear();
    await Promise.all(
      [...want].filter((a) => !this.bound.has(a)).map((a) => this.open(a).catch(() => this.pending.add(a))),
    );
  }

  private async open(address: string): Promise<void> {
    const udp = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.port, address, () => {
        udp.off('error', reject);
        resolve();
      });
    }).catch((err: Error) => {
      udp.close();
      throw err;
    });
    const connections = new Set<net.Socket>();
    const tcp = net.createServer((c) => this.serveTcp(c, address, connections));
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(this.port, address, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      throw err;
    }
    udp.on('error', (err) => this.log.warn('resolver socket error', { address, error: err.message }));
    tcp.on('error', (err) => this.log.warn('resolver listener error', { address, error: err.message }));
    udp.on('message', (m, r) => {
      this.handle(m, { source: r.address, gateway: address, tcp: false }).then(
        (out) => out && udp.send(out, r.port, r.address),
        (err: Error) => this.log.warn('resolver failed to answer', { error: err.message }),
      );
    });
    this.bound.set(address, { udp, tcp, connections });
    this.log.info('resolver listening', { address, port: this.port });
  }

  // RFC 7766: several queries on a connection, each framed by its length; answers may come back in
  // any order.
  private serveTcp(c: net.Socket, gateway: string, connections: Set<net.Socket>): void {
    if (connections.size >= TCP_MAX_CONNECTIONS) {
      c.destroy();
      return;
    }
    connections.add(c);
    c.setTimeout(TCP_IDLE_MS, () => c.destroy());
    c.on('close', () => connections.delete(c));
    c.on('error', () => c.destroy());
    let buf: Buffer = Buffer.alloc(0);
    const source = c.remoteAddress ?? '';
    c.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const q = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + q.length);
        this.handle(Buffer.from(q), { source: source.replace(/^::ffff:/, ''), gateway, tcp: true }).then(
          (out) => {
            if (!out || c.destroyed) return;
            const len = Buffer.alloc(2);
            len.writeUInt16BE(out.length);
            c.write(Buffer.concat([len, out]));
          },
          () => c.destroy(),
        );
      }
    });
  }

  close(): void {
    void this.sync([]);
  }
}
