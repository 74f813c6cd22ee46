import * as fs from 'fs';
import * as net from 'net';
import { createLogger } from '../../lib/log';
import { Resolver } from './resolver';

const USAGE = `Usage: vxnet dns --socket PATH

Runs this host's resolver: the agent starts it (or systemd, vxnet-dns.service) and feeds it over
PATH; it outlives the agent's restarts and answers from the last names it was sent meanwhile.
`;

// The control protocol on the unix socket: one JSON object a line. From the agent:
// {"type":"config",...DnsConfig}, {"type":"table",...DnsTable}, {"type":"stats","id":N}; to it:
// {"type":"stats","id":N,"stats":...}. The last agent to connect is the one it listens to.
export async function runResolver(argv: string[]): Promise<number> {
  const i = argv.indexOf('--socket');
  if (argv.includes('--help') || i < 0 || !argv[i + 1]) {
    process.stdout.write(USAGE);
    return argv.includes('--help') ? 0 : 64;
  }
  const socket = argv[i + 1];
  const log = createLogger({ level: 'info', base: { component: 'dns' } });
  if (await answers(socket)) {
    log.info('a resolver already serves this socket', { socket });
    return 0;
  }
  fs.rmSync(socket, { force: true });
  const resolver = new Resolver(log);
  let current: net.Socket | undefined;
  const server = net.createServer((c) => {
    current?.destroy();
    current = c;
    let buf = '';
    c.setEncoding('utf8');
    c.on('error', () => c.destroy());
    c.on('data', (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const msg = JSON.parse(line) as { type: string; id?: number };
          if (msg.type === 'config') resolver.configure(msg as never);
          else if (msg.type === 'table') resolver.setTable(msg as never);
          else if (msg.type === 'stats')
            c.write(`${JSON.stringify({ type: 'stats', id: msg.id, stats: resolver.stats.snapshot() })}\n`);
        } catch (err) {
          log.warn('unreadable message from the agent', { error: (err as Error).message });
        }
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve());
  });
  fs.chmodSync(socket, 0o600);
  fs.writeFileSync(`${socket}.pid`, `${process.pid}\n`);
  log.info('resolver started', { socket, pid: process.pid });
  const stop = (signal: string): void => {
    log.info('resolver stopping', { signal });
    resolver.close();
    server.close();
    fs.rmSync(socket, { force: true });
    fs.rmSync(`${socket}.pid`, { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return new Promise<number>(() => undefined);
}

// Whether something listens on the socket (a resolver started by an agent before this one).
export function answers(socket: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socket);
    const t = setTimeout(() => {
      c.destroy();
      resolve(false);
    }, timeoutMs);
    c.on('connect', () => {
      clearTimeout(t);
      c.destroy();
      resolve(true);
    });
    c.on('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}
