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
// Suites that program no data path name their agents instead of counting hosts (LoopbackOptions).
export interface LoopbackCluster {
  etcd: EtcdCluster;
  kv: Etcd3;
  agents: TestAgent[];
}

export interface TestCluster extends LoopbackCluster {
  topo: Topology;
  docker?: DockerHosts;
}

export type DockerCluster = TestCluster & { docker: DockerHosts };

// An agent on loopback as `agent` and `prepare` see it: a name and a VTEP, no namespace.
export interface LoopbackHost {
  name: string;
  vtep: string;
}

interface CommonOptions<H, C> {
  etcdMembers?: number;
  // Beside etcdMembers: members (etcdMembers wins when both are given) and flags for every member.
  etcd?: { members?: number; args?: string[] };
  // Options for each host's agent over the defaults (name, VTEP, etcd, netns: see `hosts`).
  agent?: Partial<AgentOptions> | ((host: H, etcd: EtcdCluster) => Partial<AgentOptions>);
  // Called with each agent before it starts: for what options cannot say (a config file, args).
  prepare?: (agent: TestAgent, host: H, etcd: EtcdCluster) => void;
  // How long each agent may take to serve (TestAgent's 15 s when absent): the bench waits longer,
  // as a start slowed by a loaded machine should not cost it a whole run.
  agentStartTimeoutMs?: number;
  // useCluster only: log lines per agent printed after a failed test, and the suite's own clean-up
  // that needs the cluster still running (processes in its namespaces, mounts), run just before
  // the stop even when the start failed.
  logLines?: number;
  beforeStop?: (c: C | undefined) => void | Promise<void>;
}

export interface ClusterOptions extends CommonOptions<Host, TestCluster> {
  // h1..hN, each a namespace on the underlay whose agent runs inside it and reaches etcd over the
  // member's unix socket (the only way out of the namespace to this machine's loopback).
  hosts: number;
  // A dockerd per host whose vxnet plugin is that host's agent (scope 'global': with Docker's etcd
  // cluster store). The agents start once the plugin directories exist, the daemons after them.
  docker?: { scope: 'local' | 'global' };
}

// For the suites that program no data path (the control plane, the API's TCP listener): agents by
// these names in this machine's own namespace, VTEP 127.0.0.1, reaching etcd over its TCP client
// URLs as an agent outside a namespace does. No namespace is made: such a suite needs none.
export interface LoopbackOptions extends CommonOptions<LoopbackHost, LoopbackCluster> {
  hosts: string[];
}

export const DOCKERD = '/usr/sbin/dockerd';

const LOOPBACK_VTEP = '127.0.0.1';

function isLoopback(opts: ClusterOptions | LoopbackOptions): opts is LoopbackOptions {
  return Array.isArray(opts.hosts);
}

export async function startCluster(
  opts: ClusterOptions & { docker: NonNullable<ClusterOptions['docker']> },
): Promise<DockerCluster>;
export async function startCluster(opts: ClusterOptions): Promise<TestCluster>;
export async function startCluster(opts: LoopbackOptions): Promise<LoopbackCluster>;
export async function startCluster(opts: ClusterOptions | LoopbackOptions): Promise<LoopbackCluster> {
  const loopback = isLoopback(opts);
  if (!loopback && opts.docker && !fs.existsSync(DOCKERD))
    throw new Error(
      'Docker is not installed: scripts/test.sh installs it (apt-get install docker.io containerd runc busybox-static iptables)',
    );
  const etcd = await startEtcd(opts.etcdMembers ?? opts.etcd?.members ?? 1, undefined, opts.etcd?.args);
  const kv = etcd.client();
  if (loopback) {
    const c: LoopbackCluster = { etcd, kv, agents: [] };
    const hosts = opts.hosts.map((name) => ({ name, vtep: LOOPBACK_VTEP }));
    try {
      await startAgents(c, hosts, opts, (h) => ({ name: h.name, etcd: etcd.clientUrls, vtep: h.vtep }));
    } catch (err) {
      await stopCluster(c);
      throw err;
    }
    return c;
  }
  const topo = new Topology(opts.hosts);
  const c: TestCluster = { etcd, kv, topo, agents: [] };
  try {
    const docker = opts.docker ? new DockerHosts(topo, { clusterStore: opts.docker.scope === 'global' }) : undefined;
    if (docker) {
      c.docker = docker;
      // The plugin's socket must be there before dockerd asks for it (else a 15 s stall per network).
      await docker.prepare();
    }
    await startAgents(c, topo.hosts, opts, (h) => ({
      name: h.name,
      etcd: etcd.unixUrls,
      vtep: h.vtep,
      netns: h.ns,
      ...(docker && opts.docker ? { docker: { socket: docker.pluginSocket(h.name), scope: opts.docker.scope } } : {}),
    }));
    if (docker) await docker.startDaemons();
  } catch (err) {
    await stopCluster(c);
    throw err;
  }
  return c;
}

// One agent per host over `defaults`, all started together.
async function startAgents<H>(
  c: LoopbackCluster,
  hosts: H[],
  opts: Pick<CommonOptions<H, unknown>, 'agent' | 'prepare' | 'agentStartTimeoutMs'>,
  defaults: (h: H) => AgentOptions,
): Promise<void> {
  c.agents = hosts.map((h) => {
    const own = typeof opts.agent === 'function' ? opts.agent(h, c.etcd) : opts.agent;
    const a = new TestAgent({ ...defaults(h), ...own });
    opts.prepare?.(a, h, c.etcd);
    return a;
  });
  await Promise.all(c.agents.map((a) => a.start(opts.agentStartTimeoutMs)));
}

// Either kind of cluster: what a loopback one lacks is left out.
type AnyCluster = LoopbackCluster & Partial<Pick<TestCluster, 'topo' | 'docker'>>;

export async function stopCluster(c: AnyCluster | undefined): Promise<void> {
  if (!c) return;
  await c.docker?.destroy(); // containers first, while the plugins still answer
  await Promise.all(c.agents.map((a) => a.stop('SIGKILL')));
  c.agents.forEach((a) => a.cleanup());
  c.topo?.destroy();
  c.kv.close();
  await c.etcd.stop();
}

// For afterEach: the agents' last log lines (and their dockerds') when a test failed.
export function printLogsIfFailed(test: Mocha.Test | undefined, c: AnyCluster | undefined, lines = 15): void {
  if (test?.state !== 'failed' || !c) return;
  for (const [i, a] of c.agents.entries()) {
    console.error(`--- ${a.opts.name} log\n${a.tail(lines)}`);
    if (c.docker && c.topo)
      console.error(`--- ${a.opts.name} dockerd log\n${c.docker.logTail(c.topo.hosts[i].name, 10)}`);
  }
}

// A cluster for one mocha suite: started before its tests, stopped after them, logs printed after
// each failed test. Call it first in the describe, so that the suite's own hooks run on a started
// cluster (and its own after hooks run once it is stopped). The accessor throws before the start.
export function useCluster(
  opts: ClusterOptions & { docker: NonNullable<ClusterOptions['docker']> },
): () => DockerCluster;
export function useCluster(opts: ClusterOptions): () => TestCluster;
export function useCluster(opts: LoopbackOptions): () => LoopbackCluster;
export function useCluster(opts: ClusterOptions | LoopbackOptions): () => LoopbackCluster {
  let c: AnyCluster | undefined;
  before(async () => {
    c = isLoopback(opts) ? await startCluster(opts) : await startCluster(opts); // one overload each
  });
  afterEach(function () {
    printLogsIfFailed(this.currentTest, c, opts.logLines);
  });
  after(async () => {
    const stopping = c;
    c = undefined;
    try {
      // The cluster is of the kind that these options started.
      await (opts.beforeStop as ((c: AnyCluster | undefined) => void | Promise<void>) | undefined)?.(stopping);
    } finally {
      await stopCluster(stopping);
    }
  });
  return () => {
    if (!c) throw new Error('the cluster is not running (useCluster starts it in a before hook)');
    return c;
  };
}
