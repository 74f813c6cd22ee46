// The cluster every section but Docker's measures: one etcd, three simulated hosts and an agent on
// each, and what the sections leave running (monitors, pingers), closed when the bench stops.
import type { Etcd3 } from 'etcd3';
import type { TestAgent } from '../test/helpers/agent';
import { startCluster, stopCluster, TestCluster } from '../test/helpers/cluster';
import type { Topology } from '../test/helpers/topology';
import { EntryCounter } from './entries';

export interface Cluster {
  kv: Etcd3;
  topo: Topology;
  agents: TestAgent[];
  // Run in reverse order at stop, before the agents are killed.
  cleanups: (() => void)[];
  // The FDB and neighbor entries of a device on the first host.
  countEntries: (dev: string) => Promise<{ fdb: number; neigh: number }>;
}

export class BenchCluster {
  private starting: Promise<TestCluster> | undefined;
  private readonly cleanups: (() => void)[] = [];

  async start(): Promise<Cluster> {
    const cleanups = this.cleanups;
    this.starting = startCluster({
      hosts: 3,
      etcd: {
        args: ['--max-txn-ops', '20000', '--max-request-bytes', '33554432', '--quota-backend-bytes', '4294967296'],
      },
      agent: {
        leaseTtl: 10,
        resyncInterval: 600,
        // The names section's upstream (bench/dns.ts): never the machine's own resolvers.
        extra: ['--log-level', 'info', '--metrics', '127.0.0.1:9476', '--dns-upstreams', '192.168.231.250'],
      },
      agentStartTimeoutMs: 30000,
    });
    const { kv, topo, agents } = await this.starting;
    const counter = new EntryCounter(topo.hosts[0].ns);
    cleanups.push(() => counter.close());
    const countEntries = (dev: string): Promise<{ fdb: number; neigh: number }> => counter.count(dev);
    return { kv, topo, agents, cleanups, countEntries };
  }

  // Safe to call after a start that failed (startCluster stopped what it had started) and during
  // one (SIGINT): it waits for the start to end, then stops what it started.
  async stop(): Promise<void> {
    const starting = this.starting;
    this.starting = undefined;
    const c = await starting?.catch(() => undefined);
    for (const cleanup of this.cleanups.splice(0).reverse())
      try {
        cleanup();
      } catch {
        /* best effort */
      }
    await stopCluster(c);
  }
}
