import * as readline from 'readline';
import { status } from '@grpc/grpc-js';
import type { VxClient } from '../control/client';
import type { CreateNetworkRequest } from '../control/generated/vxnet/v1/CreateNetworkRequest';
import type { ConnectResponse__Output } from '../control/generated/vxnet/v1/ConnectResponse';
import type { Filter } from '../control/generated/vxnet/v1/Filter';
import type { Network__Output } from '../control/generated/vxnet/v1/Network';
import { contains, parseAddress, parseCidr, type Cidr } from '../control/ipam';
import { bool, exactArgs, FlagSpec, keyValues, list, minArgs, noArgs, parseArgs, Parsed, str, UsageError } from './args';
import { compile, formatRows, goStruct, isTableFormat } from './format';
import { inspectDot, inspectJson, LS_DEFAULT, LS_HEADERS, lsRow, naturalLess } from './render';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  isTTY: boolean;
  ask: (q: string) => Promise<string>;
}

export const NETWORK_USAGE = `Usage:  vxnet network COMMAND

Manage vxnet networks

Commands:
  connect     Connect a network namespace to a network
  create      Create a network
  disconnect  Disconnect a network namespace from a network
  inspect     Display detailed information on one or more networks
  ls          List networks
  prune       Remove all unused networks
  rm          Remove one or more networks

Run 'vxnet network COMMAND --help' for more information on a command.
`;

const help: FlagSpec = { names: ['-h', '--help'], key: 'help', kind: 'bool' };

export const CREATE_FLAGS: FlagSpec[] = [
  help,
  { names: ['-d', '--driver'], key: 'driver', kind: 'string' },
  { names: ['--subnet'], key: 'subnet', kind: 'list' },
  { names: ['--gateway'], key: 'gateway', kind: 'list' },
  { names: ['--ip-range'], key: 'ip-range', kind: 'list' },
  { names: ['--aux-address'], key: 'aux-address', kind: 'list' },
  { names: ['--ipv6'], key: 'ipv6', kind: 'bool' },
  { names: ['--internal'], key: 'internal', kind: 'bool' },
  { names: ['--attachable'], key: 'attachable', kind: 'bool' },
  { names: ['--label'], key: 'label', kind: 'list' },
  { names: ['-o', '--opt'], key: 'opt', kind: 'list' },
  { names: ['--ipam-driver'], key: 'ipam-driver', kind: 'string' },
  { names: ['--ipam-opt'], key: 'ipam-opt', kind: 'list' },
  { names: ['--scope'], key: 'scope', kind: 'string' },
];
export const LS_FLAGS: FlagSpec[] = [
  help,
  { names: ['-f', '--filter'], key: 'filter', kind: 'list' },
  { names: ['--format'], key: 'format', kind: 'string' },
  { names: ['--no-trunc'], key: 'no-trunc', kind: 'bool' },
  { names: ['-q', '--quiet'], key: 'quiet', kind: 'bool' },
];
export const INSPECT_FLAGS: FlagSpec[] = [help, { names: ['-f', '--format'], key: 'format', kind: 'string' }];
export const RM_FLAGS: FlagSpec[] = [help, { names: ['-f', '--force'], key: 'force', kind: 'bool' }];
export const PRUNE_FLAGS: FlagSpec[] = [help, { names: ['-f', '--force'], key: 'force', kind: 'bool' }, { names: ['--filter'], key: 'filter', kind: 'list' }];
export const CONNECT_FLAGS: FlagSpec[] = [
  help,
  { names: ['--ip'], key: 'ip', kind: 'string' },
  { names: ['--ip6'], key: 'ip6', kind: 'string' },
  { names: ['--alias'], key: 'alias', kind: 'list' },
  { names: ['--ifname'], key: 'ifname', kind: 'string' },
  { names: ['--mac'], key: 'mac', kind: 'string' },
  { names: ['--name'], key: 'name', kind: 'string' },
  { names: ['--format'], key: 'format', kind: 'string' },
  { names: ['--wait'], key: 'wait', kind: 'bool' },
];
export const DISCONNECT_FLAGS: FlagSpec[] = [help, { names: ['-f', '--force'], key: 'force', kind: 'bool' }];

// Docker's client-side pairing (cli/command/network/create.go): every gateway, range and aux
// address goes to each subnet that contains it; none containing it is an error, and so are two
// gateways or ranges for one subnet and overlapping subnets. The agent validates the rest.
export function buildCreateRequest(p: Parsed): CreateNetworkRequest {
  exactArgs(p, 1, 'vxnet network create');
  const scope = str(p, 'scope');
  if (scope && scope !== 'global' && scope !== 'swarm') throw new UsageError(`scope ${scope} is not supported: vxnet networks are global`, 1, false);
  const subnets = list(p, 'subnet');
  const ranges = list(p, 'ip-range');
  const gateways = list(p, 'gateway');
  if (subnets.length < ranges.length || subnets.length < gateways.length) throw new UsageError('every ip-range or gateway must have a corresponding subnet', 1, false);
  const parsed: Cidr[] = subnets.map((s) => {
    try {
      return parseCidr(s);
    } catch {
      throw new UsageError(`invalid subnet: invalid CIDR address: ${s}`, 1, false);
    }
  });
  parsed.forEach((a, i) => parsed.slice(0, i).forEach((b) => {
    if (a.v6 === b.v6 && a.network <= b.last && b.network <= a.last) throw new UsageError('multiple overlapping subnet configuration is not supported', 1, false);
  }));
  const configs: { subnet: string; ipRange: string; gateway: string; auxiliaryAddresses: Record<string, string> }[] = subnets.map((subnet) => ({ subnet, ipRange: '', gateway: '', auxiliaryAddresses: {} }));
  // As Go's subnetMatches: a CIDR matches by its first address; an unparsable value matches nothing.
  const holders = (value: string): number[] => {
    let ip: { v6: boolean; value: bigint } | undefined;
    try {
      if (value.includes('/')) {
        const c = parseCidr(value, 'range');
        ip = { v6: c.v6, value: c.network };
      } else {
        ip = parseAddress(value);
      }
    } catch {
      if (value.includes('/')) throw new UsageError(`invalid CIDR address: ${value}`, 1, false);
    }
    return ip ? parsed.flatMap((c, i) => (contains(c, ip.value, ip.v6) ? [i] : [])) : [];
  };
  for (const r of ranges) {
    const at = holders(r);
    if (!at.length) throw new UsageError(`no matching subnet for range ${r}`, 1, false);
    for (const i of at) {
      if (configs[i].ipRange) throw new UsageError(`cannot configure multiple ranges (${r}, ${configs[i].ipRange}) on the same subnet (${subnets[i]})`, 1, false);
      configs[i].ipRange = r;
    }
  }
  for (const g of gateways) {
    const at = holders(g);
    if (!at.length) throw new UsageError(`no matching subnet for gateway ${g}`, 1, false);
    for (const i of at) {
      if (configs[i].gateway) throw new UsageError(`cannot configure multiple gateways (${g}, ${configs[i].gateway}) for the same subnet (${subnets[i]})`, 1, false);
      configs[i].gateway = g;
    }
  }
  for (const [k, v] of Object.entries(keyValues(list(p, 'aux-address'), 'aux-address', true))) {
    const at = holders(v);
    if (!at.length) throw new UsageError(`no matching subnet for aux-address ${v}`, 1, false);
    for (const i of at) configs[i].auxiliaryAddresses[k] = v;
  }
  return {
    name: p.args[0],
    driver: str(p, 'driver'),
    ipamDriver: str(p, 'ipam-driver'),
    // Empty fields stay out of the request, so that the agent picks defaults.
    ipamConfig: configs.map((c) => ({ subnet: c.subnet, ...(c.ipRange ? { ipRange: c.ipRange } : {}), ...(c.gateway ? { gateway: c.gateway } : {}), auxiliaryAddresses: c.auxiliaryAddresses })),
    enableIpv6: bool(p, 'ipv6'),
    internal: bool(p, 'internal'),
    attachable: bool(p, 'attachable'),
    labels: keyValues(list(p, 'label'), 'label'),
    options: keyValues(list(p, 'opt'), 'option'),
    ipamOptions: keyValues(list(p, 'ipam-opt'), 'IPAM option'),
  };
}

// `vxnet network create ...` arguments (after "create") -> the request.
export function parseCreate(argv: string[]): CreateNetworkRequest {
  return buildCreateRequest(parseArgs(argv, CREATE_FLAGS));
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
      return quiet ? 'network_id: {{.ID}}' : 'network_id: {{.ID}}\nname: {{.Name}}\ndriver: {{.Driver}}\nscope: {{.Scope}}\n';
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

const USAGES: Record<string, string> = {
  create: `Usage:  vxnet network create [OPTIONS] NETWORK

Create a network (on any host: networks are cluster-wide); prints its ID

Options:
      --attachable           Enable manual container attachment
      --aux-address map      Auxiliary IPv4 or IPv6 addresses used by Network driver (name=ip)
  -d, --driver string        Driver to manage the Network (default "overlay")
      --gateway strings      IPv4 or IPv6 Gateway for the master subnet
      --internal             Restrict external access to the network
      --ip-range strings     Allocate container ip from a sub-range
      --ipam-driver string   IP Address Management Driver (default "default")
      --ipam-opt map         Set IPAM driver specific options
      --ipv6                 Enable IPv6 networking
      --label list           Set metadata on a network
  -o, --opt map              Set driver specific options (com.docker.network.driver.overlay.vxlanid_list=N,
                             com.docker.network.driver.mtu=N)
      --scope string         Control the network's scope (only "global")
      --subnet strings       Subnet in CIDR format that represents a network segment
`,
  ls: `Usage:  vxnet network ls [OPTIONS]

List networks

Aliases:
  vxnet network ls, vxnet network list

Options:
  -f, --filter filter   Provide filter values (e.g. 'driver=overlay', 'name=blue', 'id=ab12',
                        'label=k', 'label=k=v', 'scope=global', 'type=custom')
      --format string   Format output using a custom template:
                        'table':            Print output in table format with column headers (default)
                        'table TEMPLATE':   Print output in table format using the given Go template
                        'json':             Print in JSON format
                        'TEMPLATE':         Print output using the given Go template
                        Fields: .ID .Name .Driver .Scope .IPv6 .Internal .Labels .CreatedAt .Label "k"
      --no-trunc        Do not truncate the output
  -q, --quiet           Only display network IDs
`,
  inspect: `Usage:  vxnet network inspect [OPTIONS] NETWORK [NETWORK...]

Display detailed information on one or more networks (by name, ID or unique ID prefix)

Options:
  -f, --format string   Format output using a custom template:
                        'json':             Print in JSON format (default)
                        'TEMPLATE':         Print output using the given Go template,
                                            e.g. '{{range .IPAM.Config}}{{.Subnet}}{{end}}'
`,
  rm: `Usage:  vxnet network rm NETWORK [NETWORK...]

Remove one or more networks

Aliases:
  vxnet network rm, vxnet network remove

Options:
  -f, --force   Do not error if the network does not exist
`,
  prune: `Usage:  vxnet network prune [OPTIONS]

Remove all unused networks (networks without endpoints)

Options:
      --filter filter   Provide filter values (e.g. 'until=24h', 'label=k', 'label=k=v', 'label!=k')
  -f, --force           Do not prompt for confirmation
`,
  connect: `Usage:  vxnet network connect [OPTIONS] NETWORK SANDBOX

Connect a network namespace (a name under /run/netns, or a path such as /proc/PID/ns/net) to a
network. Run it against the agent of the host where the namespace lives. Prints nothing on success,
like Docker; --format prints the new endpoint.

Options:
      --alias strings     Add network-scoped alias for the endpoint
      --format string     Print the endpoint using a Go template: .Name .EndpointID .MacAddress
                          .IPv4Address .IPv6Address .InterfaceName .Host .Sandbox .Aliases .Gateway
                          .GatewayIPv6 .MTU .LaggingHosts; 'json' for all of them
      --ifname string     Interface name inside the namespace (default eth0, eth1, ...)
      --ip string         IPv4 address (e.g., 172.30.100.104)
      --ip6 string        IPv6 address (e.g., 2001:db8::33)
      --mac string        MAC address (default 02:42 followed by the IPv4 address)
      --name string       Endpoint name (default the namespace's name)
      --wait              Return only when every host serving the network can reach the endpoint
`,
  disconnect: `Usage:  vxnet network disconnect [OPTIONS] NETWORK SANDBOX

Disconnect a network namespace (or an endpoint, by name or ID) from a network

Options:
  -f, --force   Force the namespace to disconnect from a network (also from another host, or when
                the namespace is gone)
`,
};

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
    throw Object.assign(new UsageError(`unknown command "${command}"\nRun 'vxnet network --help' for usage.`, 1, false), { command });
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
      const { networks } = await client().list({ filters: parseFilters(list(p, 'filter')) });
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
        if (!io.isTTY) throw new UsageError('refusing to prune without confirmation: stdin is not a terminal; use -f/--force', 1);
        const a = await io.ask('WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ');
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
      if (t) io.out(`${t(connectDot(r))}\n`);
      return 0;
    }
    case 'disconnect': {
      const p = parseArgs(rest, DISCONNECT_FLAGS);
      if (bool(p, 'help')) return usage();
      exactArgs(p, 2, 'vxnet network disconnect');
      await client().disconnect({ network: p.args[0], sandbox: p.args[1], force: bool(p, 'force') });
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
