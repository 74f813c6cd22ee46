import * as readline from 'readline';
import type { VxClient } from '../control/client';
import type { CreateNetworkRequest } from '../control/generated/vxnet/v1/CreateNetworkRequest';
import type { IPAMConfig } from '../control/generated/vxnet/v1/IPAMConfig';
import type { Filter } from '../control/generated/vxnet/v1/Filter';
import { contains, containsCidr, parseAddress, parseCidr } from '../control/ipam';
import { bool, keyValues, list, parseArgs, Parsed, str, UsageError } from './args';
import { compile, formatRows } from './format';
import { inspectJson, LS_DEFAULT, LS_HEADERS, lsRow } from './render';

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

// Pairs each gateway, ip-range and aux address with the subnet that contains it, as Docker does.
export function buildCreateRequest(p: Parsed): CreateNetworkRequest {
  if (p.args.length !== 1) throw new UsageError('"vxnet network create" requires exactly 1 argument: the network name');
  const subnets = list(p, 'subnet');
  const configs: (IPAMConfig & { auxiliaryAddresses: Record<string, string> })[] = subnets.map((s) => ({ subnet: s, auxiliaryAddresses: {} }));
  const owner = (what: string, value: string, isRange: boolean): (typeof configs)[number] => {
    if (configs.length === 0) throw new UsageError(`${what} ${value} needs a --subnet to belong to`);
    if (configs.length === 1) return configs[0];
    for (const c of configs) {
      try {
        const sub = parseCidr(c.subnet ?? '');
        if (isRange ? containsCidr(sub, parseCidr(value)) : (() => { const a = parseAddress(value); return contains(sub, a.value, a.v6); })()) return c;
      } catch {
        /* unparsable: the agent will say what is wrong */
      }
    }
    throw new UsageError(`no matching subnet for ${what} ${value}`);
  };
  for (const g of list(p, 'gateway')) {
    const c = owner('gateway', g, false);
    if (c.gateway) throw new UsageError(`cannot configure multiple gateways (${c.gateway}, ${g}) for subnet ${c.subnet}`);
    c.gateway = g;
  }
  for (const r of list(p, 'ip-range')) {
    const c = owner('range', r, true);
    if (c.ipRange) throw new UsageError(`cannot configure multiple ranges (${c.ipRange}, ${r}) on the same subnet ${c.subnet}`);
    c.ipRange = r;
  }
  for (const [k, v] of Object.entries(keyValues(list(p, 'aux-address'), 'aux-address', true))) owner('aux-address', v, false).auxiliaryAddresses[k] = v;
  return {
    name: p.args[0],
    driver: str(p, 'driver'),
    ipamDriver: str(p, 'ipam-driver'),
    ipamConfig: configs,
    enableIpv6: bool(p, 'ipv6'),
    internal: bool(p, 'internal'),
    attachable: bool(p, 'attachable'),
    labels: keyValues(list(p, 'label'), 'label'),
    options: keyValues(list(p, 'opt'), 'option'),
    ipamOptions: keyValues(list(p, 'ipam-opt'), 'IPAM option'),
  };
}

export function parseFilters(items: string[]): Filter[] {
  return items.map((f) => {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new UsageError(`bad format of filter (expected name=value): ${f}`);
    return { key: f.slice(0, eq), value: f.slice(eq + 1) };
  });
}

const HELP = ['-h', '--help'];
const help = { names: HELP, key: 'help', kind: 'bool' as const };

const USAGES: Record<string, string> = {
  create: `Usage:  vxnet network create [OPTIONS] NETWORK

Create a network

Options:
      --attachable           Enable manual container attachment
      --aux-address map      Auxiliary IPv4 or IPv6 addresses used by Network driver
  -d, --driver string        Driver to manage the Network (default "overlay")
      --gateway strings      IPv4 or IPv6 Gateway for the master subnet
      --internal             Restrict external access to the network
      --ip-range strings     Allocate container ip from a sub-range
      --ipam-driver string   IP Address Management Driver (default "default")
      --ipam-opt map         Set IPAM driver specific options
      --ipv6                 Enable IPv6 networking
      --label list           Set metadata on a network
  -o, --opt map              Set driver specific options (vxlanid=N, mtu=N)
      --subnet strings       Subnet in CIDR format that represents a network segment
`,
  ls: `Usage:  vxnet network ls [OPTIONS]

List networks

Options:
  -f, --filter filter   Provide filter values (e.g. 'driver=overlay', 'name=blue', 'label=k=v')
      --format string   Pretty-print networks using a Go template
      --no-trunc        Do not truncate the output
  -q, --quiet           Only display network IDs
`,
  inspect: `Usage:  vxnet network inspect [OPTIONS] NETWORK [NETWORK...]

Display detailed information on one or more networks

Options:
  -f, --format string   Format the output using the given Go template
`,
  rm: `Usage:  vxnet network rm NETWORK [NETWORK...]

Remove one or more networks
`,
  prune: `Usage:  vxnet network prune [OPTIONS]

Remove all unused networks

Options:
      --filter filter   Provide filter values (e.g. 'until=<timestamp>', 'label=k')
  -f, --force           Do not prompt for confirmation
`,
  connect: `Usage:  vxnet network connect [OPTIONS] NETWORK SANDBOX

Connect a network namespace (a name under /run/netns, or a path such as /proc/PID/ns/net) to a network.
Run it against the agent of the host where the namespace lives. Prints nothing on success, like Docker;
--format prints the new endpoint ({{.IPv4Address}}, {{.MacAddress}}, {{.InterfaceName}}, {{.Gateway}}, ...).

Options:
      --alias strings     Add network-scoped alias for the endpoint
      --format string     Print the endpoint using a Go template
      --ifname string     Interface name inside the namespace (default eth0, eth1, ...)
      --ip string         IPv4 address (e.g., 172.30.100.104)
      --ip6 string        IPv6 address (e.g., 2001:db8::33)
      --mac string        MAC address (default 02:42 followed by the IPv4 address)
      --name string       Endpoint name (default the namespace's name)
      --wait              Return only when every host serving the network can reach the endpoint
`,
  disconnect: `Usage:  vxnet network disconnect [OPTIONS] NETWORK SANDBOX

Disconnect a network namespace from a network

Options:
  -f, --force   Force the namespace to disconnect from a network (also from another host, or when the namespace is gone)
`,
};

export async function runNetwork(argv: string[], client: () => VxClient, io: Io): Promise<number> {
  const [verb, ...rest] = argv;
  const usage = (v: string): number => {
    io.out(USAGES[v]);
    return 0;
  };
  switch (verb) {
    case undefined:
    case '--help':
    case '-h':
      io.out(NETWORK_USAGE);
      return 0;
    case 'create': {
      const p = parseArgs(rest, [
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
      ]);
      if (bool(p, 'help')) return usage('create');
      const scope = str(p, 'scope');
      if (scope && scope !== 'global' && scope !== 'swarm') throw new UsageError(`scope ${scope} is not supported: vxnet networks are global`);
      const net = await client().create(buildCreateRequest(p));
      io.out(`${net.id}\n`);
      return 0;
    }
    case 'ls':
    case 'list': {
      const p = parseArgs(rest, [
        help,
        { names: ['-f', '--filter'], key: 'filter', kind: 'list' },
        { names: ['--format'], key: 'format', kind: 'string' },
        { names: ['--no-trunc'], key: 'no-trunc', kind: 'bool' },
        { names: ['-q', '--quiet'], key: 'quiet', kind: 'bool' },
      ]);
      if (bool(p, 'help')) return usage('ls');
      if (p.args.length) throw new UsageError(`"vxnet network ls" accepts no arguments (got ${p.args.join(' ')})`);
      const format = str(p, 'format');
      const t = format ? compile(format.replace(/^table\s*/, '')) : undefined; // parse errors before the call
      void t;
      const { networks } = await client().list({ filters: parseFilters(list(p, 'filter')) });
      const rows = networks.map((n) => lsRow(n, bool(p, 'no-trunc')));
      if (bool(p, 'quiet')) {
        io.out(rows.map((r) => `${String(r.ID)}\n`).join(''));
        return 0;
      }
      io.out(formatRows(format || LS_DEFAULT, rows, LS_HEADERS));
      return 0;
    }
    case 'inspect': {
      const p = parseArgs(rest, [help, { names: ['-f', '--format'], key: 'format', kind: 'string' }]);
      if (bool(p, 'help')) return usage('inspect');
      if (p.args.length === 0) throw new UsageError('"vxnet network inspect" requires at least 1 argument');
      const t = str(p, 'format') ? compile(str(p, 'format')) : undefined;
      const found: Record<string, unknown>[] = [];
      const missing: string[] = [];
      for (const ref of p.args) {
        try {
          found.push(inspectJson(await client().inspect({ network: ref })));
        } catch (err) {
          if ((err as { code?: number }).code === 5) missing.push(ref);
          else throw err;
        }
      }
      if (t) io.out(found.map((n) => `${t(n)}\n`).join(''));
      else io.out(`${JSON.stringify(found, null, 4)}\n`);
      if (missing.length) {
        io.err(`Error: No such network: ${missing.join(', ')}\n`);
        return 1;
      }
      return 0;
    }
    case 'rm':
    case 'remove': {
      const p = parseArgs(rest, [help, { names: ['-f', '--force'], key: 'force', kind: 'bool' }]);
      if (bool(p, 'help')) return usage('rm');
      if (p.args.length === 0) throw new UsageError('"vxnet network rm" requires at least 1 argument');
      let code = 0;
      for (const ref of p.args) {
        try {
          const r = await client().delete({ network: ref });
          io.out(`${ref === r.id || r.id.startsWith(ref) ? ref : r.name}\n`);
        } catch (err) {
          if ((err as { code?: number }).code === 5 && bool(p, 'force')) continue;
          io.err(`Error response from agent: ${(err as { details?: string }).details ?? (err as Error).message}\n`);
          code = 1;
        }
      }
      return code;
    }
    case 'prune': {
      const p = parseArgs(rest, [help, { names: ['-f', '--force'], key: 'force', kind: 'bool' }, { names: ['--filter'], key: 'filter', kind: 'list' }]);
      if (bool(p, 'help')) return usage('prune');
      const filters = parseFilters(list(p, 'filter'));
      if (!bool(p, 'force')) {
        if (!io.isTTY) throw new UsageError('refusing to prune without confirmation: no terminal to ask on; use -f/--force');
        const a = await io.ask('WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ');
        if (!/^y(es)?$/i.test(a.trim())) return 0;
      }
      const r = await client().prune({ filters });
      if (r.networksDeleted.length) io.out(`Deleted Networks:\n${r.networksDeleted.map((n) => `${n}\n`).join('')}`);
      return 0;
    }
    case 'connect': {
      const p = parseArgs(rest, [
        help,
        { names: ['--ip'], key: 'ip', kind: 'string' },
        { names: ['--ip6'], key: 'ip6', kind: 'string' },
        { names: ['--alias'], key: 'alias', kind: 'list' },
        { names: ['--ifname'], key: 'ifname', kind: 'string' },
        { names: ['--mac'], key: 'mac', kind: 'string' },
        { names: ['--name'], key: 'name', kind: 'string' },
        { names: ['--format'], key: 'format', kind: 'string' },
        { names: ['--wait'], key: 'wait', kind: 'bool' },
      ]);
      if (bool(p, 'help')) return usage('connect');
      if (p.args.length !== 2) throw new UsageError('"vxnet network connect" requires exactly 2 arguments: NETWORK SANDBOX');
      const t = str(p, 'format') ? compile(str(p, 'format')) : undefined;
      const r = await client().connect({
        network: p.args[0], sandbox: p.args[1], ipv4Address: str(p, 'ip'), ipv6Address: str(p, 'ip6'), aliases: list(p, 'alias'),
        interfaceName: str(p, 'ifname'), macAddress: str(p, 'mac'), name: str(p, 'name'), wait: bool(p, 'wait'),
      });
      if (r.laggingHosts.length) io.err(`warning: not yet programmed on ${r.laggingHosts.join(', ')}\n`);
      if (t) {
        const e = r.endpoint!;
        io.out(`${t({ Name: e.name, EndpointID: e.endpointId, MacAddress: e.macAddress, IPv4Address: e.ipv4Address, IPv6Address: e.ipv6Address, InterfaceName: e.interfaceName, Host: e.host, Gateway: r.gateway, GatewayIPv6: r.gatewayIpv6, MTU: r.mtu })}\n`);
      }
      return 0;
    }
    case 'disconnect': {
      const p = parseArgs(rest, [help, { names: ['-f', '--force'], key: 'force', kind: 'bool' }]);
      if (bool(p, 'help')) return usage('disconnect');
      if (p.args.length !== 2) throw new UsageError('"vxnet network disconnect" requires exactly 2 arguments: NETWORK SANDBOX');
      await client().disconnect({ network: p.args[0], sandbox: p.args[1], force: bool(p, 'force') });
      return 0;
    }
    default:
      throw new UsageError(`unknown command "vxnet network ${verb}"\nRun 'vxnet network --help' for usage.`);
  }
}

export function terminalAsk(q: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    rl.question(q, (a) => {
      rl.close();
      resolve(a);
    });
  });
}
