import { removeNetnsResolvConf, writeNetnsResolvConf } from './resolv-conf';
import * as readline from 'readline';
import { status } from '@grpc/grpc-js';
import type { VxClient } from '../control/client';
import type { ConnectResponse__Output } from '../control/generated/vxnet/v1/ConnectResponse';
import type { Filter } from '../control/generated/vxnet/v1/Filter';
import type { Network__Output } from '../control/generated/vxnet/v1/Network';
import { bool, exactArgs, list, minArgs, noArgs, parseArgs, str, UsageError } from './args';
import { compile, formatRows, goStruct, isTableFormat } from './format';
import { buildCreateRequest } from './network-create';
import {
  CONNECT_FLAGS,
  CREATE_FLAGS,
  DISCONNECT_FLAGS,
  INSPECT_FLAGS,
  LS_FLAGS,
  NETWORK_USAGE,
  PRUNE_FLAGS,
  RM_FLAGS,
  USAGES,
} from './network-usage';
import { inspectDot, inspectJson, LS_DEFAULT, LS_HEADERS, lsRow, naturalLess } from './render';

export { buildCreateRequest, parseCreate } from './network-create';
export {
  CONNECT_FLAGS,
  CREATE_FLAGS,
  DISCONNECT_FLAGS,
  INSPECT_FLAGS,
  LS_FLAGS,
  NETWORK_USAGE,
  PRUNE_FLAGS,
  RM_FLAGS,
} from './network-usage';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  isTTY: boolean;
  ask: (q: string) => Promise<string>;
}

export function parseFilters(items: string[]): Filter[] {
  return items.map((f) => {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new UsageError(`bad format of filter (expected name=value): ${f}`, 1, false);
    return { key: f.slice(0, eq), value: f.slice(eq + 1) };
  });
}

// Docker's `network ls` format choice: "" and "table" are the default table, -q turns those into
// IDs only (a custom template wins over -q), "json" is one JSON object per line, "raw" is Docker's
// key: value blocks.
export function lsTemplate(format: string, quiet: boolean): string {
  switch (format) {
    case '':
    case 'table':
      return quiet ? '{{.ID}}' : LS_DEFAULT;
    case 'json':
      return '{{json .}}';
    case 'raw':
      return quiet
        ? 'network_id: {{.ID}}'
        : 'network_id: {{.ID}}\nname: {{.Name}}\ndriver: {{.Driver}}\nscope: {{.Scope}}\n';
    default:
      return format;
  }
}

export function renderLs(networks: Network__Output[], format: string, quiet: boolean, noTrunc: boolean): string {
  const rows = [...networks].sort((a, b) => naturalLess(a.name, b.name)).map((n) => lsRow(n, noTrunc));
  return formatRows(lsTemplate(format, quiet), rows, LS_HEADERS);
}

// Docker's inspect output: an indented JSON array, or each network through the template.
export function renderInspect(networks: Network__Output[], format: string): string {
  if (format && format !== 'json') {
    const t = compile(format);
    return networks.map((n) => `${t(inspectDot(n))}\n`).join('');
  }
  return `${JSON.stringify(networks.map(inspectJson), null, 4)}\n`;
}

// What `connect --format` sees: the endpoint as inspect shows it, plus what the sandbox was given.
export function connectDot(r: ConnectResponse__Output): Record<string, unknown> {
  const e = r.endpoint;
  return goStruct({
    Name: e?.name ?? '',
    EndpointID: e?.endpointId ?? '',
    MacAddress: e?.macAddress ?? '',
    IPv4Address: e?.ipv4Address ?? '',
    IPv6Address: e?.ipv6Address ?? '',
    Host: e?.host ?? '',
    Sandbox: e?.sandbox ?? '',
    InterfaceName: e?.interfaceName ?? '',
    Aliases: [...(e?.aliases ?? [])],
    Gateway: r.gateway,
    GatewayIPv6: r.gatewayIpv6,
    MTU: r.mtu,
    LaggingHosts: [...r.laggingHosts],
  });
}

// grpc-js's status enum, as numbers to compare with an error's code.
const NOT_FOUND: number = status.NOT_FOUND;
const UNAVAILABLE: number = status.UNAVAILABLE;

function grpcCode(err: unknown): number | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'number' ? c : undefined;
}

// An agent that cannot be reached is one error for the whole command, not one per network.
function perItemError(err: unknown): string {
  const code = grpcCode(err);
  if (code === undefined || code === UNAVAILABLE) throw err;
  return `Error response from agent: ${(err as { details?: string }).details ?? String(err)}\n`;
}

const ALIASES: Record<string, string> = { list: 'ls', remove: 'rm' };

export async function runNetwork(argv: string[], client: () => VxClient, io: Io): Promise<number> {
  const [given, ...rest] = argv;
  if (given === undefined || given === '--help' || given === '-h' || given === 'help') {
    io.out(NETWORK_USAGE);
    return 0;
  }
  const verb = ALIASES[given] ?? given;
  const command = `vxnet network ${verb}`;
  if (!(verb in USAGES)) {
    throw Object.assign(
      new UsageError(`unknown command "${command}"\nRun 'vxnet network --help' for usage.`, 1, false),
      { command },
    );
  }
  try {
    return await runVerb(verb, rest, client, io);
  } catch (err) {
    if (err instanceof UsageError) err.command ??= command;
    throw err;
  }
}

async function runVerb(verb: string, rest: string[], client: () => VxClient, io: Io): Promise<number> {
  const usage = (): number => {
    io.out(USAGES[verb]);
    return 0;
  };
  switch (verb) {
    case 'create': {
      const p = parseArgs(rest, CREATE_FLAGS);
      if (bool(p, 'help')) return usage();
      const net = await client().create(buildCreateRequest(p));
      io.out(`${net.id}\n`);
      return 0;
    }
    case 'ls': {
      const p = parseArgs(rest, LS_FLAGS);
      if (bool(p, 'help')) return usage();
      noArgs(p, 'vxnet network ls');
      const tpl = lsTemplate(str(p, 'format'), bool(p, 'quiet'));
      compile(isTableFormat(tpl) ? tpl.slice(5) : tpl); // a bad template fails before the call
      const { networks, stale } = await client().list({ filters: parseFilters(list(p, 'filter')) });
      if (stale) io.err(`WARNING: ${stale}\n`);
      io.out(renderLs(networks, str(p, 'format'), bool(p, 'quiet'), bool(p, 'no-trunc')));
      return 0;
    }
    case 'inspect': {
      const p = parseArgs(rest, INSPECT_FLAGS);
      if (bool(p, 'help')) return usage();
      minArgs(p, 1, 'vxnet network inspect');
      const format = str(p, 'format');
      if (format && format !== 'json') compile(format);
      const found: Network__Output[] = [];
      const errors: string[] = [];
      for (const ref of p.args) {
        try {
          found.push(await client().inspect({ network: ref }));
        } catch (err) {
          errors.push(grpcCode(err) === NOT_FOUND ? `Error: No such network: ${ref}\n` : perItemError(err));
        }
      }
      // As Docker: what was found is printed (an empty array if nothing was), then the errors.
      const stale = found.find((n) => n.stale)?.stale;
      if (stale) io.err(`WARNING: ${stale}\n`);
      io.out(renderInspect(found, format));
      errors.forEach(io.err);
      return errors.length ? 1 : 0;
    }
    case 'rm': {
      const p = parseArgs(rest, RM_FLAGS);
      if (bool(p, 'help')) return usage();
      minArgs(p, 1, 'vxnet network rm');
      let code = 0;
      for (const ref of p.args) {
        try {
          await client().delete({ network: ref });
          io.out(`${ref}\n`);
        } catch (err) {
          if (grpcCode(err) === NOT_FOUND && bool(p, 'force')) continue;
          io.err(perItemError(err));
          code = 1;
        }
      }
      return code;
    }
    case 'prune': {
      const p = parseArgs(rest, PRUNE_FLAGS);
      if (bool(p, 'help')) return usage();
      noArgs(p, 'vxnet network prune');
      const filters = parseFilters(list(p, 'filter'));
      if (!bool(p, 'force')) {
        if (!io.isTTY)
          throw new UsageError('refusing to prune without confirmation: stdin is not a terminal; use -f/--force', 1);
        const a = await io.ask(
          'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ',
        );
        if (!/^y(es)?$/i.test(a.trim())) return 0;
      }
      const r = await client().prune({ filters });
      if (r.networksDeleted.length) io.out(`Deleted Networks:\n${r.networksDeleted.map((n) => `${n}\n`).join('')}`);
      return 0;
    }
    case 'connect': {
      const p = parseArgs(rest, CONNECT_FLAGS);
      if (bool(p, 'help')) return usage();
      exactArgs(p, 2, 'vxnet network connect');
      const format = str(p, 'format');
      const t = format ? compile(format === 'json' ? '{{json .}}' : format) : undefined;
      const r = await client().connect({
        network: p.args[0],
        sandbox: p.args[1],
        ipv4Address: str(p, 'ip'),
        ipv6Address: str(p, 'ip6'),
        aliases: list(p, 'alias'),
        interfaceName: str(p, 'ifname'),
        macAddress: str(p, 'mac'),
        name: str(p, 'name'),
        wait: bool(p, 'wait'),
      });
      if (r.laggingHosts.length) io.err(`warning: not yet programmed on ${r.laggingHosts.join(', ')}\n`);
      if (r.dns) writeNetnsResolvConf(p.args[1], r.dns, { replace: false });
      if (t) io.out(`${t(connectDot(r))}\n`);
      return 0;
    }
    case 'disconnect': {
      const p = parseArgs(rest, DISCONNECT_FLAGS);
      if (bool(p, 'help')) return usage();
      exactArgs(p, 2, 'vxnet network disconnect');
      const r = await client().disconnect({ network: p.args[0], sandbox: p.args[1], force: bool(p, 'force') });
      if (!r.sandboxEndpoints) removeNetnsResolvConf(p.args[1]);
      else if (r.dns) writeNetnsResolvConf(p.args[1], r.dns, { replace: true });
      return 0;
    }
  }
  return 0;
}

export function terminalAsk(q: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    rl.question(q, (a) => {
      rl.close();
      resolve(a);
    });
    // Ctrl-D is "no".
    rl.once('close', () => resolve(''));
  });
}
