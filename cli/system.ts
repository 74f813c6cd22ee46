import type { VxClient } from '../control/client';
import type { Event__Output } from '../control/generated/vxnet/v1/Event';
import { bool, list, parseArgs, str, UsageError } from './args';
import type { FlagSpec } from './args';
import { compile } from './format';
import { parseFilters, type Io } from './network';

const EVENTS_USAGE = `Usage:  vxnet events [OPTIONS]

Get real time events from the cluster (networks created and removed, endpoints connected and
disconnected, hosts joining and leaving), like docker events --filter type=network.

Options:
  -f, --filter filter   Filter output (network=NAME|ID, type=network|endpoint|host, host=NAME, event=ACTION)
      --format string   Format the output using a Go template ({{json .}} for JSON lines)
      --since string    Show events this agent saw since a time (RFC 3339) or a duration ago (10m)
      --until string    Stop after this much time (duration, e.g. 30s) or at this time
`;

function eventLine(e: Event__Output): string {
  const attrs = [
    e.name && `name=${e.name}`,
    e.network && e.type !== 'network' && `network=${e.network}`,
    e.host && `host=${e.host}`,
    e.ipv4Address && `ipv4=${e.ipv4Address}`,
    e.ipv6Address && `ipv6=${e.ipv6Address}`,
    e.macAddress && `mac=${e.macAddress}`,
    e.vtep && `vtep=${e.vtep}`,
  ].filter(Boolean);
  return `${e.time} ${e.type} ${e.action} ${e.id} (${attrs.join(', ')})`;
}

function eventDot(e: Event__Output): Record<string, unknown> {
  return {
    Type: e.type,
    Action: e.action,
    Time: e.time,
    ID: e.id,
    Name: e.name,
    Network: e.network,
    NetworkID: e.networkId,
    Host: e.host,
    IPv4Address: e.ipv4Address,
    IPv6Address: e.ipv6Address,
    MacAddress: e.macAddress,
    VTEP: e.vtep,
    Revision: e.revision,
  };
}

export const EVENTS_FLAGS: FlagSpec[] = [
  { names: ['-h', '--help'], key: 'help', kind: 'bool' },
  { names: ['-f', '--filter'], key: 'filter', kind: 'list' },
  { names: ['--format'], key: 'format', kind: 'string' },
  { names: ['--since'], key: 'since', kind: 'string' },
  { names: ['--until'], key: 'until', kind: 'string' },
];
export const DOCTOR_FLAGS: FlagSpec[] = [
  { names: ['--json'], key: 'json', kind: 'bool' },
  { names: ['-h', '--help'], key: 'help', kind: 'bool' },
];

export async function runEvents(argv: string[], client: () => VxClient, io: Io): Promise<number> {
  const p = parseArgs(argv, EVENTS_FLAGS);
  if (bool(p, 'help')) {
    io.out(EVENTS_USAGE);
    return 0;
  }
  const t = str(p, 'format') ? compile(str(p, 'format')) : undefined;
  const until = str(p, 'until');
  let untilMs: number | undefined;
  if (until) {
    const d = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(until);
    untilMs = d
      ? Number(d[1]) * { ms: 1, s: 1e3, m: 60e3, h: 3600e3 }[d[2] as 'ms' | 's' | 'm' | 'h']
      : Date.parse(until) - Date.now();
    if (Number.isNaN(untilMs)) throw new UsageError(`--until ${until}: use a duration such as 30s or a time`);
  }
  return new Promise<number>((resolve) => {
    const w = client().watch(
      { filters: parseFilters(list(p, 'filter')), since: str(p, 'since') },
      (e) => io.out(`${t ? t(eventDot(e)) : eventLine(e)}\n`),
      (err) => {
        if (err) io.err(`Error response from agent: ${err.details}\n`);
        resolve(err ? 1 : 0);
      },
    );
    if (untilMs !== undefined) setTimeout(() => w.cancel(), Math.max(0, untilMs));
    process.once('SIGINT', () => w.cancel());
  });
}

export async function runDoctor(argv: string[], client: () => VxClient, io: Io): Promise<number> {
  const p = parseArgs(argv, DOCTOR_FLAGS);
  if (bool(p, 'help')) {
    io.out(
      "Usage:  vxnet doctor [--json]\n\nCompare what etcd says this host's kernel should hold with what it holds, and check etcd,\nthe lease, the clock, MTUs, VTEPs and forwarding. Exit 0 when all is well, 1 otherwise.\n",
    );
    return 0;
  }
  const r = await client().doctor({}, { deadlineMs: 30000 });
  if (bool(p, 'json')) {
    io.out(`${JSON.stringify(r, null, 2)}\n`);
  } else {
    io.out(`host ${r.host}\n`);
    for (const c of r.checks) io.out(`  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(11)} ${c.detail}\n`);
    if (r.differences.length) {
      io.out('\nkernel differs from etcd (+ missing, - not in etcd, ~ wrong):\n');
      for (const d of r.differences) io.out(`  ${d}\n`);
    } else {
      io.out('\nno difference between etcd and the kernel\n');
    }
  }
  return r.ok ? 0 : 1;
}
