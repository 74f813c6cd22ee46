import { spawn } from 'child_process';
import * as net from 'net';
import type { ClusterView } from '../../control/store/store';
import type { Logger } from '../../lib/log';
import type { DnsConfig } from './resolver';
import type { DnsStatsSnapshot } from './stats';
import { buildTable } from './table';

const POLL_MS = 50;
// A push costs the agent ~1 ms per 1,000 endpoints of its served networks (building and encoding
// the table: ~60 ms at 50,000): the next waits ten times as long, so that a burst of watch events
// in a big network spends at most a tenth of the agent's time here.
const BACKOFF = 10;
const RECONNECT_MS = 200;

// The agent's side of the resolver: starts it where none runs, sends it the configuration and a
// new table whenever the view changes, and asks it for its counters at scrape time. The resolver
// is its own process so that it outlives the agent (docs/decisions/0023-resolver-outlives-the-agent.md).
export class DnsFeeder {
  private conn: net.Socket | undefined;
  private stopped = false;
  private lastVersion = -1;
  private lastSent = '';
  private poll: NodeJS.Timeout | undefined;
  private reconnect: NodeJS.Timeout | undefined;
  private spawned = false;
  private notBefore = 0;
  private nextId = 1;
  private readonly waiting = new Map<number, (s: DnsStatsSnapshot | undefined) => void>();
  private buf = '';

  constructor(
    private readonly socket: string,
    private readonly config: DnsConfig,
    private readonly host: string,
    // The view, once loaded (before that nothing is sent: an empty table would make every name
    // unknown for the moment an agent takes to load after a restart), and its version.
    private readonly view: () => { snap: ClusterView | undefined; ready: boolean; version: number },
    private readonly log: Logger,
  ) {}

  start(): void {
    this.connect();
    // Polled rather than on the view's events: the view emits no change for this agent's own
    // Connects and for networks it does not program, and the resolver must hear of every one.
    this.poll = setInterval(() => this.push(), POLL_MS);
    this.poll.unref();
  }

  private connect(): void {
    if (this.stopped) return;
    const c = net.connect(this.socket);
    c.setEncoding('utf8');
    c.on('connect', () => {
      this.conn = c;
      this.lastSent = '';
      this.lastVersion = -1;
      c.write(`${JSON.stringify({ type: 'config', ...this.config })}\n`);
      this.push();
    });
    c.on('data', (d: string) => this.read(d));
    c.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.conn && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')) this.spawnResolver();
    });
    c.on('close', () => {
      if (this.conn === c) this.conn = undefined;
      for (const w of this.waiting.values()) w(undefined);
      this.waiting.clear();
      if (this.stopped) return;
      this.reconnect = setTimeout(() => this.connect(), RECONNECT_MS);
    });
  }

  // Detached, in its own session: it is not the agent's to stop (a SIGKILL of the agent leaves it
  // serving). Spawned once per failed connection streak, so a resolver that dies at start is not
  // spawned in a tight loop.
  private spawnResolver(): void {
    if (this.spawned) return;
    this.spawned = true;
    const p = spawn(process.execPath, [process.argv[1], 'dns', '--socket', this.socket], {
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    p.unref();
    this.log.info('started the resolver', { pid: p.pid, socket: this.socket });
    setTimeout(() => (this.spawned = false), 5000).unref();
  }

  private push(): void {
    const c = this.conn;
    const v = this.view();
    if (!c || !v.ready || !v.snap || v.version === this.lastVersion || Date.now() < this.notBefore) return;
    const start = Date.now();
    this.lastVersion = v.version;
    const text = JSON.stringify({ type: 'table', ...buildTable(v.snap, this.host) });
    if (text !== this.lastSent) {
      this.lastSent = text;
      c.write(`${text}\n`);
    }
    this.notBefore = Date.now() + (Date.now() - start) * BACKOFF;
  }

  private read(d: string): void {
    this.buf += d;
    let nl;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      try {
        const m = JSON.parse(line) as { type: string; id: number; stats: DnsStatsSnapshot };
        this.waiting.get(m.id)?.(m.stats);
        this.waiting.delete(m.id);
      } catch {
        // a line cut by a closing connection
      }
    }
  }

  stats(timeoutMs = 500): Promise<DnsStatsSnapshot | undefined> {
    const c = this.conn;
    if (!c) return Promise.resolve(undefined);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(id, (s) => {
        clearTimeout(t);
        resolve(s);
      });
      c.write(`${JSON.stringify({ type: 'stats', id })}\n`);
    });
  }

  // The resolver goes on serving: it is stopped by its own unit or by its PID.
  stop(): void {
    this.stopped = true;
    clearInterval(this.poll);
    clearTimeout(this.reconnect);
    this.conn?.destroy();
  }
}
