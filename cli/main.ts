import * as fs from 'fs';
import { status } from '@grpc/grpc-js';
import { DEFAULT_SOCKET, TlsFiles, VxClient } from '../control/client';
import { UsageError } from './args';
import { TemplateError } from './format';
import { runNetwork, terminalAsk } from './network';
import { runDoctor, runEvents, runHost } from './system';

const USAGE = `Usage:  vxnet [OPTIONS] COMMAND

A multi-host VXLAN overlay network for containers

Options:
  -H, --host string      Agent to connect to (unix:///path or tcp://host:port; env VXNET_HOST;
                         default unix://${DEFAULT_SOCKET})
      --tlscacert file   Trust certs signed only by this CA (tcp)
      --tlscert file     Path to TLS certificate file (tcp)
      --tlskey file      Path to TLS key file (tcp)

Commands:
  agent       Run the agent of this host
  doctor      Check this host's kernel state against etcd, and its setup
  events      Get real time events from the cluster
  host        List the hosts of the cluster
  network     Manage networks
  version     Show the version

Run 'vxnet COMMAND --help' for more information on a command.
`;

function version(): string {
  for (const p of [`${__dirname}/../../package.json`, `${__dirname}/../package.json`]) {
    try {
      return (JSON.parse(fs.readFileSync(p, 'utf8')) as { version: string }).version;
    } catch {
      /* next */
    }
  }
  return 'unknown';
}

interface Globals { host: string; tls: { ca?: string; cert?: string; key?: string }; rest: string[] }

function globals(argv: string[]): Globals {
  const g: Globals = { host: process.env.VXNET_HOST || `unix://${DEFAULT_SOCKET}`, tls: {}, rest: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    const take = (): string => {
      const eq = a.indexOf('=');
      if (a.startsWith('--') && eq > 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`flag needs an argument: ${a}`);
      return v;
    };
    const name = a.split('=')[0];
    if (name === '-H' || name === '--host') g.host = take();
    else if (name === '--tlscacert') g.tls.ca = take();
    else if (name === '--tlscert') g.tls.cert = take();
    else if (name === '--tlskey') g.tls.key = take();
    else break;
  }
  g.rest = argv.slice(i);
  return g;
}

function readTls(t: Globals['tls']): TlsFiles | undefined {
  if (!t.ca && !t.cert && !t.key) return undefined;
  const read = (f: string | undefined, what: string): Buffer | undefined => {
    if (!f) return undefined;
    try {
      return fs.readFileSync(f);
    } catch (err) {
      throw new UsageError(`cannot read ${what} ${f}: ${(err as Error).message}`);
    }
  };
  return { ca: read(t.ca, '--tlscacert'), cert: read(t.cert, '--tlscert'), key: read(t.key, '--tlskey') };
}

export async function main(argv: string[]): Promise<number> {
  const io = {
    out: (s: string) => void process.stdout.write(s),
    err: (s: string) => void process.stderr.write(s),
    isTTY: !!process.stdin.isTTY,
    ask: terminalAsk,
  };
  let g: Globals | undefined;
  let client: VxClient | undefined;
  try {
    g = globals(argv);
    const [cmd, ...rest] = g.rest;
    const gg = g;
    const getClient = (): VxClient => (client ??= new VxClient(gg.host, readTls(gg.tls)));
    switch (cmd) {
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        io.out(USAGE);
        return 0;
      case 'version':
      case '--version':
      case '-v':
        io.out(`vxnet version ${version()}\n`);
        return 0;
      case 'agent': {
        // Loaded only here: the CLI's other commands do not need the agent's netlink bindings.
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose
        const { runAgent } = require('../agent/main') as typeof import('../agent/main');
        return await runAgent(rest);
      }
      case 'network':
        return await runNetwork(rest, getClient, io);
      case 'events':
        return await runEvents(rest, getClient, io);
      case 'host':
        return await runHost(rest, getClient, io);
      case 'doctor':
        return await runDoctor(rest, getClient, io);
      default:
        throw new UsageError(`unknown command "${cmd}"\nRun 'vxnet --help' for usage.`);
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof TemplateError) {
      io.err(`vxnet: ${err.message}\n`);
      return err instanceof UsageError ? 125 : 1;
    }
    const e = err as { code?: status; details?: string; message?: string };
    if (typeof e.code === 'number' && e.details !== undefined) {
      if (e.code === status.UNAVAILABLE && /connect|No connection|ENOENT|ECONNREFUSED/i.test(e.details)) {
        io.err(`Cannot connect to the vxnet agent at ${g?.host ?? ''}. Is the agent running? (${e.details})\n`);
      } else {
        io.err(`Error response from agent: ${e.details}\n`);
      }
      return 1;
    }
    io.err(`vxnet: ${e.message ?? String(err)}\n`);
    return 1;
  } finally {
    client?.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      // The agent resolves only when it stops by itself; the CLI's commands exit at once.
      process.exitCode = code;
      if (!process.argv.includes('agent')) setImmediate(() => process.exit(code));
    },
    (err: Error) => {
      process.stderr.write(`vxnet: ${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
}
