import { execFile, spawn } from 'child_process';
import type { ChildProcess } from 'child_process';
import type { Logger } from '../../lib/log';

// The nftables adapter: one table of vxnet's own, written and read with Debian's `nft` (no Node
// binding exists; one call costs ~6 ms). Nothing else in the agent runs nft.

function nft(args: string[], input?: string): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    const p = execFile('nft', args, { timeout: 10000, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ ok: !err, out: err ? `${stderr}`.trim() || err.message : stdout }),
    );
    if (input !== undefined) p.stdin?.end(input);
  });
}

export class NftTable {
  private monitor: ChildProcess | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly family: string,
    private readonly name: string,
    private readonly log: Logger,
  ) {}

  // One transaction: the script replaces the table or nothing changes.
  async write(script: string): Promise<void> {
    const r = await nft(['-f', '-'], script);
    if (!r.ok) throw new Error(`nft could not write table ${this.family} ${this.name}: ${r.out}`);
  }

  // The table as the kernel lists it, undefined when it does not exist. Compared as text with the
  // listing read right after our own write: any change by another hand shows as a difference
  // without parsing nft's output.
  async read(): Promise<string | undefined> {
    const r = await nft(['list', 'table', this.family, this.name]);
    if (r.ok) return r.out;
    if (/No such file or directory/.test(r.out)) return undefined;
    throw new Error(`nft could not list table ${this.family} ${this.name}: ${r.out}`);
  }

  // Calls `changed(table)` for each ruleset change the kernel reports, with the table it names
  // ("inet vxnet", "ip filter"): `nft monitor` is one idle process that costs nothing until a
  // change, where a periodic list costs a fork of the agent (~20 ms of its main thread) each time.
  // setpriv's parent-death signal ends it with the agent, also after a kill -9. Restarted after a
  // second if it ends; the periodic resync covers the gap.
  watch(changed: (table: string) => void): void {
    if (this.stopped || this.monitor) return;
    const p = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'nft', 'monitor', 'ruleset'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    this.monitor = p;
    let buf = '';
    p.stdout?.setEncoding('utf8');
    p.stdout?.on('data', (d: string) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) {
        const m = /^(?:add|delete|replace|flush|insert)\s+\w+\s+(ip|ip6|inet|arp|bridge|netdev)\s+(\S+)/.exec(l);
        if (m) changed(`${m[1]} ${m[2]}`);
      }
    });
    p.on('error', (err) => this.log.warn('cannot watch nftables for changes', { error: err.message }));
    p.on('exit', () => {
      this.monitor = undefined;
      if (this.stopped) return;
      this.restartTimer = setTimeout(() => this.watch(changed), 1000);
      this.restartTimer.unref();
    });
    p.unref();
    (p.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  }

  // Stops watching; the table stays (egress and published ports outlive the agent).
  stop(): void {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.monitor?.pid) this.monitor.kill();
  }
}
