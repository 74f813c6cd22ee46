// 1. Attach latency through the API, against the CNI reference bridge plugin + host-local.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TestAgent, CLI, ROOT } from '../test/helpers/agent';
import { Topology, sh } from '../test/helpers/topology';
import type { Cluster } from './cluster';
import { now, record, stats } from './figures';
import { timeCmd } from './proc';
import { N, WARMUP } from './sizes';

// Returns the Connect figure, which the scale section sets Connects into a big network against.
export async function attachFigures(c: Cluster): Promise<ReturnType<typeof stats>> {
  const { topo } = c;
  const [a1] = c.agents;
  console.log('\n1. attach latency (one host)');
  await a1.client.create({ name: 'attach', ipamConfig: [{ subnet: '10.210.0.0/16' }] });
  const boxes = Array.from({ length: N.attach }, (_, i) => topo.container(`at${i}`));
  const up: number[] = [];
  const down: number[] = [];
  for (let i = 0; i < WARMUP; i++) {
    const w = topo.container(`aw${i}`);
    await a1.client.connect({ network: 'attach', sandbox: w });
    await a1.client.disconnect({ network: 'attach', sandbox: w });
    topo.removeNs(w);
  }
  for (const b of boxes) {
    const t0 = now();
    await a1.client.connect({ network: 'attach', sandbox: b });
    up.push(now() - t0);
  }
  // Over ten Connects: now and then the watch delivers a Connect's own write before its request
  // has recorded it, and the run it triggers writes this host's progress, a second request.
  const requestsBefore = await etcdRequests(topo.hosts[0].ns);
  const extra = Array.from({ length: 10 }, (_, i) => topo.container(`atx${i}`));
  for (const x of extra) await a1.client.connect({ network: 'attach', sandbox: x });
  const perConnect = ((await etcdRequests(topo.hosts[0].ns)) - requestsBefore) / extra.length;
  for (const x of extra) await a1.client.disconnect({ network: 'attach', sandbox: x });
  for (const b of boxes) {
    const t0 = now();
    await a1.client.disconnect({ network: 'attach', sandbox: b });
    down.push(now() - t0);
  }
  const cni = cniReference(topo, N.cni);
  const su = stats(up);
  record({
    name: 'Connect via gRPC',
    unit: 'ms',
    ...su,
    reference: 'CNI bridge+host-local ADD',
    refMedian: cni.add.median,
    refP99: cni.add.p99,
    ratio: su.median / cni.add.median,
    target: 'p50 <= 0.5x, p99 <= 1x',
    met: su.median <= 0.5 * cni.add.median && su.p99 <= cni.add.p99,
  });
  const sd = stats(down);
  record({
    name: 'Disconnect via gRPC',
    unit: 'ms',
    ...sd,
    reference: 'CNI bridge+host-local DEL',
    refMedian: cni.del.median,
    refP99: cni.del.p99,
    ratio: sd.median / cni.del.median,
  });
  record({ name: 'etcd requests per Connect (mean of 10)', unit: 'requests', median: perConnect, p99: NaN, n: 10 });
  const cliTimes: number[] = [];
  const nodeTimes: number[] = [];
  for (let i = 0; i < Math.min(10, N.attach); i++) {
    cliTimes.push(
      timeCmd(process.execPath, [CLI, '-H', `unix://${a1.socket}`, 'network', 'connect', 'attach', boxes[i]]).ms,
    );
    nodeTimes.push(timeCmd(process.execPath, ['-e', '0']).ms);
    spawnSync(process.execPath, [CLI, '-H', `unix://${a1.socket}`, 'network', 'disconnect', 'attach', boxes[i]]);
  }
  record({
    name: 'Connect via the CLI',
    unit: 'ms',
    ...stats(cliTimes),
    reference: 'bare node start',
    refMedian: stats(nodeTimes).median,
    refP99: stats(nodeTimes).p99,
    ratio: stats(cliTimes).median / stats(nodeTimes).median,
  });
  for (const b of boxes) topo.removeNs(b);
  for (const x of extra) topo.removeNs(x);
  // Like the reference's bridge, the network's devices exist already (another container is on it).
  await a1.client.connect({ network: 'attach', sandbox: topo.container('anchor') });
  const vxCni = vxnetCni(topo, a1, N.cni);
  record({
    name: 'CNI ADD through the vxnet plugin',
    unit: 'ms',
    ...vxCni.add,
    reference: 'CNI bridge+host-local ADD',
    refMedian: cni.add.median,
    refP99: cni.add.p99,
    ratio: vxCni.add.median / cni.add.median,
    target: 'p50 <= reference p50',
    met: vxCni.add.median <= cni.add.median,
  });
  record({
    name: 'CNI DEL through the vxnet plugin',
    unit: 'ms',
    ...vxCni.del,
    reference: 'CNI bridge+host-local DEL',
    refMedian: cni.del.median,
    refP99: cni.del.p99,
    ratio: vxCni.del.median / cni.del.median,
  });
  return su;
}

// The agent's own count of etcd requests, from its metrics inside the host's namespace.
async function etcdRequests(ns: string): Promise<number> {
  const js = `require('http').get('http://127.0.0.1:9476/metrics',r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>process.stdout.write(b))})`;
  const text = execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', js], {
    encoding: 'utf8',
    timeout: 10000,
  });
  return Promise.resolve(Number(/^vxnet_etcd_requests_total (\S+)$/m.exec(text)?.[1] ?? NaN));
}

// ADD and DEL timed as a runtime calls a plugin: in the runtime's (host's) namespace, entered by ip
// netns exec, whose own cost (measured apart) is taken off each call.
function cniTimes(
  topo: Topology,
  plugin: string,
  conf: string,
  prefix: string,
  n: number,
): { add: ReturnType<typeof stats>; del: ReturnType<typeof stats> } {
  const host = topo.hosts[0].ns;
  const enter = (cmd: string[], input?: string, env?: NodeJS.ProcessEnv) =>
    timeCmd('ip', ['netns', 'exec', host, ...cmd], input, env);
  const base = stats(Array.from({ length: 20 }, () => enter(['/bin/true']).ms)).median;
  const add: number[] = [];
  const del: number[] = [];
  for (let i = 0; i < WARMUP + n; i++) {
    const c = topo.container(`${prefix}${i}`);
    const env = {
      ...process.env,
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: `${prefix}bench${i}`,
      CNI_NETNS: `/run/netns/${c}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: path.dirname(plugin),
    };
    const r = enter([plugin], conf, env);
    if (r.code !== 0) throw new Error(`CNI ADD through ${plugin} failed: ${r.out}`);
    const d = enter([plugin], conf, { ...env, CNI_COMMAND: 'DEL' });
    if (i >= WARMUP) {
      add.push(r.ms - base);
      del.push(d.ms - base);
    }
    topo.removeNs(c);
  }
  return { add: stats(add), del: stats(del) };
}

function cniReference(topo: Topology, n: number): { add: ReturnType<typeof stats>; del: ReturnType<typeof stats> } {
  const plugin = ['/usr/lib/cni/bridge', '/opt/cni/bin/bridge'].find((p) => fs.existsSync(p));
  if (!plugin)
    throw new Error('the CNI reference plugins are not installed (apt-get install containernetworking-plugins)');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vxt-cni-'));
  const conf = JSON.stringify({
    cniVersion: '1.0.0',
    name: 'benchref',
    type: 'bridge',
    bridge: 'cnibr0',
    isGateway: true,
    ipam: { type: 'host-local', subnet: '10.212.0.0/16', dataDir },
  });
  try {
    return cniTimes(topo, plugin, conf, 'cr', n);
  } finally {
    sh('ip', ['-n', topo.hosts[0].ns, 'link', 'del', 'cnibr0'], { allowFail: true });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

// vxnet's own CNI plugin called exactly as the reference is.
function vxnetCni(
  topo: Topology,
  agent: TestAgent,
  n: number,
): { add: ReturnType<typeof stats>; del: ReturnType<typeof stats> } {
  const conf = JSON.stringify({
    cniVersion: '1.0.0',
    name: 'attach',
    type: 'vxnet',
    network: 'attach',
    agent: path.join(agent.dir, 'cni.sock'),
  });
  return cniTimes(topo, path.join(ROOT, 'native', 'build', 'Release', 'vxnet-cni'), conf, 'vc', n);
}
