// The CLI's commands as data: names, summaries, flags (the same FlagSpec arrays the commands parse
// with) and what each argument is. Shell completion is made from this table, and a unit test holds
// it to the --help texts and to what main() dispatches, so neither can drift from the other.
import type { FlagSpec } from './args';
import {
  CONNECT_FLAGS,
  CREATE_FLAGS,
  DISCONNECT_FLAGS,
  INSPECT_FLAGS,
  LS_FLAGS,
  PRUNE_FLAGS,
  RM_FLAGS,
} from './network-usage';
import { DOCTOR_FLAGS, EVENTS_FLAGS } from './system';
import { HOST_LS_FLAGS, HOST_RM_FLAGS } from './host';
import { VERSION_FLAGS } from './version';

// Values known only at run time, each read with one read-only call (or from /run/netns).
export type Live = 'networks' | 'hosts' | 'namespaces';

// What a flag's value or an argument completes to: fixed words, live values, or a filter's
// `key=value` with its own values per key (undefined: no suggestion for the value).
export type Values =
  | { readonly words: readonly string[] }
  | { readonly live: Live }
  | { readonly filter: Readonly<Record<string, Values | undefined>> };

export interface Command {
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly summary: string;
  readonly flags?: readonly FlagSpec[] | (() => readonly FlagSpec[]);
  // By flag key (FlagSpec.key).
  readonly flagValues?: Readonly<Record<string, Values>>;
  // By position; the last one repeats when `repeat` is set.
  readonly args?: readonly Values[];
  readonly repeat?: boolean;
  readonly subcommands?: readonly Command[];
  readonly hidden?: boolean;
}

// Global options, before the command (parseGlobals).
export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { names: ['-H', '--host'], key: 'host', kind: 'string' },
  { names: ['--tlscacert'], key: 'tlscacert', kind: 'string' },
  { names: ['--tlscert'], key: 'tlscert', kind: 'string' },
  { names: ['--tlskey'], key: 'tlskey', kind: 'string' },
  { names: ['-h', '--help'], key: 'help', kind: 'bool' },
  { names: ['-v', '--version'], key: 'version', kind: 'bool' },
];

const network: Values = { live: 'networks' };
const netns: Values = { live: 'namespaces' };
const networkFilter: Values = {
  filter: {
    driver: { words: ['overlay'] },
    id: undefined,
    label: undefined,
    name: network,
    scope: { words: ['global'] },
    type: { words: ['custom'] },
  },
};

// The agent's flags come from its settings table; a CLI built without the agent still completes
// the rest.
function agentFlags(): FlagSpec[] {
  const own: FlagSpec[] = [
    { names: ['--config'], key: 'config', kind: 'string' },
    { names: ['--check-config'], key: 'check-config', kind: 'string' },
    { names: ['-h', '--help'], key: 'help', kind: 'bool' },
  ];
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional, as cli/main.ts loads the agent
    const { FLAGS } = require('../agent/settings') as { FLAGS: ReadonlyMap<string, unknown> };
    return [...own, ...[...FLAGS.keys()].map((name): FlagSpec => ({ names: [name], key: name, kind: 'string' }))];
  } catch {
    return own;
  }
}

export const COMMANDS: readonly Command[] = [
  { name: 'agent', summary: 'Run the agent of this host', flags: agentFlags },
  {
    name: 'completion',
    summary: 'Print a shell completion script (bash, zsh or fish)',
    args: [{ words: ['bash', 'zsh', 'fish'] }],
  },
  // Started by the agent or by vxnet-dns.service, not by a person: left out of --help and completion.
  { name: 'dns', summary: "Run this host's resolver (the agent starts it)", hidden: true },
  { name: 'doctor', summary: "Check this host's kernel state against etcd, and its setup", flags: DOCTOR_FLAGS },
  {
    name: 'events',
    summary: 'Get real time events from the cluster',
    flags: EVENTS_FLAGS,
    flagValues: {
      filter: {
        filter: {
          event: undefined,
          host: { live: 'hosts' },
          network,
          type: { words: ['network', 'endpoint', 'host'] },
        },
      },
    },
  },
  {
    name: 'host',
    summary: 'Manage the hosts of the cluster',
    subcommands: [
      {
        name: 'ls',
        aliases: ['list'],
        summary: 'List the hosts',
        flags: HOST_LS_FLAGS,
        flagValues: { filter: { filter: { state: { words: ['up', 'unreachable'] }, name: { live: 'hosts' } } } },
      },
      {
        name: 'rm',
        aliases: ['remove'],
        summary: 'Remove a host that is gone',
        flags: HOST_RM_FLAGS,
        args: [{ live: 'hosts' }],
        repeat: true,
      },
    ],
  },
  {
    name: 'network',
    summary: 'Manage networks',
    subcommands: [
      {
        name: 'connect',
        summary: 'Connect a network namespace to a network',
        flags: CONNECT_FLAGS,
        args: [network, netns],
      },
      {
        name: 'create',
        summary: 'Create a network',
        flags: CREATE_FLAGS,
        flagValues: {
          driver: { words: ['overlay'] },
          scope: { words: ['global'] },
          'ipam-driver': { words: ['default'] },
        },
      },
      {
        name: 'disconnect',
        summary: 'Disconnect a network namespace from a network',
        flags: DISCONNECT_FLAGS,
        args: [network, netns],
      },
      {
        name: 'inspect',
        summary: 'Display detailed information on one or more networks',
        flags: INSPECT_FLAGS,
        args: [network],
        repeat: true,
      },
      {
        name: 'ls',
        aliases: ['list'],
        summary: 'List networks',
        flags: LS_FLAGS,
        flagValues: { filter: networkFilter },
      },
      {
        name: 'prune',
        summary: 'Remove all unused networks',
        flags: PRUNE_FLAGS,
        flagValues: { filter: { filter: { label: undefined, 'label!': undefined, until: undefined } } },
      },
      {
        name: 'rm',
        aliases: ['remove'],
        summary: 'Remove one or more networks',
        flags: RM_FLAGS,
        args: [network],
        repeat: true,
      },
    ],
  },
  { name: 'version', summary: 'Show the vxnet version information', flags: VERSION_FLAGS },
  // What the completion scripts call; not for people.
  { name: '__complete', summary: 'Completion candidates for the words given', hidden: true },
];

export function flagsOf(c: Command): readonly FlagSpec[] {
  return typeof c.flags === 'function' ? c.flags() : (c.flags ?? []);
}

export function find(list: readonly Command[], name: string): Command | undefined {
  return list.find((c) => c.name === name || c.aliases?.includes(name));
}
