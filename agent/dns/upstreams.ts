// Pure: the upstream resolvers of a resolv.conf, in order (glibc reads at most 3; so does vxnet).
export interface Upstream {
  address: string;
  port: number;
}

export function parseResolvConf(text: string): Upstream[] {
  const out: Upstream[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && out.length < 3) out.push(parseUpstream(m[1].replace(/%.*$/, '')));
  }
  return out;
}

// "10.0.0.2", "10.0.0.2:5353", "[fd00::1]:53" or "fd00::1".
export function parseUpstream(s: string): Upstream {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) return { address: v6[1], port: v6[2] ? Number(v6[2]) : 53 };
  const v4 = /^([^:]+):(\d+)$/.exec(s);
  if (v4) return { address: v4[1], port: Number(v4[2]) };
  return { address: s, port: 53 };
}
