// 3. Bulk programming: N remote endpoints appear in etcd / disappear, against the kernel's own rate
// (a C sender of batched netlink messages, the floor) and ip -batch + bridge -batch beside it.
import { keys } from '../control/store/keys';
import type { TestAgent } from '../test/helpers/agent';
import * as path from 'path';
import { ROOT } from '../test/helpers/agent';
import { sh } from '../test/helpers/topology';
import type { Cluster } from './cluster';
import { EntryMonitor } from './entries';
import { delAll, fakeEndpoints, putAll } from './fake-endpoints';
import { now, record, round, stats } from './figures';
import { timeCmd } from './proc';
import { N, SMOKE } from './sizes';

// Returns the id of the bulk network, which the scale section fills further.
export async function bulkFigures(c: Cluster): Promise<string> {
  const { kv, topo, agents, cleanups, countEntries } = c;
  const [a1] = agents;
  console.log(`\n3. bulk programming (${N.bulk} remote endpoints = ${2 * N.bulk} kernel entries)`);
  const bulkNet = await a1.client.create({
    name: 'bulk',
    ipamConfig: [{ subnet: '10.64.0.0/10' }],
    options: { vxlanid: '9000' },
  });
  const anchor = topo.container('bk0');
  await a1.client.connect({ network: 'bulk', sandbox: anchor });
  await kv.put(keys.host('bulkhost')).value(
    JSON.stringify({
      name: 'bulkhost',
      vtep: '192.168.231.99',
      vxlanPort: 4789,
      underlayMtu: 1500,
      version: 'bench',
      started: new Date().toISOString(),
    }),
  );
  const eps = fakeEndpoints(bulkNet.id, 'bulkhost', N.bulk, 1, 36 << 16);
  // Timed from the moment the endpoints exist in etcd (the write committed) to the kernel's
  // announcement of the last entry, and back. Rounds, because one swings with where etcd's
  // delivery falls against the writer's own answer; a pause between them, so that each starts from
  // an agent at rest (it has given its memory back, agent/memory.ts).
  const entries = new EntryMonitor(topo.hosts[0].ns, 'vx-9000');
  cleanups.push(() => entries.close());
  await entries.ready;
  const present = async (): Promise<boolean> => {
    const c = await countEntries('vx-9000');
    return c.fdb >= N.bulk && c.neigh >= N.bulk;
  };
  const gone = async (): Promise<boolean> => {
    const c = await countEntries('vx-9000');
    return c.fdb === 0 && c.neigh === 0;
  };
  const bulkRounds = async (pausePeers: boolean): Promise<{ adds: number[]; dels: number[]; writes: number[] }> => {
    const out = { adds: [] as number[], dels: [] as number[], writes: [] as number[] };
    const timed = async (
      write: () => Promise<void>,
      kind: 'added' | 'deleted',
      done: () => Promise<boolean>,
    ): Promise<number> => {
      entries.reset();
      return withPeersPaused(pausePeers ? agents.slice(1) : [], async () => {
        const tWrite = now();
        await write();
        const tCommitted = now();
        if (kind === 'added') out.writes.push(tCommitted - tWrite);
        return Math.max(0, (await entries.until(kind, 2 * N.bulk, done, 120000)) - tCommitted);
      });
    };
    for (let r = 0; r < N.bulkRounds; r++) {
      out.adds.push(await timed(() => putAll(kv, eps), 'added', present));
      await new Promise((res) => setTimeout(res, SMOKE ? 200 : 3000));
      out.dels.push(await timed(() => delAll(kv, Object.keys(eps)), 'deleted', gone));
      await new Promise((res) => setTimeout(res, SMOKE ? 200 : 3000));
    }
    return out;
  };
  const solo = await bulkRounds(true);
  const shared = await bulkRounds(false);
  const refs = Array.from({ length: N.bulkRounds }, () => references(topo.hosts[0].ns, eps));
  const rate = (ms: number): number => (2 * N.bulk) / (ms / 1000);
  const [add, del] = [stats(solo.adds), stats(solo.dels)];
  const [refAdd, refDel] = [stats(refs.map((x) => x.ip.addMs)), stats(refs.map((x) => x.ip.delMs))];
  const [cAdd, cDel] = [stats(refs.map((x) => x.c.addMs)), stats(refs.map((x) => x.c.delMs))];
  const list = (xs: number[]): string => xs.map((x) => round(x, 0)).join(', ');
  const FLOOR = 'C sender, batched netlink (the kernel)';
  const IP_BATCH = 'ip -batch + bridge -batch';
  // A rate of 2 x N entries against a reference's, and the least share of it asked for, if any.
  type Times = ReturnType<typeof stats>;
  const rateFigure = (name: string, v: Times, ref: Times, reference: string, least?: number): void =>
    record({
      name,
      unit: 'entries/s',
      median: rate(v.median),
      p99: rate(v.p99),
      n: v.n,
      reference,
      refMedian: rate(ref.median),
      refP99: rate(ref.p99),
      ratio: ref.median / v.median,
      ...(least === undefined ? {} : { target: `>= ${least * 100}%`, met: ref.median / v.median >= least }),
    });
  rateFigure('bulk add (committed in etcd -> watch -> kernel)', add, cAdd, FLOOR, 0.4);
  console.log(
    `     (from commit to kernel, ms: ${list(solo.adds)}; writing them to etcd took ${list(solo.writes)} ms more; C sender: ${list(refs.map((x) => x.c.addMs))}; ip -batch: ${list(refs.map((x) => x.ip.addMs))})`,
  );
  rateFigure('bulk delete', del, cDel, FLOOR, 0.4);
  console.log(
    `     (ms: ${list(solo.dels)}; C sender: ${list(refs.map((x) => x.c.delMs))}; ip -batch: ${list(refs.map((x) => x.ip.delMs))})`,
  );
  rateFigure('bulk add against ip -batch', add, refAdd, IP_BATCH);
  rateFigure('bulk delete against ip -batch', del, refDel, IP_BATCH);
  // The same with the two peers' agents running: on this machine they decode the same events on
  // the same two cores as the measured agent, which real hosts do on CPUs of their own.
  const [addShared, delShared] = [stats(shared.adds), stats(shared.dels)];
  rateFigure('bulk add, the two peer agents running on the same cores', addShared, refAdd, IP_BATCH);
  rateFigure('bulk delete, the two peer agents running on the same cores', delShared, refDel, IP_BATCH);
  console.log(
    `     (add ms: ${list(shared.adds)}; delete ms: ${list(shared.dels)}; ${entries.fallbacks} of ${4 * N.bulkRounds} waits ended by a periodic dump, not the announcements; ${entries.lost} reads after lost announcements)`,
  );
  return bulkNet.id;
}

// The peers' agents stopped (SIGSTOP) while `fn` runs and continued after, even when it fails: the
// bulk figures time the measured host alone, as the reference runs alone. Their leases (10 s)
// outlast the pause.
async function withPeersPaused<T>(peers: TestAgent[], fn: () => Promise<T>): Promise<T> {
  for (const p of peers) if (p.pid) process.kill(p.pid, 'SIGSTOP');
  try {
    return await fn();
  } finally {
    for (const p of peers) if (p.pid) process.kill(p.pid, 'SIGCONT');
  }
}

const BULKSEND = path.join(ROOT, 'native/build/Release/vxnet-bulksend');

// The same entries written on a device of their own in the measured host's namespace, twice: by
// native/bulk-sender.c (its own clock, parsing excluded: the kernel's rate) and by ip -batch.
function references(ns: string, eps: Record<string, string>): Record<'c' | 'ip', { addMs: number; delMs: number }> {
  return withBenchDevice(ns, () => {
    const recs = Object.values(eps).map((v) => JSON.parse(v) as { mac: string; ipv4: string });
    const lines = recs.map((r) => `${r.mac} ${r.ipv4.split('/')[0]}`).join('\n') + '\n';
    const send = (op: 'add' | 'del'): number => {
      const r = timeCmd('ip', ['netns', 'exec', ns, BULKSEND, 'vxbench0', '192.168.231.99', op], lines);
      const [ms, errors] = r.out.trim().split(/\s+/).map(Number);
      if (r.code !== 0 || errors !== 0 || !Number.isFinite(ms)) throw new Error(`vxnet-bulksend ${op}: ${r.out}`);
      return ms;
    };
    const c = { addMs: send('add'), delMs: send('del') };
    return { c, ip: ipBatch(ns, recs) };
  });
}

function withBenchDevice<T>(ns: string, fn: () => T): T {
  sh('ip', [
    '-n',
    ns,
    'link',
    'add',
    'vxbench0',
    'type',
    'vxlan',
    'id',
    '9999',
    'local',
    '192.168.231.11',
    'dstport',
    '4790',
    'nolearning',
    'proxy',
  ]);
  sh('ip', ['-n', ns, 'link', 'set', 'vxbench0', 'up']);
  try {
    return fn();
  } finally {
    sh('ip', ['-n', ns, 'link', 'del', 'vxbench0'], { allowFail: true });
  }
}

function ipBatch(ns: string, recs: { mac: string; ipv4: string }[]): { addMs: number; delMs: number } {
  const fdbAdd = recs.map((r) => `fdb add ${r.mac} dev vxbench0 dst 192.168.231.99 self permanent`).join('\n') + '\n';
  const neighAdd =
    recs.map((r) => `neigh add ${r.ipv4.split('/')[0]} lladdr ${r.mac} dev vxbench0 nud permanent`).join('\n') + '\n';
  const fdbDel = recs.map((r) => `fdb del ${r.mac} dev vxbench0 dst 192.168.231.99 self`).join('\n') + '\n';
  const neighDel = recs.map((r) => `neigh del ${r.ipv4.split('/')[0]} dev vxbench0`).join('\n') + '\n';
  const addMs =
    timeCmd('bridge', ['-n', ns, '-batch', '-'], fdbAdd).ms + timeCmd('ip', ['-n', ns, '-batch', '-'], neighAdd).ms;
  const delMs =
    timeCmd('bridge', ['-n', ns, '-batch', '-'], fdbDel).ms + timeCmd('ip', ['-n', ns, '-batch', '-'], neighDel).ms;
  return { addMs, delMs };
}
