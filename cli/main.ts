import * as fs from 'fs';
import { DEFAULT_SOCKET, TlsFiles, VxClient } from '../control/client';
import { UsageError } from './args';
import { TemplateError } from './format';
import { runVersion } from './version';
import { GLOBAL_FLAGS } from './commands';
import { liveSource, ReadOnlyClient, runCompletion, runComplete } from './completion';
import { Io, runNetwork, terminalAsk } from './network';
import { runDoctor, runEvents } from './system';
import { runHost } from './host';
import { version } from '../lib/version';
import { callFailure } from './connect-errors';

export const DEFAULT_HOST = `unix://${DEFAULT_SOCKET}`;

const USAGE = `Usage:  vxnet [OPTIONS] COMMAND

A multi-host VXLAN overlay network for containers

Options:
  -H, --host string      Agent to connect to: unix:///path or tcp://host:port (env VXNET_HOST;
                         default ${DEFAULT_HOST})
      --tlscacert file   Trust certs signed only by this CA (tcp)
      --tlscert file     Path to TLS certificate file (tcp)
      --tlskey file      Path to TLS key file (tcp)
  -v, --version          Print version information and quit

Commands:
  agent       Run the agent of this host
  completion  Print a shell completion script (bash, zsh or fish)
  doctor      Check this host's kernel state against etcd, and its setup
  events      Get real time events from the cluster
  host        Manage the hosts of the cluster
  network     Manage networks
  version     Show the vxnet version information

Run 'vxnet COMMAND --help' for more information on a command.
`;

export interface Globals {
  host: string;
  tls: { ca?: string; cert?: string; key?: string };
  rest: string[];
}

const VALUE_FLAGS = GLOBAL_FLAGS.filter((f) => f.kind !== 'bool').flatMap((f) => f.names);
const BOOL_FLAGS = GLOBAL_FLAGS.filter((f) => f.kind === 'bool').flatMap((f) => f.names);

// Global options come before the command, as with docker.
export function parseGlobals(argv: string[], env: NodeJS.ProcessEnv = process.env): Globals {
  const g: Globals = { host: env.VXNET_HOST || DEFAULT_HOST, tls: {}, rest: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    let name = a;
    let value: string | undefined;
    if (a.startsWith('--') && a.includes('='))
      [name, value] = [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)];
    else if (a.startsWith('-H') && a.length > 2) [name, value] = ['-H', a.slice(2).replace(/^=/, '')];
    if (!VALUE_FLAGS.includes(name)) {
      if (a.startsWith('-') && !BOOL_FLAGS.includes(a)) throw new UsageError(`unknown flag: ${name}`);
      break;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: ${name}`);
      value = argv[++i];
    }
    if (name === '-H' || name === '--host') g.host = value;
    else if (name === '--tlscacert') g.tls.ca = value;
    else if (name === '--tlscert') g.tls.cert = value;
    else g.tls.key = value;
  }
  checkHost(g.host);
  if (!!g.tls.cert !== !!g.tls.key) throw new UsageError('--tlscert and --tlskey go together');
  g.rest = argv.slice(i);
  return g;
}

// The forms grpcTarget understands; anything else would become a confusing DNS lookup.
export function checkHost(host: string): void {
  if (/^unix:\/\/.+/.test(host) || host.startsWith('/')) return;
  if (/^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):\d{1,5}$/.test(host)) return;
  throw new UsageError(`invalid host "${host}": use unix:///path/to/socket or tcp://host:port`);
}

function readTls(t: Globals['tls']): TlsFiles | undefined {
  if (!t.ca && !t.cert && !t.key) return undefined;
  const read = (f: string | undefined, what: string): Buffer | undefined => {
    if (!f) return undefined;
    try {
      return fs.readFileSync(f);
    } catch (err) {
      throw new UsageError(`cannot read ${what} ${f}: ${(err as Error).message}`, 1, false);
    }
  };
  return { ca: read(t.ca, '--tlscacert'), cert: read(t.cert, '--tlscert'), key: read(t.key, '--tlskey') };
}

// One line, as docker prints: the agent's own message for errors it answered, and for an agent
// that could not be reached, where we tried and (unless it is simply not running) why.
const CLI_DEADLINE_MS = 8000;

export function describeError(err: unknown, host: string): { message: string; code: number } {
  if (err instanceof UsageError) {
    const hint = err.hint && err.command ? `\nSee '${err.command} --help'.` : err.hint ? "\nSee 'vxnet --help'." : '';
    return { message: `vxnet: ${err.message}${hint}`, code: err.exitCode };
  }
  if (err instanceof TemplateError) return { message: err.message, code: 1 };
  const f = callFailure(err);
  switch (f?.kind) {
    case 'no-permission':
      return { message: `permission denied while trying to connect to the vxnet agent socket at ${host}`, code: 1 };
    case 'not-running':
      return { message: `Cannot connect to the vxnet agent at ${host}. Is the agent running?`, code: 1 };
    case 'unreachable':
      return { message: `Cannot connect to the vxnet agent at ${host}: ${f.cause}`, code: 1 };
    case 'timeout':
      return { message: `vxnet: the agent at ${host} did not answer in time (${f.details})`, code: 1 };
    case 'answer':
      return { message: `Error response from agent: ${f.details}`, code: 1 };
    case undefined:
  }
  return { message: `vxnet: ${err instanceof Error ? err.message : String(err)}`, code: 1 };
}

interface AgentModule {
  runAgent: (argv: string[]) => Promise<number>;
}

// The resolver loads its own modules only, not the agent's (netlink, etcd, gRPC): ~30 MB less.
function loadResolver(): { runResolver: (argv: string[]) => Promise<number> } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose
  return require('../agent/dns/process') as { runResolver: (argv: string[]) => Promise<number> };
}

// Loaded only for `vxnet agent`: the other commands do not need the agent's netlink bindings, and
// the CLI builds and runs without the agent module.
function loadAgent(): AgentModule {
  let mod: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy and optional on purpose
    mod = require('../agent/main');
  } catch (err) {
    if (
      (err as { code?: string }).code === 'MODULE_NOT_FOUND' &&
      String((err as Error).message).includes('agent/main')
    ) {
      throw new UsageError('agent not built: dist/agent/main.js is missing (run npm run build)', 1, false);
    }
    throw err;
  }
  if (typeof (mod as Partial<AgentModule> | null)?.runAgent !== 'function')
    throw new UsageError('agent not built: agent/main has no runAgent', 1, false);
  return mod as AgentModule;
}

function processIo(): Io {
  return {
    out: (s: string) => void process.stdout.write(s),
    err: (s: string) => void process.stderr.write(s),
    isTTY: !!process.stdin.isTTY,
    ask: terminalAsk,
  };
}

// The completion scripts' call: the words typed so far, the last one being completed. Live values
// come from the agent the line names with -H (or the default one), through reads only.
async function completeWords(words: string[], io: Io): Promise<number> {
  let client: VxClient | undefined;
  const connect = (): ReadOnlyClient => {
    if (!client) {
      let g: Globals | undefined;
      try {
        g = parseGlobals(words.slice(0, -1));
      } catch {
        // an unfinished or wrong line: ask the default agent
      }
      client = new VxClient(g?.host ?? (process.env.VXNET_HOST || DEFAULT_HOST), g ? readTls(g.tls) : undefined);
    }
    return client;
  };
  try {
    return await runComplete(words, liveSource(connect), io);
  } finally {
    client?.close();
  }
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  if (argv[0] === '__complete') return completeWords(argv.slice(1), io);
  let host = process.env.VXNET_HOST || DEFAULT_HOST;
  let client: VxClient | undefined;
  try {
    const g = parseGlobals(argv);
    host = g.host;
    const [cmd, ...rest] = g.rest;
    // What a person waits for: an agent that cannot answer says so within a second (etcd away),
    // so a longer wait would only hide a hung one.
    const getClient = (): VxClient => (client ??= new VxClient(g.host, readTls(g.tls), CLI_DEADLINE_MS));
    switch (cmd) {
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        io.out(USAGE);
        return 0;
      case '--version':
      case '-v':
        io.out(`vxnet version ${version()}\n`);
        return 0;
      case 'version':
        return await runVersion(rest, getClient, io, host);
      case 'agent':
        return await loadAgent().runAgent(rest);
      case 'completion':
        return runCompletion(rest, io);
      case 'dns':
        return await loadResolver().runResolver(rest);
      case 'network':
        return await runNetwork(rest, getClient, io);
      case 'events':
        return await runEvents(rest, getClient, io);
      case 'host':
        return await runHost(rest, getClient, io);
      case 'doctor':
        return await runDoctor(rest, getClient, io);
      default:
        throw new UsageError(`'${cmd}' is not a vxnet command.`, 1);
    }
  } catch (err) {
    const { message, code } = describeError(err, host);
    io.err(`${message}\n`);
    return code;
  } finally {
    client?.close();
  }
}

function isAgentCommand(argv: string[]): boolean {
  try {
    return parseGlobals(argv).rest[0] === 'agent';
  } catch {
    return false;
  }
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  main(argv).then(
    (code) => {
      process.exitCode = code;
      // The agent's promise settles when it has stopped by itself; a client command is done now,
      // whatever timers grpc-js still holds.
      if (!isAgentCommand(argv)) setImmediate(() => process.exit(code));
    },
    (err: Error) => {
      process.stderr.write(`vxnet: ${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
}
