import type { Etcd3 } from 'etcd3';
import { startEtcd, EtcdCluster } from './etcd';
import { AgentOptions, TestAgent } from './agent';
import { Topology } from './topology';

// The fixture most suites share: one etcd (1 or 3 members), N hosts as namespaces on one underlay,
// one real agent inside each, all torn down by `stopCluster`, also after a failure.
export interface TestCluster {
  etcd: EtcdCluster;
  kv: Etcd3;
  topo: Topology;
  agents: TestAgent[];
}

export async function startCluster(opts: { hosts: number; etcdMembers?: number; agent?: Partial<AgentOptions> }): Promise<TestCluster> {
  const etcd = await startEtcd(opts.etcdMembers ?? 1);
  const kv = etcd.client();
  const topo = new Topology(opts.hosts);
  const agents = topo.hosts.map((h) => new TestAgent({ name: h.name, etcd: etcd.unixUrls, vtep: h.vtep, netns: h.ns, ...opts.agent }));
  const c: TestCluster = { etcd, kv, topo, agents };
  try {
    await Promise.all(agents.map((a) => a.start()));
  } catch (err) {
    await stopCluster(c);
    throw err;
  }
  return c;
}

export async function stopCluster(c: TestCluster | undefined): Promise<void> {
  if (!c) return;
  await Promise.all(c.agents.map((a) => a.stop('SIGKILL')));
  c.agents.forEach((a) => a.cleanup());
  c.topo.destroy();
  c.kv.close();
  await c.etcd.stop();
}

// For afterEach: the agents' last log lines when a test failed.
export function printLogsIfFailed(test: Mocha.Test | undefined, c: TestCluster | undefined, lines = 15): void {
  if (test?.state !== 'failed' || !c) return;
  for (const a of c.agents) console.error(`--- ${a.opts.name} log\n${a.tail(lines)}`);
}
