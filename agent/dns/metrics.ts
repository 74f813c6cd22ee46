import type { Registry } from 'prom-client';
import type { DnsStatsSnapshot } from './stats';

interface Value {
  value: number;
  labels?: Record<string, string>;
  metricName?: string;
}

// The resolver's counters as Prometheus metrics of the agent's registry. The resolver is another
// process: one request per scrape, shared by every metric below; its latency histogram is already
// bucketed there, so it is written out as such rather than observed again.
export function registerDnsMetrics(registry: Registry, read: () => Promise<DnsStatsSnapshot | undefined>): void {
  let last: { at: number; p: Promise<DnsStatsSnapshot | undefined> } | undefined;
  const snapshot = (): Promise<DnsStatsSnapshot | undefined> => {
    if (!last || Date.now() - last.at > 200) last = { at: Date.now(), p: read() };
    return last.p;
  };
  const metric = (
    name: string,
    help: string,
    type: 'counter' | 'gauge' | 'histogram',
    values: (s: DnsStatsSnapshot) => Value[],
  ): void =>
    registry.registerMetric({
      name,
      help,
      type,
      aggregator: 'sum',
      get: async () => {
        const s = await snapshot();
        return { name, help, type, aggregator: 'sum', values: s ? values(s) : [] };
      },
    } as never);
  metric('vxnet_dns_queries_total', 'Queries answered by the resolver, by type and answer code.', 'counter', (s) =>
    Object.entries(s.queries).map(([k, value]) => {
      const [type, rcode] = k.split(' ');
      return { value, labels: { type, rcode } };
    }),
  );
  metric('vxnet_dns_forwarded_total', 'Queries forwarded to an upstream (cache misses).', 'counter', (s) => [
    { value: s.forwarded },
  ]);
  metric('vxnet_dns_cache_hits_total', 'Forwardable queries answered from the cache.', 'counter', (s) => [
    { value: s.cacheHits },
  ]);
  metric(
    'vxnet_dns_upstream_failures_total',
    'Upstream attempts that failed, by upstream and why (timeout, error).',
    'counter',
    (s) =>
      Object.entries(s.upstreamFailures).map(([k, value]) => {
        const [upstream, reason] = k.split(' ');
        return { value, labels: { upstream, reason } };
      }),
  );
  metric('vxnet_dns_in_flight', 'Forwarded queries awaiting an upstream.', 'gauge', (s) => [{ value: s.inFlight }]);
  metric(
    'vxnet_dns_in_flight_refused_total',
    'Queries answered SERVFAIL because dns.max_in_flight forwards were awaiting upstreams.',
    'counter',
    (s) => [{ value: s.inFlightRefused }],
  );
  metric('vxnet_dns_malformed_total', 'Packets that were not readable DNS messages.', 'counter', (s) => [
    { value: s.malformed },
  ]);
  metric('vxnet_dns_latency_seconds', 'Time from a query read to its answer sent.', 'histogram', (s) => {
    const l = s.latency;
    let acc = 0;
    const out: Value[] = l.buckets.map((le, i) => {
      acc += l.counts[i];
      return { value: acc, labels: { le: String(le) }, metricName: 'vxnet_dns_latency_seconds_bucket' };
    });
    out.push({ value: l.count, labels: { le: '+Inf' }, metricName: 'vxnet_dns_latency_seconds_bucket' });
    out.push({ value: l.sum, metricName: 'vxnet_dns_latency_seconds_sum' });
    out.push({ value: l.count, metricName: 'vxnet_dns_latency_seconds_count' });
    return out;
  });
}
