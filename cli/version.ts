import * as os from 'os';
import type { VxClient } from '../control/client';
import { bool, noArgs, parseArgs, str } from './args';
import type { FlagSpec } from './args';
import { compile, goStruct } from './format';
import type { Io } from './network';
import { version } from '../lib/version';

const VERSION_USAGE = `Usage:  vxnet version [OPTIONS]

Show the vxnet version information (this client's, and the agent's if it answers)

Options:
  -f, --format string   Format output using a Go template ({{.Client.Version}}, {{.Agent.Version}},
                        {{.Agent.Host}}; 'json' for all)
`;

export const VERSION_FLAGS: FlagSpec[] = [
  { names: ['-h', '--help'], key: 'help', kind: 'bool' },
  { names: ['-f', '--format'], key: 'format', kind: 'string' },
];

export async function runVersion(argv: string[], client: () => VxClient, io: Io, host: string): Promise<number> {
  const p = parseArgs(argv, VERSION_FLAGS);
  if (bool(p, 'help')) {
    io.out(VERSION_USAGE);
    return 0;
  }
  noArgs(p, 'vxnet version');
  const format = str(p, 'format');
  const t = format ? compile(format === 'json' ? '{{json .}}' : format) : undefined;
  const clientInfo = goStruct({ Version: version(), NodeVersion: process.version, Os: os.platform(), Arch: os.arch() });
  let agent: { Host: string; Version: string; Status: string; Message: string; Address: string } | undefined;
  let failure: Error | undefined;
  try {
    const h = await client().check({}, { deadlineMs: 5000 });
    agent = goStruct({ Host: h.host, Version: h.version, Status: h.status, Message: h.message, Address: host });
  } catch (err) {
    failure = err as Error;
  }
  if (t) {
    io.out(`${t(goStruct({ Client: clientInfo, Agent: agent ?? null }))}\n`);
  } else {
    io.out(
      `Client:\n Version:       ${clientInfo.Version}\n Node.js:       ${process.version}\n OS/Arch:       ${os.platform()}/${os.arch()}\n`,
    );
    if (agent) {
      io.out(
        `\nAgent:\n Host:          ${agent.Host}\n Version:       ${agent.Version}\n Status:        ${agent.Status}${agent.Message ? ` (${agent.Message})` : ''}\n Address:       ${host}\n`,
      );
    }
  }
  // As docker version: the client's part is printed, then why the agent's is missing.
  if (failure) throw failure;
  return 0;
}
