// 4. Scale of the agent: RSS and CPU with N remote endpoints in its networks, Connects and
// reconciles in a network that big, and (6.) restarts with them in place.
import * as fs from 'fs';
import type { Etcd3 } from 'etcd3';
import type { TestAgent } from '../test/helpers/agent';
import { Topology, waitFor } from '../test/helpers/topology';
import type { Cluster } from './cluster';
import { delAll, fakeEndpoints, putAll } from './fake-endpoints';
import { now, record, round, stats } from './figures';
import { procStats } from './proc';
import { N, SMOKE } from './sizes';

// `bulkNetId` is the network the bulk section made; `fresh` is the Connect figure into a fresh
// network (section 1), the reference of Connects into this big one.
export async function scaleFigures(c: Cluster, bulkNetId: string, fresh: ReturnType<typeof stats>): Promise<void> {
  const { kv, topo, countEntries } = c;
  const [a1] = c.agents;
  console.log('\n4. agent scale');
  for (const size of N.scale) {
    // From the subnet's bottom up, as allocation fills a network: a Connect must find the next free
    // address past all of them (the anchor holds 10.64.0.2).
    const many = fakeEndpoints(bulkNetId, 'bulkhost', size, 100000, 3);
    const before = procStats(a1.pid!);
    await putAll(kv, many);
    // Both kinds: the restart below must find the kernel complete, not cut a reconcile short.
    await waitFor(
      `scale ${size}`,
      async () => {
        const c = await countEntries('vx-9000');
        return c.fdb >= size && c.neigh >= size;
      },
      300000,
      50,
    );
    const after = procStats(a1.pid!);
    // Held for good once the burst's garbage is gone: V8 gives its heap back after some seconds
    // of quiet (its memory reducer), so the steady figure is read after a pause.
    await new Promise((r) => setTimeout(r, SMOKE ? 2000 : 12000));
    const steady = procStats(a1.pid!);
    record({
      name: `agent RSS with ${size} remote endpoints (steady, ${SMOKE ? 2 : 12} s after)`,
      unit: 'MB',
      median: steady.rssMb,
      p99: steady.rssMb,
      n: 1,
      ...(size === 10000 ? { target: '< 80 MB', met: steady.rssMb < 80 } : {}),
    });
    // RSS counts the node binary's code pages (~42 MB, shared with every node process); this does not.
    record({
      name: `agent private memory (RssAnon) with ${size} remote endpoints (steady)`,
      unit: 'MB',
      median: steady.anonMb,
      p99: steady.anonMb,
      n: 1,
    });
    record({
      name: `agent RSS right after programming ${size} (peak of the run so far)`,
      unit: 'MB',
      median: after.rssMb,
      p99: after.peakMb,
      n: 1,
    });
    record({
      name: `agent CPU to program ${size} remote endpoints`,
      unit: 's',
      median: after.cpuS - before.cpuS,
      p99: NaN,
      n: 1,
    });
    const big = await connectIntoBig(topo, a1, `bg${size}`, N.bigConnect);
    record({
      name: `Connect via gRPC into a network holding ${size} endpoints`,
      unit: 'ms',
      ...big,
      reference: 'Connect via gRPC (fresh network)',
      refMedian: fresh.median,
      refP99: fresh.p99,
      ratio: big.median / fresh.median,
    });
    const single = await singleChanges(kv, a1, bulkNetId, N.bigConnect);
    record({
      name: `the agent's reconcile for one new remote endpoint, network holding ${size}`,
      unit: 'ms',
      ...single.add,
    });
    record({
      name: `the agent's reconcile for one removed remote endpoint, network holding ${size}`,
      unit: 'ms',
      ...single.del,
    });
    if (size === N.scale[N.scale.length - 1] || size === N.restart) {
      // 6. Restart with these entries in place: time to ready, kernel writes when nothing differed.
      // Three restarts: one swung between 0.83 and 1.32 s within an hour on this machine.
      const rs: { readyMs: number; writes: number; steps: Record<string, number> }[] = [];
      for (let i = 0; i < N.restarts; i++) rs.push(await restartFigures(a1, topo.hosts[0].ns));
      const ready = stats(rs.map((r) => r.readyMs));
      const writes = Math.max(...rs.map((r) => r.writes));
      record({
        name: `restart with ${size} remote endpoints: time to ready`,
        unit: 'ms',
        ...ready,
        ...(size <= 10000 ? { target: '< 1000 ms', met: ready.median < 1000 } : {}),
      });
      console.log(
        `     (ms: ${rs.map((r) => round(r.readyMs, 0)).join(', ')}; the agent's steps, ms from its process's start: ${rs
          .map((r) =>
            Object.entries(r.steps)
              .map(([k, v]) => `${k} ${v}`)
              .join(' '),
          )
          .join('; ')})`,
      );
      record({
        name: `restart with ${size} remote endpoints: kernel writes (the most of ${rs.length} restarts)`,
        unit: 'writes',
        median: writes,
        p99: writes,
        n: rs.length,
        target: '0',
        met: writes === 0,
      });
    }
    await delAll(kv, Object.keys(many));
    await waitFor('scale cleanup', async () => (await countEntries('vx-9000')).fdb === 0, 300000, 50);
  }
}

// Connects of fresh namespaces on one host into the bench's big network, one after another (the
// first finds the next free address past every endpoint; the rest start where it stopped), then
// their Disconnects.
async function connectIntoBig(
  topo: Topology,
  a: TestAgent,
  prefix: string,
  count: number,
): Promise<{ median: number; p99: number; n: number }> {
  const boxes = Array.from({ length: count }, (_, i) => topo.container(`${prefix}${i}`));
  const times: number[] = [];
  for (const b of boxes) {
    const t0 = now();
    await a.client.connect({ network: 'bulk', sandbox: b });
    times.push(now() - t0);
  }
  for (const b of boxes) {
    await a.client.disconnect({ network: 'bulk', sandbox: b });
    topo.removeNs(b);
  }
  return stats(times);
}

// Remote endpoints appearing and then going one at a time in the measured agent's big network (a
// Connect and a Disconnect on another host each): the duration of the reconcile each one causes,
// from the agent's own log.
async function singleChanges(
  kv: Etcd3,
  a: TestAgent,
  netId: string,
  count: number,
): Promise<{ add: { median: number; p99: number; n: number }; del: { median: number; p99: number; n: number } }> {
  const eps = Object.entries(fakeEndpoints(netId, 'bulkhost', count, 900000, 1 << 20));
  const runs = async (each: (k: string, v: string) => Promise<unknown>): Promise<number[]> => {
    const from = fs.statSync(a.logFile).size;
    for (const [k, v] of eps) {
      await each(k, v);
      await new Promise((r) => setTimeout(r, 150));
    }
    await new Promise((r) => setTimeout(r, 300));
    return fs
      .readFileSync(a.logFile, 'utf8')
      .slice(from)
      .split('\n')
      .filter((l) => l.includes('"msg":"reconciled"'))
      .map((l) => (JSON.parse(l) as { ms: number }).ms);
  };
  const add = await runs((k, v) => kv.put(k).value(v).exec());
  const del = await runs((k) => kv.delete().key(k).exec());
  return { add: stats(add), del: stats(del) };
}

async function restartFigures(
  a: TestAgent,
  ns: string,
): Promise<{ readyMs: number; writes: number; steps: Record<string, number> }> {
  void ns;
  const logBefore = fs.statSync(a.logFile).size;
  await a.stop('SIGKILL');
  const t0 = now();
  await a.start(60000);
  const readyMs = now() - t0;
  await new Promise((r) => setTimeout(r, 500));
  const fresh = fs.readFileSync(a.logFile, 'utf8').slice(logBefore);
  let writes = 0;
  let steps: Record<string, number> = {};
  for (const line of fresh.split('\n')) {
    // The agent's own account of its start: ms from its process's start to the end of each step.
    if (line.includes('"msg":"ready"')) steps = (JSON.parse(line) as { steps: Record<string, number> }).steps;
    if (!line.includes('"msg":"reconciled"')) continue;
    const ops = (JSON.parse(line) as { ops: string[] }).ops;
    for (const op of ops) writes += Number(/ x(\d+)$/.exec(op)?.[1] ?? 1);
  }
  return { readyMs, writes, steps };
}
