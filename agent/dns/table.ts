import type { ClusterView } from '../../control/store/store';
import { addressOf } from '../../control/ipam';

// What the resolver knows, as the agent sends it (agent/dns/feeder.ts): the networks this host
// serves (a local endpoint in them) and their endpoints, everywhere in the cluster. Only a local
// endpoint can ask (the gateway is anycast: a container's query reaches its own host), so nothing
// of a network without a local endpoint is ever looked at.
export interface TableNetwork {
  id: string;
  name: string;
  internal: boolean;
  gateways: string[]; // plain addresses: where the resolver listens
  subnets: string[]; // their PTR zones: never forwarded
}

export interface TableEndpoint {
  net: number; // index into networks
  name: string;
  aliases: string[];
  v4: string; // plain address or ""
  v6: string;
  local: boolean;
  sandbox: string; // a local endpoint's sandbox: its other endpoints widen what it may see
}

export interface DnsTable {
  networks: TableNetwork[];
  endpoints: TableEndpoint[];
}

// Pure: the table from the agent's view. An endpoint counts while its host is known (has a record),
// the rule the data plane follows: a host cut off from etcd keeps its names as it keeps its
// entries, and a removed host's containers stop resolving with its entries.
export function buildTable(snap: ClusterView, host: string): DnsTable {
  const index = new Map<string, number>();
  const networks: TableNetwork[] = [];
  for (const ep of snap.endpoints.values()) {
    if (ep.host !== host || index.has(ep.networkId)) continue;
    const net = snap.networks.get(ep.networkId);
    if (!net) continue;
    const subnets = [...net.ipv4, ...net.ipv6];
    index.set(net.id, networks.length);
    networks.push({
      id: net.id,
      name: net.name,
      internal: net.internal,
      gateways: subnets.map((s) => s.gateway).filter((g) => g),
      subnets: subnets.map((s) => s.subnet),
    });
  }
  const endpoints: TableEndpoint[] = [];
  for (const ep of snap.endpoints.values()) {
    const net = index.get(ep.networkId);
    if (net === undefined || (ep.host !== host && !snap.hosts.has(ep.host))) continue;
    endpoints.push({
      net,
      name: ep.name,
      aliases: ep.aliases,
      v4: ep.ipv4 ? addressOf(ep.ipv4) : '',
      v6: ep.ipv6 ? addressOf(ep.ipv6) : '',
      local: ep.host === host,
      sandbox: ep.host === host ? ep.sandbox : '',
    });
  }
  return { networks, endpoints };
}
