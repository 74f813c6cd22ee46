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

function run(cmd: string, args: string[], input?: string): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    const p = execFile(cmd, args, { timeout: 10000 }, (err, stdout, stderr) => resolve({ ok: !err, out: `${stdout}${stderr}`.trim() || (err?.message ?? '') }));
    if (input !== undefined) p.stdin?.end(input);
  });
}

const nft = (args: string[], input?: string): Promise<{ ok: boolean; out: string }> => run('nft', args, input);

// Docker sets the FORWARD policy to DROP and turns on br_netfilter, so frames bridged between two
// containers of one vxnet network meet that policy. An accept per bridge (in and out the same
// bridge: within one network only) is appended to Docker's own FORWARD chain, after DOCKER-USER,
// through iptables, because an accept in our nftables table would not stop iptables' drop.
const COMMENT = 'vxnet: bridged traffic within one network';
export function forwardRules(vnis: number[]): string[] {
  return [...vnis].sort((a, b) => a - b).map((v) => `-A FORWARD -i vxbr-${v} -o vxbr-${v} -m comment --comment "${COMMENT}" -j ACCEPT`);
}

async function syncForward(cmd: 'iptables' | 'ip6tables', vnis: number[]): Promise<{ ok: boolean; out: string }> {
  const list = await run(cmd, ['-w', '5', '-S', 'FORWARD']);
  if (!list.ok) return list;
  const have = list.out.split('\n').filter((l) => l.includes(COMMENT));
  const want = forwardRules(vnis);
  const argv = (rule: string): string[] => rule.match(/"[^"]*"|\S+/g)!.slice(1).map((a) => a.replace(/^"(.*)"$/, '$1'));
  for (const rule of want.filter((r) => !have.includes(r))) {
    const r = await run(cmd, ['-w', '5', '-A', ...argv(rule)]);
    if (!r.ok) return r;
  }
  for (const rule of have.filter((r) => !want.includes(r))) await run(cmd, ['-w', '5', '-D', ...argv(rule)]);
  return { ok: true, out: '' };
}

export class Isolation {
  private synced: string | undefined;
  private warned = false;
  private forwardTried: string | undefined;

  // `dockerForward`: also open Docker's FORWARD chain for bridged traffic within each network.
  constructor(private readonly log: Logger, private readonly dockerForward = false) {}

  async sync(vnis: number[]): Promise<void> {
    const text = rules(vnis);
    if (this.dockerForward) await this.syncDocker(vnis);
    if (text === this.synced) return;
    const r = await nft(['-f', '-'], text);
    if (r.ok) {
      this.synced = text;
      return;
    }
    if (!this.warned) this.log.warn('cannot install the isolation rules between networks (nftables): networks stay apart only while net.ipv4.ip_forward is 0', { error: r.out });
    this.warned = true;
  }

  // Tried once per change of the host's networks: a host without iptables gets one warning per
  // change, not one per reconcile.
  private async syncDocker(vnis: number[]): Promise<void> {
    const key = [...vnis].sort((a, b) => a - b).join(',');
    if (key === this.forwardTried) return;
    this.forwardTried = key;
    for (const cmd of ['iptables', 'ip6tables'] as const) {
      const r = await syncForward(cmd, vnis);
      if (!r.ok) this.log.warn(`cannot let vxnet's bridges forward under Docker's FORWARD policy (${cmd}): containers of one network on this host may not reach each other while br_netfilter is on`, { error: r.out });
    }
  }

  async installed(): Promise<boolean> {
    return (await nft(['list', 'chain', 'inet', 'vxnet', 'forward'])).ok;
  }
}
