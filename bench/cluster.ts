// The cluster every section but Docker's measures: one etcd, three simulated hosts and an agent on
// each, and what the sections leave running (monitors, pingers), closed when the bench stops.
import type { Etcd3 } from 'etcd3';
import { startEtcd, EtcdCluster } from '../test/helpers/etcd';
import { TestAgent } from '../test/helpers/agent';
import { Topology } from '../test/helpers/topology';
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
  private etcd: EtcdCluster | undefined;
  private topo: Topology | undefined;
  private readonly agents: TestAgent[] = [];
  private readonly cleanups: (() => void)[] = [];

  async start(): Promise<Cluster> {
    const agents = this.agents;
    const cleanups = this.cleanups;
    const etcd = (this.etcd = await startEtcd(1, undefined, [
      '--max-txn-ops',
      '20000',
      '--max-request-bytes',
      '33554432',
      '--quota-backend-bytes',
      '4294967296',
    ]));
    const kv = etcd.client();
    cleanups.push(() => kv.close());
    const topo = (this.topo = new Topology(3));
    for (const h of topo.hosts)
      agents.push(
        new TestAgent({
          name: h.name,
          etcd: etcd.unixUrls,
          vtep: h.vtep,
          netns: h.ns,
          leaseTtl: 10,
          resyncInterval: 600,
          // The names section's upstream (bench/dns.ts): never the machine's own resolvers.
          extra: ['--log-level', 'info', '--metrics', '127.0.0.1:9476', '--dns-upstreams', '192.168.231.250'],
        }),
      );
    await Promise.all(agents.map((a) => a.start(30000)));
    const counter = new EntryCounter(topo.hosts[0].ns);
    cleanups.push(() => counter.close());
    const countEntries = (dev: string): Promise<{ fdb: number; neigh: number }> => counter.count(dev);
    return { kv, topo, agents, cleanups, countEntries };
  }

  // Safe to call after a start that failed part way: it stops what was started.
  async stop(): Promise<void> {
    const { agents, cleanups } = this;
    for (const c of cleanups.reverse())
      try {
        c();
      } catch {
        /* best effort */
      }
    await Promise.all(agents.map((a) => a.stop('SIGKILL')));
    agents.forEach((a) => a.cleanup());
    this.topo?.destroy();
    await this.etcd?.stop();
  }
}
