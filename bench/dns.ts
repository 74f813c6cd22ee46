// Names: lookups through the resolver on the gateway, for a name it answers and for one it
// forwards, beside a direct query to the upstream (the floor). The upstream is a small resolver in
// a namespace of the bench's own on the underlay: nothing leaves the machine.
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as path from 'path';
import { ROOT } from '../test/helpers/agent';
import { sh } from '../test/helpers/topology';
import type { Cluster } from './cluster';
import { record } from './figures';
import { SMOKE } from './sizes';

const TOOL = path.join(ROOT, 'dist', 'test', 'helpers', 'dns-tool.js');
export const BENCH_UPSTREAM = '192.168.231.250';

interface Run {
  p50: number;
  p99: number;
  n: number;
  qps: number;
  lost: number;
}

function bench(ns: string, server: string, name: string): Run {
  const n = SMOKE ? 200 : 5000;
  const secs = SMOKE ? 1 : 5;
  const r = spawnSync(
    'ip',
    ['netns', 'exec', ns, process.execPath, TOOL, 'bench', server, name, String(n), '32', String(secs)],
    {
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  if (r.status !== 0) throw new Error(`dns bench in ${ns} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Run;
}

export async function dnsFigures(c: Cluster): Promise<void> {
  const [h1, h2] = c.agents;
  const outside = c.topo.addNs('dnsout');
  const link = `${c.topo.prefix.slice(0, 8)}dno`;
  sh('ip', ['link', 'add', link, 'netns', outside, 'type', 'veth', 'peer', 'name', 'dnsout', 'netns', c.topo.underlay]);
  sh('ip', ['-n', outside, 'addr', 'add', `${BENCH_UPSTREAM}/24`, 'dev', link]);
  sh('ip', ['-n', outside, 'link', 'set', link, 'up']);
  sh('ip', ['-n', c.topo.underlay, 'link', 'set', 'dnsout', 'master', 'ul', 'up']);
  const upstream: ChildProcess = spawn('ip', [
    'netns',
    'exec',
    outside,
    process.execPath,
    TOOL,
    'upstream',
    BENCH_UPSTREAM,
  ]);
  c.cleanups.push(() => upstream.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    upstream.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
    upstream.on('exit', (code) => reject(new Error(`the bench upstream exited ${code}`)));
  });
  await h1.client.create({ name: 'names', ipamConfig: [{ subnet: '10.220.0.0/24' }] });
  const asker = c.topo.container('dnsc');
  const peer = c.topo.container('dnsp');
  await h1.client.connect({ network: 'names', sandbox: asker, name: 'asker', wait: true });
  await h2.client.connect({ network: 'names', sandbox: peer, name: 'peer', wait: true });
  const local = bench(asker, '10.220.0.1', 'peer.names.vxnet');
  const forwarded = bench(asker, '10.220.0.1', 'n{i}.example.com');
  const cached = bench(asker, '10.220.0.1', 'example.com');
  const direct = bench(c.topo.hosts[0].ns, BENCH_UPSTREAM, 'n{i}.example.com');
  const fig = (name: string, r: Run, ref?: Run, target?: string, met?: boolean): void =>
    record({
      name,
      unit: 'ms',
      median: r.p50,
      p99: r.p99,
      n: r.n,
      ...(ref
        ? { reference: 'the upstream asked directly', refMedian: ref.p50, refP99: ref.p99, ratio: r.p50 / ref.p50 }
        : {}),
      ...(target ? { target, met } : {}),
    });
  console.log('\n7. Names: the resolver on the gateway');
  fig('lookup of a vxnet name (another host)', local);
  fig(
    'lookup forwarded to the upstream (a new name each time)',
    forwarded,
    direct,
    'upstream + 0.2 ms',
    forwarded.p50 <= direct.p50 + 0.2,
  );
  fig('lookup of a forwarded name, from the cache', cached);
  for (const [what, r] of [
    ['vxnet name', local],
    ['forwarded', forwarded],
    ['cached', cached],
    ['upstream directly', direct],
  ] as [string, Run][])
    record({
      name: `sustained lookups, ${what} (32 in flight)`,
      unit: 'q/s',
      median: r.qps,
      p99: r.qps,
      n: 1,
      target: 'no loss',
      met: r.lost === 0,
    });
}
