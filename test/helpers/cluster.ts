import * as fs from 'fs';
import type { Etcd3 } from 'etcd3';
import { startEtcd, EtcdCluster } from './etcd';
import { AgentOptions, TestAgent } from './agent';
import { DockerHosts } from './docker';
import { Topology } from './topology';

export type Host = Topology['hosts'][number];

// The fixture every suite shares: one etcd (1 or 3 members), N hosts as namespaces on one underlay,
// one real agent inside each and, if asked, one dockerd per host using the agent's plugin; all torn
// down by `stopCluster`, also after a failure. `useCluster` registers the mocha hooks around it.
export interface TestCluster {
  etcd: EtcdCluster;
  kv: Etcd3;
  topo: Topology;
  agents: TestAgent[];
  docker?: DockerHosts;
}

export type DockerCluster = TestCluster & { docker: DockerHosts };

export interface ClusterOptions {
  hosts: number;
  etcdMembers?: number;
  // Beside etcdMembers: members (etcdMembers wins when both are given) and flags for every member.
  etcd?: { members?: number; args?: string[] };
  // Options for each host's agent over the defaults (name, etcd over its unix socket, VTEP, netns).
  agent?: Partial<AgentOptions> | ((host: Host, etcd: EtcdCluster) => Partial<AgentOptions>);
  // Called with each agent before it starts: for what options cannot say (a config file, args).
  prepare?: (agent: TestAgent, host: Host, etcd: EtcdCluster) => void;
  // A dockerd per host whose vxnet plugin is that host's agent (scope 'global': with Docker's etcd
  // cluster store). The agents start once the plugin directories exist, the daemons after them.
  docker?: { scope: 'local' | 'global' };
  // useCluster only: log lines per agent printed after a failed test, and the suite's own clean-up
  // that needs the cluster still running (processes in its namespaces, mounts), run just before
  // the stop even when the start failed.
  logLines?: number;
  beforeStop?: (c: TestCluster | undefined) => void | Promise<void>;
}

export const DOCKERD = '/usr/sbin/dockerd';

export async function startCluster(
  opts: ClusterOptions & { docker: NonNullable<ClusterOptions['docker']> },
): Promise<DockerCluster>;
export async function startCluster(opts: ClusterOptions): Promise<TestCluster>;
export async function startCluster(opts: ClusterOptions): Promise<TestCluster> {
  if (opts.docker && !fs.existsSync(DOCKERD))
    throw new Error(
      'Docker is not installed: scripts/test.sh installs it (apt-get install docker.io containerd runc busybox-static iptables)',
    );
  const etcd = await startEtcd(opts.etcdMembers ?? opts.etcd?.members ?? 1, undefined, opts.etcd?.args);
  const kv = etcd.client();
  const topo = new Topology(opts.hosts);
  const c: TestCluster = { etcd, kv, topo, agents: [] };
  try {
    const docker = opts.docker ? new DockerHosts(topo, { clusterStore: opts.docker.scope === 'global' }) : undefined;
    if (docker) {
      c.docker = docker;
      // The plugin's socket must be there before dockerd asks for it (else a 15 s stall per network).
      await docker.prepare();
    }
    c.agents = topo.hosts.map((h) => {
      const own = typeof opts.agent === 'function' ? opts.agent(h, etcd) : opts.agent;
      const plugin =
        docker && opts.docker ? { docker: { socket: docker.pluginSocket(h.name), scope: opts.docker.scope } } : {};
      const a = new TestAgent({ name: h.name, etcd: etcd.unixUrls, vtep: h.vtep, netns: h.ns, ...plugin, ...own });
      opts.prepare?.(a, h, etcd);
      return a;
    });
    await Promise.all(c.agents.map((a) => a.start()));
    if (docker) await docker.startDaemons();
  } catch (err) {
    await stopCluster(c);
    throw err;
  }
  return c;
}

export async function stopCluster(c: TestCluster | undefined): Promise<void> {
  if (!c) return;
  await c.docker?.destroy(); // containers first, while the plugins still answer
  await Promise.all(c.agents.map((a) => a.stop('SIGKILL')));
  c.agents.forEach((a) => a.cleanup());
  c.topo.destroy();
  c.kv.close();
  await c.etcd.stop();
}

// For afterEach: the agents' last log lines (and their dockerds') when a test failed.
export function printLogsIfFailed(test: Mocha.Test | undefined, c: TestCluster | undefined, lines = 15): void {
  if (test?.state !== 'failed' || !c) return;
  for (const [i, a] of c.agents.entries()) {
    console.error(`--- ${a.opts.name} log\n${a.tail(lines)}`);
    if (c.docker) console.error(`--- ${a.opts.name} dockerd log\n${c.docker.logTail(c.topo.hosts[i].name, 10)}`);
  }
}

// A cluster for one mocha suite: started before its tests, stopped after them, logs printed after
// each failed test. Call it first in the describe, so that the suite's own hooks run on a started
// cluster (and its own after hooks run once it is stopped). The accessor throws before the start.
export function useCluster(
  opts: ClusterOptions & { docker: NonNullable<ClusterOptions['docker']> },
): () => DockerCluster;
export function useCluster(opts: ClusterOptions): () => TestCluster;
export function useCluster(opts: ClusterOptions): () => TestCluster {
  let c: TestCluster | undefined;
  before(async () => {
    c = await startCluster(opts);
  });
  afterEach(function () {
    printLogsIfFailed(this.currentTest, c, opts.logLines);
  });
  after(async () => {
    const stopping = c;
    c = undefined;
    try {
      await opts.beforeStop?.(stopping);
    } finally {
      await stopCluster(stopping);
    }
  });
  return () => {
    if (!c) throw new Error('the cluster is not running (useCluster starts it in a before hook)');
    return c;
  };
}
