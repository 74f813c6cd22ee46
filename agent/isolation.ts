import { execFile } from 'child_process';
import type { Logger } from './log';

// Networks must not reach each other through the host: a host that forwards IP (every Docker host
// does) would route between two vxnet bridges. The rules drop what is routed from one vxnet bridge
// to another. They name each bridge, because with br_netfilter on (Docker turns it on) traffic
// bridged within one network passes the same hook with the bridge as both input and output. The
// table is rewritten only when this host's set of networks changes (never per request or packet)
// and stays when the agent stops.
export function rules(vnis: number[]): string {
  const lines = [...vnis].sort((a, b) => a - b).map((v) => `    iifname "vxbr-${v}" oifname "vxbr-*" oifname != "vxbr-${v}" counter drop comment "vxnet: network ${v} does not route to other networks"`);
  return `table inet vxnet\nflush table inet vxnet\ntable inet vxnet {\n  chain forward {\n    type filter hook forward priority filter - 10; policy accept;\n${lines.join('\n')}\n  }\n}\n`;
}

function nft(args: string[], input?: string): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    const p = execFile('nft', args, { timeout: 10000 }, (err, stdout, stderr) => resolve({ ok: !err, out: `${stdout}${stderr}`.trim() || (err?.message ?? '') }));
    if (input !== undefined) p.stdin?.end(input);
  });
}

export class Isolation {
  private synced: string | undefined;
  private warned = false;

  constructor(private readonly log: Logger) {}

  async sync(vnis: number[]): Promise<void> {
    const text = rules(vnis);
    if (text === this.synced) return;
    const r = await nft(['-f', '-'], text);
    if (r.ok) {
      this.synced = text;
      return;
    }
    if (!this.warned) this.log.warn('cannot install the isolation rules between networks (nftables): networks stay apart only while net.ipv4.ip_forward is 0', { error: r.out });
    this.warned = true;
  }

  async installed(): Promise<boolean> {
    return (await nft(['list', 'chain', 'inet', 'vxnet', 'forward'])).ok;
  }
}
