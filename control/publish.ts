import { invalid } from './errors';
import { parseAddress } from './ipam';

// Docker's -p syntax for `vxnet network connect --publish`:
// [HOST_IP:]HOST_PORT[-END]:CONTAINER_PORT[-END][/tcp|/udp|/sctp], IPv6 host addresses in brackets.
// Pure; every refusal names the spec and what is wrong with it.

export type PortProtocol = 'tcp' | 'udp' | 'sctp';

export interface PortBinding {
  hostIp: string; // '0.0.0.0' or '::' for every address of the host
  hostPort: number;
  containerPort: number;
  protocol: PortProtocol;
}

const PROTOCOLS: readonly string[] = ['tcp', 'udp', 'sctp'];

function range(spec: string, what: string, text: string): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) throw invalid(`publish "${spec}": ${what} "${text}" is not a port or a range of ports (1-65535)`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  for (const p of [lo, hi])
    if (p < 1 || p > 65535) throw invalid(`publish "${spec}": ${what} ${p} is out of range (1-65535)`);
  if (hi < lo) throw invalid(`publish "${spec}": ${what} range ${text} is reversed`);
  return [lo, hi];
}

// One spec to its bindings (a range gives one per port). `local`: the host's own addresses, to
// refuse a binding to an address that is not the host's.
export function parsePublish(spec: string, local: readonly string[]): PortBinding[] {
  const s = spec.trim();
  if (!s) throw invalid('publish spec is empty: use [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTOCOL]');
  const slash = s.lastIndexOf('/');
  const protocol = slash >= 0 ? s.slice(slash + 1).toLowerCase() : 'tcp';
  if (!PROTOCOLS.includes(protocol)) throw invalid(`publish "${spec}": protocol "${protocol}" is not tcp, udp or sctp`);
  const body = slash >= 0 ? s.slice(0, slash) : s;
  let hostIp = '0.0.0.0';
  let rest = body;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(body);
  if (v6) {
    hostIp = v6[1];
    rest = v6[2];
  } else {
    const parts = body.split(':');
    if (parts.length === 3) {
      hostIp = parts[0];
      rest = `${parts[1]}:${parts[2]}`;
    } else if (parts.length !== 2)
      throw invalid(
        `publish "${spec}" is not [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTOCOL] (both ports are required; IPv6 host addresses in brackets)`,
      );
  }
  if (hostIp !== '0.0.0.0' && hostIp !== '::') {
    let text: string;
    try {
      text = parseAddress(hostIp, 'host address').text;
    } catch {
      throw invalid(`publish "${spec}": host address "${hostIp}" is not an IP address`);
    }
    const ours = local.map((a) => {
      try {
        return parseAddress(a, 'address').text;
      } catch {
        return a;
      }
    });
    if (!ours.includes(text) && text !== '127.0.0.1' && text !== '::1')
      throw invalid(`publish "${spec}": host address ${text} is not an address of this host`);
    hostIp = text;
  }
  const [hostText, ctrText] = rest.split(':');
  const [hLo, hHi] = range(spec, 'host port', hostText ?? '');
  const [cLo, cHi] = range(spec, 'container port', ctrText ?? '');
  if (hHi - hLo !== cHi - cLo)
    throw invalid(
      `publish "${spec}": host ports ${hostText} and container ports ${ctrText} are ranges of different lengths`,
    );
  const out: PortBinding[] = [];
  for (let i = 0; i <= hHi - hLo; i++)
    out.push({ hostIp, hostPort: hLo + i, containerPort: cLo + i, protocol: protocol as PortProtocol });
  return out;
}

const key = (b: PortBinding): string => `${b.protocol}/${b.hostPort}`;

// Every spec of one request; a host port given twice for one protocol is refused (a wildcard
// binding overlaps every address's).
export function parsePublishList(specs: readonly string[], local: readonly string[]): PortBinding[] {
  const all: PortBinding[] = [];
  const seen = new Map<string, { spec: string; ip: string }>();
  for (const spec of specs) {
    for (const b of parsePublish(spec, local)) {
      const had = seen.get(key(b));
      const wild = (ip: string): boolean => ip === '0.0.0.0' || ip === '::';
      if (had && (had.ip === b.hostIp || wild(had.ip) || wild(b.hostIp)))
        throw invalid(`publish "${spec}": host port ${b.hostPort}/${b.protocol} is also published by "${had.spec}"`);
      seen.set(key(b), { spec, ip: b.hostIp });
      all.push(b);
    }
  }
  return all;
}

// Docker's `Ports` of an endpoint: {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}.
export function dockerPorts(bindings: readonly PortBinding[]): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const b of bindings)
    (out[`${b.containerPort}/${b.protocol}`] ??= []).push({ HostIp: b.hostIp, HostPort: String(b.hostPort) });
  return out;
}
