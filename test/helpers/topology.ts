import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';

// Simulated hosts for integration tests: an underlay namespace holding a bridge, N host namespaces
// joined to it by veth (192.168.231.1N/24), and "containers" as namespaces. Every name starts with
// vxt<pid>- so that the harness owns it; everything is deleted in `destroy`, also after failures,
// and namespaces of dead earlier runs are swept at start.
export const UNDERLAY = '192.168.231';

export function sh(cmd: string, args: string[], opts: { allowFail?: boolean; timeoutMs?: number } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 20000 });
  if (r.status !== 0 && !opts.allowFail)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

export function nsExists(name: string): boolean {
  return fs.existsSync(`/run/netns/${name}`);
}

export function sweepStaleNamespaces(): void {
  let list: string;
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  } catch {
    return;
  }
  for (const line of list.split('\n')) {
    const m = /^(vxt(\d+)-\S+)/.exec(line);
    if (!m) continue;
    const pid = Number(m[2]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive) {
      sh('ip', ['netns', 'del', m[1]], { allowFail: true });
      fs.rmSync(`/etc/netns/${m[1]}`, { recursive: true, force: true });
    }
  }
}

export class Topology {
  readonly prefix = `vxt${process.pid}-`;
  readonly underlay: string;
  readonly hosts: { name: string; ns: string; vtep: string }[] = [];
  private readonly created: string[] = [];

  constructor(hostCount: number) {
    sweepStaleNamespaces();
    this.underlay = this.addNs('ul');
    sh('ip', ['-n', this.underlay, 'link', 'add', 'ul', 'type', 'bridge']);
    sh('ip', ['-n', this.underlay, 'link', 'set', 'ul', 'up']);
    for (let i = 1; i <= hostCount; i++) this.addHost(`h${i}`, `${UNDERLAY}.${10 + i}`);
  }

  addNs(short: string): string {
    const name = `${this.prefix}${short}`;
    sh('ip', ['netns', 'add', name]);
    this.created.push(name);
    sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  addHost(short: string, vtep: string, mtu = 1500): { name: string; ns: string; vtep: string } {
    const ns = this.addNs(short);
    const tmp = `${this.prefix.slice(0, 8)}${short}`.slice(0, 15);
    sh('ip', [
      'link',
      'add',
      tmp,
      'netns',
      ns,
      'mtu',
      String(mtu),
      'type',
      'veth',
      'peer',
      'name',
      short,
      'netns',
      this.underlay,
      'mtu',
      String(mtu),
    ]);
    sh('ip', ['-n', ns, 'link', 'set', tmp, 'name', 'eth0']);
    sh('ip', ['-n', ns, 'addr', 'add', `${vtep}/24`, 'dev', 'eth0']);
    sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    sh('ip', ['-n', this.underlay, 'link', 'set', short, 'master', 'ul', 'up']);
    const h = { name: short, ns, vtep };
    this.hosts.push(h);
    return h;
  }

  // A "container": an empty network namespace with only lo up.
  container(short: string): string {
    return this.addNs(short);
  }

  // With the resolv.conf that `vxnet network connect` wrote for it, if any.
  removeNs(name: string): void {
    sh('ip', ['netns', 'del', name], { allowFail: true });
    fs.rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
    const i = this.created.indexOf(name);
    if (i >= 0) this.created.splice(i, 1);
  }

  destroy(): void {
    for (const ns of this.created.reverse()) {
      sh('ip', ['netns', 'del', ns], { allowFail: true });
      fs.rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
    }
    this.created.length = 0;
  }
}

export function ping(
  fromNs: string,
  ip: string,
  opts: { count?: number; waitS?: number; size?: number; dontFragment?: boolean; intervalS?: number } = {},
): boolean {
  const args = [
    'netns',
    'exec',
    fromNs,
    'ping',
    '-n',
    '-q',
    '-c',
    String(opts.count ?? 1),
    '-W',
    String(opts.waitS ?? 1),
  ];
  if (opts.intervalS !== undefined) args.push('-i', String(opts.intervalS));
  if (opts.size !== undefined) args.push('-s', String(opts.size));
  if (opts.dontFragment) args.push('-M', 'do');
  args.push(ip);
  return spawnSync('ip', args, { timeout: ((opts.waitS ?? 1) * (opts.count ?? 1) + 5) * 1000 }).status === 0;
}

export function addrOf(ns: string, ifname = 'eth0'): string {
  const out = sh('ip', ['-n', ns, '-4', '-o', 'addr', 'show', 'dev', ifname]);
  const m = /inet (\S+)\//.exec(out);
  if (!m) throw new Error(`no IPv4 address on ${ifname} in ${ns}`);
  return m[1];
}

export function fdbOf(hostNs: string, dev: string): string {
  return sh('bridge', ['-n', hostNs, 'fdb', 'show', 'dev', dev], { allowFail: true });
}

export function neighOf(hostNs: string, dev: string): string {
  return sh('ip', ['-n', hostNs, 'neigh', 'show', 'dev', dev], { allowFail: true });
}

export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 50,
): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// A ping at a fixed rate in the background; resolves with what was sent and received.
export function pingFlood(
  fromNs: string,
  ip: string,
  seconds: number,
  intervalS = 0.05,
): Promise<{ sent: number; received: number; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('ip', [
      'netns',
      'exec',
      fromNs,
      'ping',
      '-n',
      '-q',
      '-i',
      String(intervalS),
      '-w',
      String(seconds),
      ip,
    ]);
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), (seconds + 10) * 1000);
    p.on('exit', () => {
      clearTimeout(t);
      const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
      if (!m) reject(new Error(`no ping summary: ${out}`));
      else resolve({ sent: Number(m[1]), received: Number(m[2]), out });
    });
  });
}
