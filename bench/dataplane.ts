// 5. Data plane: iperf3 over vxnet vs a hand-built VXLAN pair vs the plain underlay.
import { execFileSync, spawn, spawnSync } from 'child_process';
import { TestAgent, CLI } from '../test/helpers/agent';
import { Topology, ping, sh } from '../test/helpers/topology';
import type { Cluster } from './cluster';
import { Figure, record, stats } from './figures';
import { N } from './sizes';

export function dataPlaneFigures(c: Cluster): void {
  const [a1, a2] = c.agents;
  console.log('\n5. data plane throughput (iperf3 TCP)');
  dataPlane(c.topo, a1, a2, N.iperfS).forEach(record);
}

function iperf(serverNs: string, clientNs: string, ip: string, seconds: number): number {
  const srv = spawn('ip', ['netns', 'exec', serverNs, 'iperf3', '-s', '-1', '-B', ip], { stdio: 'ignore' });
  try {
    execFileSync('sleep', ['0.3']);
    const out = execFileSync('ip', ['netns', 'exec', clientNs, 'iperf3', '-c', ip, '-t', String(seconds), '-J'], {
      encoding: 'utf8',
      timeout: (seconds + 20) * 1000,
    });
    return (
      (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e9
    );
  } finally {
    srv.kill('SIGKILL');
  }
}

const NEIGHBOURS = 4;

function dataPlane(topo: Topology, a1: TestAgent, a2: TestAgent, seconds: number): Figure[] {
  void a1;
  void a2;
  const out: Figure[] = [];
  // vxnet: two containers on two hosts.
  const x = topo.container('ipx');
  const y = topo.container('ipy');
  spawnSync(process.execPath, [
    CLI,
    '-H',
    `unix://${a1.socket}`,
    'network',
    'create',
    '--subnet',
    '10.213.0.0/24',
    'perf',
  ]);
  spawnSync(process.execPath, [CLI, '-H', `unix://${a1.socket}`, 'network', 'connect', 'perf', x]);
  spawnSync(process.execPath, [CLI, '-H', `unix://${a2.socket}`, 'network', 'connect', 'perf', y]);
  // Idle neighbours of the sender on its network, on both paths, as a host has them: a bridge that
  // floods frames for remote containers copies every one to each of them.
  for (let i = 0; i < NEIGHBOURS; i++)
    spawnSync(process.execPath, [
      CLI,
      '-H',
      `unix://${a1.socket}`,
      'network',
      'connect',
      'perf',
      topo.container(`ipn${i}`),
    ]);
  const yIp = /inet (\S+)\//.exec(sh('ip', ['-n', y, '-4', '-o', 'addr', 'show', 'dev', 'eth0']))![1];
  spawnSync('sh', [
    '-c',
    `for i in 1 2 3 4 5 6 7 8 9 10; do ip netns exec ${x} ping -c1 -W1 ${yIp} >/dev/null && break; done`,
  ]);
  // The same topology built by hand with ip (container -> veth -> bridge -> VXLAN -> underlay),
  // same MTU, between two fresh host namespaces on the same underlay.
  const hA = topo.addHost('pa', '192.168.231.31');
  const hB = topo.addHost('pb', '192.168.231.32');
  const cA = topo.container('pca');
  const cB = topo.container('pcb');
  for (const [h, c, local, remote, addr] of [
    [hA, cA, '192.168.231.31', '192.168.231.32', '10.214.0.1'],
    [hB, cB, '192.168.231.32', '192.168.231.31', '10.214.0.2'],
  ] as const) {
    sh('ip', ['-n', h.ns, 'link', 'add', 'brm', 'mtu', '1450', 'type', 'bridge']);
    sh('ip', [
      '-n',
      h.ns,
      'link',
      'add',
      'vxm',
      'mtu',
      '1450',
      'master',
      'brm',
      'type',
      'vxlan',
      'id',
      '4242',
      'local',
      local,
      'remote',
      remote,
      'dstport',
      '4789',
    ]);
    sh('ip', ['-n', h.ns, 'link', 'set', 'brm', 'up']);
    sh('ip', ['-n', h.ns, 'link', 'set', 'vxm', 'up']);
    handBuiltPort(h.ns, 'vem', c, addr);
  }
  for (let i = 0; i < NEIGHBOURS; i++) {
    const n = topo.container(`pn${i}`);
    handBuiltPort(hA.ns, `ven${i}`, n, `10.214.0.${10 + i}`);
  }
  ping(cA, '10.214.0.2', { waitS: 2 });
  // Three rounds, the three paths in turn: one run of each swings by 20% on a shared machine.
  const runs = { vx: [] as number[], hand: [] as number[], plain: [] as number[] };
  for (let r = 0; r < 3; r++) {
    runs.vx.push(iperf(y, x, yIp, seconds));
    runs.hand.push(iperf(cB, cA, '10.214.0.2', seconds));
    runs.plain.push(iperf(hB.ns, hA.ns, '192.168.231.32', seconds));
  }
  const [vx, hand, plain] = [stats(runs.vx), stats(runs.hand), stats(runs.plain)];
  out.push({
    name: `TCP throughput over vxnet (container to container, 2 hosts, ${NEIGHBOURS} idle neighbours on the sender's network)`,
    unit: 'Gbit/s',
    ...vx,
    reference: 'the same built by hand with ip',
    refMedian: hand.median,
    refP99: hand.p99,
    ratio: vx.median / hand.median,
    target: '>= 95%',
    met: vx.median / hand.median >= 0.95,
  });
  out.push({ name: 'TCP throughput over the plain underlay veth path', unit: 'Gbit/s', ...plain });
  return out;
}

// A container on the hand-built path: a veth into bridge brm of the host, the container end named
// eth0 with `addr`/24, both ends up.
function handBuiltPort(hostNs: string, veth: string, containerNs: string, addr: string): void {
  sh('ip', [
    '-n',
    hostNs,
    'link',
    'add',
    veth,
    'mtu',
    '1450',
    'master',
    'brm',
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'netns',
    containerNs,
    'mtu',
    '1450',
  ]);
  sh('ip', ['-n', hostNs, 'link', 'set', veth, 'up']);
  sh('ip', ['-n', containerNs, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
  sh('ip', ['-n', containerNs, 'link', 'set', 'eth0', 'up']);
}
