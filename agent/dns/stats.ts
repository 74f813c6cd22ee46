// What the resolver counts; the agent reads a copy at scrape time (agent/metrics.ts).
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 2.5];

export interface DnsStatsSnapshot {
  queries: Record<string, number>; // "TYPE RCODE" -> count
  forwarded: number;
  cacheHits: number;
  upstreamFailures: Record<string, number>; // "address:port timeout|error" -> count
  inFlight: number;
  inFlightRefused: number; // forwards refused because the in-flight table was full
  malformed: number;
  latency: { buckets: number[]; counts: number[]; sum: number; count: number };
}

export class DnsStats {
  private readonly queries = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  forwarded = 0;
  cacheHits = 0;
  inFlight = 0;
  inFlightRefused = 0;
  malformed = 0;
  private readonly counts = LATENCY_BUCKETS.map(() => 0);
  private sum = 0;
  private count = 0;

  answered(type: string, rcode: string, seconds: number): void {
    const k = `${type} ${rcode}`;
    this.queries.set(k, (this.queries.get(k) ?? 0) + 1);
    const i = LATENCY_BUCKETS.findIndex((b) => seconds <= b);
    if (i >= 0) this.counts[i]++;
    this.sum += seconds;
    this.count++;
  }

  upstreamFailed(upstream: string, why: 'timeout' | 'error'): void {
    const k = `${upstream} ${why}`;
    this.failures.set(k, (this.failures.get(k) ?? 0) + 1);
  }

  snapshot(): DnsStatsSnapshot {
    return {
      queries: Object.fromEntries(this.queries),
      forwarded: this.forwarded,
      cacheHits: this.cacheHits,
      upstreamFailures: Object.fromEntries(this.failures),
      inFlight: this.inFlight,
      inFlightRefused: this.inFlightRefused,
      malformed: this.malformed,
      latency: { buckets: LATENCY_BUCKETS, counts: [...this.counts], sum: this.sum, count: this.count },
    };
  }
}
