import { parseCidr } from '../control/ipam';
import { egressOf } from '../control/model';
import type { EgressMode, NetworkRecord } from '../control/model';

// vxnet's own nftables table: the egress masquerade of the networks this host serves. Written whole,
// in one `nft -f` transaction that deletes and recreates it (./dataplane/nft.ts), so that whatever
// another hand added to it, removed from it or changed in it is gone after one write; established
// connections keep their translation, which lives in conntrack, not in the table (measured: five
// replacements during a masqueraded download lost no byte).
export const TABLE = 'vxnet';
export const FAMILY = 'inet';

export interface TableNetwork {
  vni: number;
  subnets: string[];
  egress: EgressMode;
}

export interface TableInput {
  overlay: string[]; // the subnets of every vxnet network: never masqueraded to
  networks: TableNetwork[]; // the networks this host serves
}

// Pure: what the table is built from, out of the view's networks and the VNIs this host serves.
export function tableInput(networks: Iterable<NetworkRecord>, served: readonly number[]): TableInput {
  const overlay: string[] = [];
  const local: TableNetwork[] = [];
  const want = new Set(served);
  for (const n of networks) {
    const subnets = [...n.ipv4, ...n.ipv6].map((s) => s.subnet);
    overlay.push(...subnets);
    if (want.has(n.vni)) local.push({ vni: n.vni, subnets, egress: egressOf(n) });
  }
  return { overlay, networks: local.sort((a, b) => a.vni - b.vni) };
}

// Whether a network with a way out is served, per family: where the agent turns forwarding on.
export function needsForwarding(input: TableInput): { v4: boolean; v6: boolean } {
  const out = input.networks.filter((n) => n.egress === 'masquerade').flatMap((n) => n.subnets);
  return { v4: out.some((s) => !parseCidr(s).v6), v6: out.some((s) => parseCidr(s).v6) };
}

function split(cidrs: string[]): { v4: string[]; v6: string[] } {
  const parsed = cidrs.map((c) => parseCidr(c));
  const texts = (v6: boolean): string[] => [...new Set(parsed.filter((c) => c.v6 === v6).map((c) => c.text))].sort();
  return { v4: texts(false), v6: texts(true) };
}

// `auto-merge`: two records that overlap (two creates racing past validation) must not fail the
// whole transaction.
function set(name: string, type: string, elements: string[]): string {
  const els = elements.length ? ` elements = { ${elements.join(', ')} }` : '';
  return `  set ${name} { type ${type}; flags interval; auto-merge;${els} }`;
}

// Pure: the `nft -f` script that replaces the table with the one `input` asks for. The first line
// makes the delete valid when the table does not exist yet; all three lines are one transaction.
// Translated: traffic from a masquerading network's subnets to anything outside every vxnet network.
// Within a network (bridged; br_netfilter shows it to this hook) and between networks (kept apart
// by ../isolation.ts) nothing is translated; to the host itself nothing reaches postrouting.
// `fully-random`: the source port is chosen at random, against the SNAT port race that stalls
// concurrent connects to one destination for a SYN retransmit (1 s).
export function tableScript(input: TableInput): string {
  const overlay = split(input.overlay);
  const egress = split(input.networks.filter((n) => n.egress === 'masquerade').flatMap((n) => n.subnets));
  return [
    `table ${FAMILY} ${TABLE} {}`,
    `delete table ${FAMILY} ${TABLE}`,
    `table ${FAMILY} ${TABLE} {`,
    `  comment "vxnet: egress of this host's networks; rewritten whole by the vxnet agent"`,
    set('overlay4', 'ipv4_addr', overlay.v4),
    set('overlay6', 'ipv6_addr', overlay.v6),
    set('egress4', 'ipv4_addr', egress.v4),
    set('egress6', 'ipv6_addr', egress.v6),
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    '    ip saddr @egress4 ip daddr != @overlay4 masquerade fully-random',
    '    ip6 saddr @egress6 ip6 daddr != @overlay6 masquerade fully-random',
    '  }',
    '}',
    '',
  ].join('\n');
}
