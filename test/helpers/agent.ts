import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { VxClient } from '../../control/client';

// A real `vxnet agent` process for tests, optionally inside a host network namespace; stopped by
// its PID only. Its log goes to a file whose tail is attached to failures.
export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
export const BIN = path.join(ROOT, 'bin', 'vxnet');

export interface AgentOptions {
  name: string;
  etcd: string[];
  vtep: string;
  netns?: string; // host namespace name under /run/netns
  leaseTtl?: number;
  resyncInterval?: number;
  extra?: string[];
  dir?: string;
  docker?: { socket: string; scope: 'local' | 'global' }; // Docker's plugin, off unless given
}

export class TestAgent {
  proc: ChildProcess | undefined;
  readonly socket: string;
  readonly logFile: string;
  readonly dir: string;
  private clientCache: VxClient | undefined;

  constructor(readonly opts: AgentOptions) {
    this.dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), `vxt-agent-${opts.name}-`));
    this.socket = path.join(this.dir, 'vxnet.sock');
    this.logFile = path.join(this.dir, 'agent.log');
  }

  args(): string[] {
    const o = this.opts;
    return [
      'agent',
      '--name',
      o.name,
      '--vtep',
      o.vtep,
      '--etcd',
      o.etcd.join(','),
      '--socket',
      this.socket,
      '--lease-ttl',
      String(o.leaseTtl ?? 3),
      '--resync-interval',
      String(o.resyncInterval ?? 30),
      '--log-format',
      'json',
      '--log-level',
      'debug',
      ...(o.docker
        ? ['--docker', 'true', '--docker-socket', o.docker.socket, '--docker-scope', o.docker.scope]
        : ['--docker', 'false']),
      ...(o.extra ?? []),
    ];
  }

  async start(timeoutMs = 15000): Promise<void> {
    const log = fs.openSync(this.logFile, 'a');
    // Through bin/vxnet, as systemd starts it: the agent's node flags live there.
    const cmd = this.opts.netns ? 'ip' : BIN;
    const args = this.opts.netns ? ['netns', 'exec', this.opts.netns, BIN, ...this.args()] : this.args();
    this.proc = spawn(cmd, args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    await this.waitServing(timeoutMs);
  }

  get client(): VxClient {
    if (!this.clientCache) this.clientCache = new VxClient(`unix://${this.socket}`);
    return this.clientCache;
  }

  async waitServing(timeoutMs = 15000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (this.proc && (this.proc.exitCode !== null || this.proc.signalCode !== null))
        throw new Error(
          `agent ${this.opts.name} exited (${this.proc.exitCode ?? this.proc.signalCode}):\n${this.tail()}`,
        );
      try {
        const h = await this.client.check({}, { deadlineMs: 1000 });
        if (h.status === 'SERVING') return;
        last = h.message;
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`agent ${this.opts.name} not serving within ${timeoutMs} ms (${last}):\n${this.tail()}`);
  }

  tail(n = 40): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-n).join('\n');
    } catch {
      return '';
    }
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  // `ip netns exec` replaces itself with node (execvp), so the PID is the agent's own.
  signal(sig: NodeJS.Signals): void {
    this.proc?.kill(sig);
  }

  async stop(sig: NodeJS.Signals = 'SIGTERM', timeoutMs = 12000): Promise<number | null> {
    const p = this.proc;
    this.proc = undefined;
    this.clientCache?.close();
    this.clientCache = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return p?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill(sig);
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    const code = await exited;
    clearTimeout(t);
    return code;
  }

  // The resolver process the agent started (it outlives the agent by design), by the PID it wrote,
  // checked against its command line so that a reused PID is never signalled.
  get resolverPid(): number | undefined {
    try {
      const pid = Number(fs.readFileSync(path.join(this.dir, 'dns.sock.pid'), 'utf8').trim());
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmd.includes(path.join(this.dir, 'dns.sock')) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  stopResolver(): void {
    const pid = this.resolverPid;
    if (pid) process.kill(pid, 'SIGKILL');
  }

  cleanup(): void {
    this.stopResolver();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// Runs the CLI as a user would, against one agent.
export function runCli(
  args: string[],
  opts: { host?: string; input?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...(opts.host ? ['-H', opts.host] : []), ...args], {
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`vxnet ${args.join(' ')} did not finish within 30 s`));
    }, 30000);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    p.stdin.end(opts.input ?? '');
  });
}
