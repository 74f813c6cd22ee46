import { execFile } from 'child_process';
import { parseCidr } from '../control/ipam';
import {
  AF_INET,
  AF_INET6,
  FRA_IIFNAME,
  FRA_PRIORITY,
  FRA_TABLE,
  RTA_DST,
  RTA_TABLE,
  RTM_GETROUTE,
  RTM_GETRULE,
  RTN_PROHIBIT,
  attrAt,
  ipText,
} from './dataplane/nl';
import type { Logger } from '../lib/log';
import type { EgressMode } from '../control/model';
import { bridgeName } from './names';

// Networks must not reach each other through the host: a host that forwards IP (every Docker host
// does) would route between two vxnet bridges. Policy routing keeps them apart: per local network,
// one rule "what comes in from vxbr-N is looked up first in table T(N)", whose only routes are
// `prohibit` routes for the other local networks' subnets; anything else falls through to the main
// table. Only routed packets look rules up, so frames bridged within a network cost nothing (an
// nftables forward chain did: ~7% of throughput once br_netfilter is loaded, as Docker does).
// Rewritten only when this host's networks change; stays when the agent stops.
export const RULE_PREF = 4789;
const TABLE_BASE = 100_000_000; // + VNI (at most 2^24 - 1): far from the tables people number by hand

export interface LocalNetwork {
  vni: number;
  subnets: string[];
  // none: its table also holds prohibit default routes, so that nothing it sends is routed beyond
  // this host (what is addressed to the host itself is delivered by the local table, looked up first).
  egress?: EgressMode;
}

export interface RoutingPlan {
  rules: string[]; // "iif table", one per local network and family
  routes: string[]; // "table dst" prohibit routes
}

const table = (vni: number): number => TABLE_BASE + vni;

// Pure: the rules and prohibit routes of one address family for this host's networks. A network
// gets a rule only when its table has routes: alone on a host (or alone in a family) it has nothing
// to be kept from, and a host without IPv6 needs no IPv6 rule at all.
export function plan(nets: LocalNetwork[], v6: boolean): RoutingPlan {
  const rules: string[] = [];
  const routes: string[] = [];
  const sorted = [...nets].sort((a, b) => a.vni - b.vni);
  for (const n of sorted) {
    const own: string[] = [];
    for (const o of sorted) {
      if (o.vni === n.vni) continue;
      for (const s of o.subnets) if (parseCidr(s).v6 === v6) own.push(`${table(n.vni)} ${parseCidr(s).text}`);
    }
    if (n.egress === 'none') own.push(`${table(n.vni)} ${v6 ? '::/0' : '0.0.0.0/0'}`);
    if (!own.length) continue;
    rules.push(`${bridgeName(n.vni)} ${table(n.vni)}`);
    routes.push(...own);
  }
  return { rules, routes };
}

// Pure: `ip -batch` lines that turn `have` into `want` (additions first, so no moment is unguarded).
export function batch(have: RoutingPlan, want: RoutingPlan): string[] {
  const lines: string[] = [];
  const add = (l: string[], h: string[]): string[] => l.filter((x) => !h.includes(x));
  for (const r of add(want.rules, have.rules))
    lines.push(`rule add pref ${RULE_PREF} iif ${r.split(' ')[0]} table ${r.split(' ')[1]}`);
  for (const r of add(want.routes, have.routes))
    lines.push(`route replace prohibit ${r.split(' ')[1]} table ${r.split(' ')[0]}`);
  for (const r of add(have.routes, want.routes))
    lines.push(`route del prohibit ${r.split(' ')[1]} table ${r.split(' ')[0]}`);
  // Rules, unlike routes, can exist twice: a second copy of a wanted one goes too.
  const dup = have.rules.filter((r, i) => have.rules.indexOf(r) !== i);
  for (const r of [...add(have.rules, want.rules), ...dup])
    lines.push(`rule del pref ${RULE_PREF} iif ${r.split(' ')[0]} table ${r.split(' ')[1]}`);
  return lines;
}

function run(cmd: string, args: string[], input?: string): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    const p = execFile(cmd, args, { timeout: 10000 }, (err, stdout, stderr) =>
      resolve({ ok: !err, out: `${stdout}${stderr}`.trim() || (err?.message ?? '') }),
    );
    if (input !== undefined) p.stdin?.end(input);
  });
}

// A netlink dump of one message type and address family: the payloads of its answers.
export type Dump = (type: number, family: number) => Promise<Buffer[]>;
const HDR = 12; // struct fib_rule_hdr and struct rtmsg: the table (u8) at 4, a route's type at 7

function u32Attr(d: Buffer, type: number, fallback: number): number {
  const a = attrAt(d, HDR, type);
  return a >= 0 && d.readUInt16LE(a) >= 8 ? d.readUInt32LE(a + 4) : fallback;
}

// Pure: "iif table" of the rules at our preference that match an input interface.
export function rulesOf(payloads: Iterable<Buffer>): string[] {
  const out: string[] = [];
  for (const d of payloads) {
    if (d.length < HDR || u32Attr(d, FRA_PRIORITY, 0) !== RULE_PREF) continue;
    const iif = attrAt(d, HDR, FRA_IIFNAME);
    if (iif < 0) continue;
    out.push(
      `${d.toString('utf8', iif + 4, iif + d.readUInt16LE(iif)).replace(/\0+$/, '')} ${u32Attr(d, FRA_TABLE, d[4])}`,
    );
  }
  return out;
}

// Pure: "table dst/len" of the prohibit routes in our tables.
export function prohibitRoutesOf(payloads: Iterable<Buffer>): string[] {
  const out: string[] = [];
  for (const d of payloads) {
    if (d.length < HDR || d[7] !== RTN_PROHIBIT) continue;
    const t = u32Attr(d, RTA_TABLE, d[4]);
    const dst = attrAt(d, HDR, RTA_DST);
    if (t < TABLE_BASE) continue;
    // A default route has no destination attribute.
    if (dst < 0) {
      if (d[1] === 0) out.push(`${t} ${d[0] === AF_INET6 ? '::' : '0.0.0.0'}/0`);
      continue;
    }
    out.push(`${t} ${ipText(d, dst + 4, d.readUInt16LE(dst) - 4)}/${d[1]}`);
  }
  return out;
}

// What the kernel holds of ours now: read over netlink, not with `ip -j` (a process per look, and
// forking the agent cost ~20 ms of its main thread each, four per check). Undefined for a family
// the host cannot list (IPv6 disabled).
async function current(dump: Dump, v6: boolean): Promise<RoutingPlan | undefined> {
  const family = v6 ? AF_INET6 : AF_INET;
  try {
    return {
      rules: rulesOf(await dump(RTM_GETRULE, family)),
      routes: prohibitRoutesOf(await dump(RTM_GETROUTE, family)),
    };
  } catch {
    return undefined;
  }
}

// Docker sets the FORWARD policy to DROP and turns on br_netfilter, so frames bridged between two
// containers of one vxnet network meet that policy, and so does what a network sends out and the
// replies. A drop anywhere is final: vxnet's own nftables table cannot accept past it (measured), so
// these accepts go in Docker's own FORWARD chain, after DOCKER-USER: per bridge, in and out the same
// bridge (within one network only); for a network with egress, out of it (between networks the
// isolation routes prohibit first) and what conntrack knows back into it.
const MARK = 'vxnet: ';
const COMMENT = `${MARK}bridged traffic within one network`;
export function forwardRules(nets: Pick<LocalNetwork, 'vni' | 'egress'>[]): string[] {
  return [...nets]
    .sort((a, b) => a.vni - b.vni)
    .flatMap((n) => {
      const br = bridgeName(n.vni);
      const rules = [`-A FORWARD -i ${br} -o ${br} -m comment --comment "${COMMENT}" -j ACCEPT`];
      if (n.egress === 'masquerade')
        rules.push(
          `-A FORWARD -i ${br} ! -o ${br} -m comment --comment "${MARK}egress" -j ACCEPT`,
          `-A FORWARD -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "${MARK}egress replies" -j ACCEPT`,
        );
      return rules;
    });
}

async function syncForward(
  cmd: 'iptables' | 'ip6tables',
  nets: Pick<LocalNetwork, 'vni' | 'egress'>[],
): Promise<{ ok: boolean; out: string }> {
  const list = await run(cmd, ['-w', '5', '-S', 'FORWARD']);
  if (!list.ok) return list;
  const have = list.out.split('\n').filter((l) => l.includes(`--comment "${MARK}`));
  const want = forwardRules(nets);
  const argv = (rule: string): string[] =>
    rule
      .match(/"[^"]*"|\S+/g)!
      .slice(1)
      .map((a) => a.replace(/^"(.*)"$/, '$1'));
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
  constructor(
    private readonly log: Logger,
    private readonly dump: Dump,
    private readonly dockerForward = false,
  ) {}

  // `recheck` (full reconciles): compare with the kernel even if the networks did not change, so
  // that rules removed by hand come back within one resync period. One at a time: two syncs working
  // from the same reading would both add a rule, and ip rules can exist twice.
  sync(nets: LocalNetwork[], recheck = false): Promise<void> {
    this.queue = this.queue
      .then(() => this.syncNow(nets, recheck))
      .catch((err: Error) => this.log.warn('isolation sync failed', { error: err.message }));
    return this.queue;
  }

  private queue: Promise<void> = Promise.resolve();

  private async syncNow(nets: LocalNetwork[], recheck: boolean): Promise<void> {
    if (this.dockerForward) await this.syncDocker(nets, recheck);
    const key = JSON.stringify([...nets].sort((a, b) => a.vni - b.vni));
    if (key === this.synced && !recheck) return;
    for (const v6 of [false, true]) {
      const want = plan(nets, v6);
      const have = await current(this.dump, v6);
      // Nothing of ours to keep or remove in a family the host cannot even list (IPv6 disabled).
      if (!have && !want.rules.length) continue;
      const lines = have ? batch(have, want) : [];
      const r = have
        ? lines.length
          ? await run('ip', ['-force', v6 ? '-6' : '-4', '-batch', '-'], `${lines.join('\n')}\n`)
          : { ok: true, out: '' }
        : { ok: false, out: 'cannot list routing rules' };
      if (!r.ok) {
        if (!this.warned)
          this.log.warn(
            'cannot install the routing rules that keep networks apart: networks on this host can reach each other while net.ipv4.ip_forward is 1',
            { error: r.out },
          );
        this.warned = true;
        return;
      }
    }
    this.synced = key;
  }

  // True when the kernel holds every rule and route the host's networks need (`vxnet doctor`).
  async installed(nets: LocalNetwork[]): Promise<boolean> {
    for (const v6 of [false, true]) {
      const want = plan(nets, v6);
      if (!want.rules.length) continue;
      const have = await current(this.dump, v6);
      if (
        !have ||
        !want.rules.every((r) => have.rules.includes(r)) ||
        !want.routes.every((r) => have.routes.includes(r))
      )
        return false;
    }
    return true;
  }

  // Tried once per change of the host's networks: a host without iptables gets one warning per
  // change, not one per reconcile.
  private async syncDocker(nets: LocalNetwork[], recheck: boolean): Promise<void> {
    const key = JSON.stringify(forwardRules(nets));
    if (key === this.forwardTried && !recheck) return;
    this.forwardTried = key;
    for (const cmd of ['iptables', 'ip6tables'] as const) {
      const r = await syncForward(cmd, nets);
      if (!r.ok)
        this.log.warn(
          `cannot let vxnet's bridges forward under Docker's FORWARD policy (${cmd}): containers of one network on this host may not reach each other while br_netfilter is on`,
          { error: r.out },
        );
    }
  }
}
