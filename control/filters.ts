import { invalid, notFound } from './errors';
import { DRIVER, NetworkRecord, SCOPE } from './model';
import { validateNetworkRef } from './validate';

export interface FilterArg {
  key: string;
  value: string;
}

const LS_KEYS = new Set(['driver', 'id', 'name', 'label', 'scope', 'type']);

function group(filters: FilterArg[], allowed: Set<string>, verb: string): Map<string, string[]> {
  const by = new Map<string, string[]>();
  for (const f of filters) {
    if (!allowed.has(f.key))
      throw invalid(`invalid filter '${f.key}' for ${verb}; valid filters: ${[...allowed].join(', ')}`);
    by.set(f.key, [...(by.get(f.key) ?? []), f.value]);
  }
  return by;
}

function labelMatches(labels: Record<string, string>, spec: string): boolean {
  const eq = spec.indexOf('=');
  if (eq < 0) return spec in labels;
  return labels[spec.slice(0, eq)] === spec.slice(eq + 1);
}

// Docker's `network ls` filters: values of one key are OR-ed, keys are AND-ed; name matches a
// substring and id a prefix, as in Docker.
export function filterNetworks(networks: NetworkRecord[], filters: FilterArg[]): NetworkRecord[] {
  const by = group(filters, LS_KEYS, 'network ls');
  const tests: Record<string, (n: NetworkRecord, v: string) => boolean> = {
    driver: (_n, v) => v === DRIVER || v === 'vxnet',
    id: (n, v) => n.id.startsWith(v),
    name: (n, v) => n.name.includes(v),
    label: (n, v) => labelMatches(n.labels, v),
    scope: (_n, v) => v === SCOPE || v === 'swarm',
    type: (_n, v) => {
      if (v !== 'custom' && v !== 'builtin') throw invalid(`invalid filter 'type=${v}': use custom or builtin`);
      return v === 'custom';
    },
  };
  const sorted = [...networks].sort((a, b) => a.name.localeCompare(b.name));
  return sorted.filter((n) => [...by].every(([k, vals]) => vals.some((v) => tests[k](n, v))));
}

// "24h", "90m", "30s" or an RFC 3339 / Unix timestamp, as Docker's --filter until= takes.
export function parseUntil(v: string, now = Date.now()): number {
  const d = /^(\d+(?:\.\d+)?)(h|m|s)$/.exec(v);
  if (d) return now - Number(d[1]) * { h: 3600e3, m: 60e3, s: 1e3 }[d[2] as 'h' | 'm' | 's'];
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalid(`invalid filter 'until=${v}': use a duration such as 24h or a timestamp`);
  return t;
}

// `network prune` filters: label=, label!= (k or k=v), until=.
export function pruneFilter(filters: FilterArg[]): (n: NetworkRecord) => boolean {
  const by = group(filters, new Set(['label', 'label!', 'until']), 'network prune');
  const until = (by.get('until') ?? []).map((v) => parseUntil(v));
  return (n) =>
    (by.get('label') ?? []).every((v) => labelMatches(n.labels, v)) &&
    (by.get('label!') ?? []).every((v) => !labelMatches(n.labels, v)) &&
    until.every((t) => Date.parse(n.created) < t);
}

// Docker's lookup order: full ID, exact name, then a unique ID prefix.
export function resolveNetwork(ref: string, networks: NetworkRecord[]): NetworkRecord {
  validateNetworkRef(ref);
  const byId = networks.find((n) => n.id === ref);
  if (byId) return byId;
  const byName = networks.find((n) => n.name === ref);
  if (byName) return byName;
  const byPrefix = networks.filter((n) => n.id.startsWith(ref.toLowerCase()));
  if (byPrefix.length === 1) return byPrefix[0];
  if (byPrefix.length > 1)
    throw invalid(`network ${ref} is ambiguous (${byPrefix.length} matches found based on ID prefix)`);
  throw notFound(`network ${ref} not found`);
}
