import type { VxClient } from '../control/client';
import type { Host__Output } from '../control/generated/vxnet/v1/Host';
import { bool, list, parseArgs, str, UsageError } from './args';
import type { FlagSpec } from './args';
import { formatRows } from './format';
import { parseFilters, type Io } from './network';

const USAGE = `Usage:  vxnet host COMMAND

Manage the hosts of the cluster

Commands:
  ls          List the hosts: state, VTEP, version, uptime, endpoints, lease time left
  rm          Remove a host that is gone: release its endpoints and addresses

Run 'vxnet host COMMAND --help' for more information on a command.
`;

const LS_USAGE = `Usage:  vxnet host ls [OPTIONS]

List every host with endpoints, a record or a lease. "up": its agent holds its lease; "unreachable":
it does not (its containers may still be reachable; their entries stay until the host is removed).

Options:
  -f, --filter filter   Filter output (state=up|unreachable, name=NAME)
      --format string   Format the output using a Go template
  -q, --quiet           Only display host names
`;

const RM_USAGE = `Usage:  vxnet host rm [OPTIONS] HOST [HOST...]

Remove hosts that are gone for good: their endpoints, addresses and names are released and every
peer drops their entries. Refused for a host whose agent holds its lease, unless forced.

Options:
  -f, --force   Also remove a host that holds its lease (one known gone behind a partition)
`;

const FILTERS = new Set(['state', 'name']);

export const HOST_LS_FLAGS: FlagSpec[] = [
  { names: ['-f', '--filter'], key: 'filter', kind: 'list' },
  { names: ['--format'], key: 'format', kind: 'string' },
  { names: ['-q', '--quiet'], key: 'quiet', kind: 'bool' },
];
export const HOST_RM_FLAGS: FlagSpec[] = [{ names: ['-f', '--force'], key: 'force', kind: 'bool' }];

export async function runHost(argv: string[], client: () => VxClient, io: Io): Promise<number> {
  const [verb, ...rest] = argv;
  const help = rest.includes('--help') || rest.includes('-h');
  if (verb === 'ls' || verb === 'list') {
    if (help) return usage(io, LS_USAGE, 0);
    return ls(rest, client, io);
  }
  if (verb === 'rm' || verb === 'remove') {
    if (help) return usage(io, RM_USAGE, 0);
    return rm(rest, client, io);
  }
  return usage(io, USAGE, verb === undefined || verb === '--help' || verb === '-h' ? 0 : 125);
}

function usage(io: Io, text: string, code: number): number {
  io.out(text);
  return code;
}

async function ls(argv: string[], client: () => VxClient, io: Io): Promise<number> {
  const p = parseArgs(argv, HOST_LS_FLAGS);
  const filters = parseFilters(list(p, 'filter'));
  for (const f of filters) {
    if (!FILTERS.has(f.key ?? ''))
      throw new UsageError(
        `invalid filter '${f.key}' for host ls; valid filters: ${[...FILTERS].join(', ')}`,
        1,
        false,
      );
    if (f.key === 'state' && f.value !== 'up' && f.value !== 'unreachable')
      throw new UsageError(`invalid state '${f.value}' for the state filter: use up or unreachable`, 1, false);
  }
  const r = await client().listHosts({});
  if (r.stale) io.err(`WARNING: ${r.stale}\n`);
  const keep = (h: Host__Output): boolean =>
    ['state', 'name'].every((k) => {
      const want = filters.filter((f) => f.key === k).map((f) => f.value);
      return want.length === 0 || want.includes(k === 'state' ? h.state : h.name);
    });
  const rows = r.hosts.filter(keep).map((h) => ({
    Name: h.name,
    State: h.state === 'up' ? 'up' : h.since ? `unreachable since ${h.since}` : 'unreachable',
    VTEP: h.vtep,
    Version: h.version,
    Uptime: h.state === 'up' && h.started ? uptime(h.started) : '-',
    Endpoints: h.endpoints,
    LeaseTTL: Number(h.leaseTtlLeft) >= 0 ? `${h.leaseTtlLeft}s` : '-',
    VXLANPort: h.vxlanPort,
    MTU: h.underlayMtu,
    Since: h.since,
  }));
  if (bool(p, 'quiet') && !str(p, 'format')) {
    io.out(rows.map((row) => `${row.Name}\n`).join(''));
    return 0;
  }
  io.out(
    formatRows(
      str(p, 'format') ||
        'table {{.Name}}\t{{.VTEP}}\t{{.Version}}\t{{.Uptime}}\t{{.Endpoints}}\t{{.LeaseTTL}}\t{{.State}}',
      rows,
      {
        Name: 'HOST',
        State: 'STATE',
        VTEP: 'VTEP',
        Version: 'VERSION',
        Uptime: 'UPTIME',
        Endpoints: 'ENDPOINTS',
        LeaseTTL: 'LEASE TTL',
        VXLANPort: 'VXLAN PORT',
        MTU: 'MTU',
        Since: 'SINCE',
      },
    ),
  );
  return 0;
}

async function rm(argv: string[], client: () => VxClient, io: Io): Promise<number> {
  const p = parseArgs(argv, HOST_RM_FLAGS);
  if (p.args.length === 0) throw new UsageError('"vxnet host rm" requires at least 1 argument');
  const force = bool(p, 'force');
  let code = 0;
  for (const name of p.args) {
    try {
      const r = await client().removeHost({ name, force });
      if (force) io.err(`WARNING: removed ${name} by force; if its agent is still running, stop it\n`);
      io.out(`${name}\n`);
      if (r.endpointsReleased) io.err(`${name}: released ${r.endpointsReleased} endpoint(s)\n`);
    } catch (err) {
      if (p.args.length === 1) throw err;
      io.err(`Error response from agent: ${(err as { details?: string }).details ?? String(err)}\n`);
      code = 1;
    }
  }
  return code;
}

function uptime(started: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(started)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}
