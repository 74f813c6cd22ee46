import type { Answer, Packet, Question } from 'dns-packet';
import * as dnsPacket from 'dns-packet';
import type { NameIndex } from './name-index';
import type { TableEndpoint } from './table';

// Pure: what the resolver does with one decoded query, from the index alone (no I/O).

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type Rcode = keyof typeof RCODE;

export interface AnswerSettings {
  domain: string; // lower case, no dots at either end
  ttl: number; // seconds, local answers and their negative answers
}

export type Decision =
  | { kind: 'reply'; packet: Packet; rcode: Rcode }
  // Not a vxnet name, from a network that may reach outside: the forwarder's.
  | { kind: 'forward'; question: Question }
  // A response, not a query: never answered (no reflection loops between resolvers).
  | { kind: 'drop' };

export function decide(index: NameIndex, s: AnswerSettings, query: Packet, source: string, gateway: string): Decision {
  if (query.type === 'response') return { kind: 'drop' };
  const questions = query.questions ?? [];
  if (opcodeOf(query) !== 0) return reply(query, s, 'NOTIMP');
  if (questions.length !== 1) return reply(query, s, 'FORMERR');
  const q = questions[0];
  const net = index.networkOfGateway(gateway);
  const scope = index.scopeOf(source);
  // Only a local endpoint of the network whose gateway it asked: a host on the underlay, another
  // network's container routed through the host, a spoofed source all get nothing.
  if (net === undefined || !scope?.includes(net)) return reply(query, s, 'REFUSED');
  if ((q.class ?? 'IN') !== 'IN' || q.type === 'AXFR' || q.type === 'IXFR') return reply(query, s, 'REFUSED');
  const name = q.name.toLowerCase().replace(/\.$/, '');
  const forward = (): Decision =>
    index.networks[net].internal ? reply(query, s, 'REFUSED') : { kind: 'forward', question: q };

  if (q.type === 'PTR') {
    const address = reverseAddress(name);
    if (address !== undefined) {
      const eps = index.byAddressIn(address, scope);
      if (eps.length)
        return reply(
          query,
          s,
          'NOERROR',
          eps.map((ep) => ({
            type: 'PTR',
            name: q.name,
            ttl: s.ttl,
            data: `${ep.name}.${index.networks[ep.net].name}.${s.domain}`,
          })),
        );
      // vxnet's subnets are private to it: their reverse names never leave the host.
      if (index.inSubnets(address)) return reply(query, s, 'NXDOMAIN');
      return forward();
    }
  }

  let eps: readonly TableEndpoint[];
  const suffix = `.${s.domain}`;
  if (name === s.domain) return reply(query, s, 'NOERROR', q.type === 'SOA' ? [soa(s)] : []);
  if (name.endsWith(suffix)) {
    // NAME.<domain> or NAME.NETWORK.<domain> (a network's name may hold dots; an endpoint's
    // name may not, as in DNS labels).
    const rest = name.slice(0, -suffix.length);
    const dot = rest.indexOf('.');
    if (dot < 0) eps = inScope(index, scope, rest);
    else {
      const n = index.networkNamed(rest.slice(dot + 1));
      eps = n !== undefined && scope.includes(n) ? index.lookup(n, rest.slice(0, dot)) : [];
    }
    // Unknown in vxnet's own domain: answered here, never forwarded.
    if (!eps.length) return reply(query, s, 'NXDOMAIN');
  } else if (!name.includes('.')) {
    eps = inScope(index, scope, name);
    if (!eps.length) return forward();
  } else return forward();
  return reply(query, s, 'NOERROR', records(q, eps, s.ttl));
}

function inScope(index: NameIndex, scope: readonly number[], name: string): readonly TableEndpoint[] {
  if (scope.length === 1) return index.lookup(scope[0], name);
  return scope.flatMap((n) => index.lookup(n, name));
}

// A known name with no address of the asked family (or a type vxnet does not hold): NODATA, at
// once; glibc and musl send A and AAAA together and wait for both.
function records(q: Question, eps: readonly TableEndpoint[], ttl: number): Answer[] {
  const t = q.type as string; // dns-packet decodes 255 as ANY, which its types omit
  const v4 = t === 'A' || t === 'ANY';
  const v6 = t === 'AAAA' || t === 'ANY';
  const out: Answer[] = [];
  const seen = new Set<string>();
  for (const ep of eps) {
    if (v4 && ep.v4 && !seen.has(ep.v4)) {
      seen.add(ep.v4);
      out.push({ type: 'A', name: q.name, ttl, data: ep.v4 });
    }
    if (v6 && ep.v6 && !seen.has(ep.v6)) {
      seen.add(ep.v6);
      out.push({ type: 'AAAA', name: q.name, ttl, data: ep.v6 });
    }
  }
  return out;
}

function soa(s: AnswerSettings): Answer {
  // minimum = the TTL: how long a client may cache vxnet's NXDOMAIN and NODATA (RFC 2308).
  return {
    type: 'SOA',
    name: s.domain,
    ttl: s.ttl,
    data: {
      mname: `ns.${s.domain}`,
      rname: `hostmaster.${s.domain}`,
      serial: 1,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: s.ttl,
    },
  };
}

export function opcodeOf(p: Packet): number {
  return ((p.flags ?? 0) >> 11) & 0xf;
}

// A response to `query` (its id, question, RD bit and EDNS) with this code and these answers; an
// empty NOERROR or an NXDOMAIN carries vxnet's SOA so that clients cache the negative answer briefly.
export function reply(query: Packet, s: AnswerSettings, rcode: Rcode, answers: Answer[] = []): Decision {
  return { kind: 'reply', packet: respond(query, s, rcode, answers), rcode };
}

export function respond(query: Packet, s: AnswerSettings, rcode: Rcode, answers: Answer[] = []): Packet {
  const authoritative = rcode === 'NOERROR' || rcode === 'NXDOMAIN';
  const flags =
    (authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) |
    ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) |
    dnsPacket.RECURSION_AVAILABLE |
    RCODE[rcode];
  const negative = authoritative && !answers.length;
  const opt = query.additionals?.find((a) => a.type === 'OPT');
  const packet: Packet = {
    id: query.id ?? 0,
    type: 'response',
    flags,
    questions: rcode === 'FORMERR' ? [] : (query.questions ?? []),
    answers,
    authorities: negative ? [soa(s)] : [],
    additionals: opt ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as Answer] : [],
  };
  return packet;
}

// "5.0.77.10.in-addr.arpa" -> "10.77.0.5"; the 32 nibbles of ip6.arpa -> a v6 address.
export function reverseAddress(name: string): string | undefined {
  if (name.endsWith('.in-addr.arpa')) {
    const parts = name.slice(0, -'.in-addr.arpa'.length).split('.');
    if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) < 256)) return undefined;
    return parts.reverse().join('.');
  }
  if (name.endsWith('.ip6.arpa')) {
    const nibbles = name.slice(0, -'.ip6.arpa'.length).split('.');
    if (nibbles.length !== 32 || !nibbles.every((n) => /^[0-9a-f]$/.test(n))) return undefined;
    const hex = nibbles.reverse().join('');
    return hex.match(/.{4}/g)!.join(':');
  }
  return undefined;
}
