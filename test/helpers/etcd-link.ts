import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

// One host's way to etcd, through a unix socket that the test can cut as a partition cuts a link
// (iptables DROP): bytes stop moving both ways and new connections get no answer, but nothing is
// closed; on `heal` everything held moves on, as TCP delivers what it retransmits. Agents inside
// host namespaces reach etcd over unix sockets, so this is where their etcd traffic can be cut.
export class EtcdLink {
  readonly url: string;
  private readonly dir: string;
  private readonly server: net.Server;
  private readonly pairs = new Set<Pair>();
  private cut = false;

  private constructor(private readonly target: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vxt-etcdlink-'));
    this.url = `unix://${path.join(this.dir, 'etcd.sock')}`;
    this.server = net.createServer((client) => {
      const pair = new Pair(client);
      this.pairs.add(pair);
      client.on('close', () => this.pairs.delete(pair));
      if (!this.cut) pair.connect(this.target);
    });
  }

  // `unixUrl`: etcd's own (unix:///path). Listening before this returns (a unix socket binds at
  // once), so that an agent started next finds it; a failure to bind throws on the next tick.
  static open(unixUrl: string): EtcdLink {
    const link = new EtcdLink(unixUrl.replace(/^unix:\/\//, ''));
    link.server.on('error', (err) => {
      throw err;
    });
    link.server.listen(link.url.replace(/^unix:\/\//, ''));
    return link;
  }

  partition(): void {
    this.cut = true;
    for (const p of this.pairs) p.hold = true;
  }

  heal(): void {
    this.cut = false;
    for (const p of this.pairs) {
      if (!p.up) p.connect(this.target);
      p.release();
    }
  }

  close(): void {
    this.server.close();
    for (const p of this.pairs) p.destroy();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// A connection and its way on to etcd; while held, what either side sends waits here.
class Pair {
  up: net.Socket | undefined;
  hold = false;
  private toUp: Buffer[] = [];
  private toClient: Buffer[] = [];

  constructor(private readonly client: net.Socket) {
    client.on('error', () => undefined);
    client.on('data', (d: Buffer) => (this.hold || !this.up ? this.toUp.push(d) : this.up.write(d)));
  }

  connect(target: string): void {
    const up = (this.up = net.connect(target));
    up.on('error', () => undefined);
    up.on('data', (d: Buffer) => (this.hold ? this.toClient.push(d) : this.client.write(d)));
    up.on('close', () => this.client.destroy());
    this.client.on('close', () => up.destroy());
    if (!this.hold) this.release();
  }

  release(): void {
    this.hold = false;
    for (const d of this.toUp.splice(0)) this.up?.write(d);
    for (const d of this.toClient.splice(0)) this.client.write(d);
  }

  destroy(): void {
    this.client.destroy();
    this.up?.destroy();
  }
}
