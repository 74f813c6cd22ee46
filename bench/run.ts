// vxnet benchmarks: each figure beside the reference it must beat (or the kernel limit it cannot),
// measured in the same run on the same machine. `npm run bench` (full), `npm run bench -- --smoke`
// (small sizes, run by the test command so that the suite cannot rot). Writes bench/results.json;
// a full run also rewrites the figures table of docs/performance.md.
import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Etcd3 } from 'etcd3';
import { startEtcd, EtcdCluster } from '../test/helpers/etcd';
import { TestAgent, CLI, ROOT } from '../test/helpers/agent';
import { Topology, ping, sh, waitFor } from '../test/helpers/topology';
import { keys } from '../control/store/keys';
import { dockerFigures } from './docker';
import { EntryCounter, EntryMonitor } from './entries';
import { Figure, figures, now, Pinger, record, round, stats } from './figures';
import { performanceBlock, withBlock } from './report';

const SMOKE = process.argv.includes('--smoke');
// Calls made before each timed series and not counted, for vxnet and for the references alike: the
// first calls of a series meet cold caches (a process's JIT, the plugin binary's pages, the CNI
// reference's bridge being created), which a host that has been running does not.
const WARMUP = SMOKE ? 1 : 5;
const N = SMOKE
  ? { attach: 10, converge: 5, bulk: 500, bulkRounds: 1, scale: [1000], iperfS: 1, restart: 500, restarts: 1, cni: 10, docker: 3, bigConnect: 3 }
  : { attach: 100, converge: 50, bulk: 10000, bulkRounds: 3, scale: [10000, 50000], iperfS: 5, restart: 10000, restarts: 3, cni: 100, docker: 30, bigConnect: 20 };

function timeCmd(cmd: string, args: string[], input?: string, env?: NodeJS.ProcessEnv): { ms: number; out: string; code: number | null } {
  const t0 = now();
  const r = spawnSync(cmd, args, { input, env: env ?? process.env, encoding: 'utf8', timeout: 60000 });
  return { ms: now() - t0, out: `${r.stdout}${r.stderr}`, code: r.status };
}

// A netlink monitor inside a namespace: resolves when a neighbor message for `mac` arrives.
// Neighbor entries as they appear in a host's kernel, stamped by `ip -ts monitor neigh`: a process
// of its own, so that the stamp is when the kernel announced the entry. A netlink socket in this
// process was read only when its event loop was free, and it was not while it forked the ping that
// the first-ping figure starts right after each Connect (~20 ms on this machine): a third of the
// convergence time the bench reported was its own fork.
function monitor(ns: string): { proc: ChildProcess; ready: Promise<void>; waitMac: (mac: string) => Promise<number> } {
  const proc = spawn('ip', ['-n', ns, '-ts', 'monitor', 'neigh'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const seen = new Map<string, number>();
  const waiters = new Map<string, (t: number) => void>();
  let buf = '';
  proc.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const line of lines) {
      // "[2026-11-25T10:57:26.592277] 10.9.9.9 dev vx-4096 lladdr 02:43:00:00:00:09 PERMANENT": the
      // IPv4 neighbor entry, which the agent writes after the FDB entry, marks both present.
      const m = /^\[(\S+)\] \d+\.\d+\.\d+\.\d+ dev \S+ lladdr ([0-9a-f:]+)/.exec(line);
      if (!m) continue;
      const t = now() - (Date.now() - Date.parse(`${m[1]}Z`)); // its wall clock, onto our monotonic one
      if (!seen.has(m[2])) seen.set(m[2], t);
      waiters.get(m[2])?.(t);
    }
  });
  return {
    proc,
    ready: new Promise((r) => setTimeout(r, 1000)), // ip subscribes as it starts: milliseconds, given a second
    waitMac: (mac) => new Promise((resolve, reject) => {
      const t = seen.get(mac);
      if (t !== undefined) return resolve(t);
      const timer = setTimeout(() => reject(new Error(`no neighbor message for ${mac} in ${ns}`)), 5000);
      waiters.set(mac, (tt) => {
        clearTimeout(timer);
        resolve(tt);
      });
    }),
  };
}

function procStats(pid: number): { rssMb: number; peakMb: number; anonMb: number; cpuS: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const anon = Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  const peak = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const tick = 100;
  return { rssMb: rss, peakMb: peak, anonMb: anon, cpuS: (Number(stat[11]) + Number(stat[12])) / tick };
}

// Endpoints of the bench's network 10.64.0.0/10 as if from another host: ids and MACs from `base`,
// addresses from 10.64.0.0 + `ipBase` up.
function fakeEndpoints(netId: string, host: string, count: number, base: number, ipBase: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const n = base + i;
    const a = ipBase + i;
    const ip = `10.${64 + ((a >> 16) & 0x3f)}.${(a >> 8) & 255}.${a & 255}`;
    const mac = `02:43:${[(n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
    const id = `${n.toString(16).padStart(8, '0')}${'e'.repeat(56)}`;
    out[keys.endpoint(netId, id)] = JSON.stringify({ id, networkId: netId, name: `bulk-${n}`, host, sandbox: `/run/netns/bulk-${n}`, ifname: 'eth0', mac, ipv4: `${ip}/10`, ipv6: '', aliases: [], created: '' });
  }
  return out;
}

async function putAll(kv: Etcd3, entries: Record<string, string>): Promise<void> {
  const list = Object.entries(entries);
  for (let i = 0; i < list.length; i += 5000) {
    const chunk = list.slice(i, i + 5000);
    await kv.kv.txn({ compare: [], success: chunk.map(([k, v]) => ({ request_put: { key: Buffer.from(k), value: Buffer.from(v) } })), failure: [] });
  }
}
async function delAll(kv: Etcd3, keyList: string[]): Promise<void> {
  for (let i = 0; i < keyList.length; i += 5000) {
    await kv.kv.txn({ compare: [], success: keyList.slice(i, i + 5000).map((k) => ({ request_delete_range: { key: Buffer.from(k) } })), failure: [] });
  }
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

async function main(): Promise<void> {
  console.log(`vxnet bench${SMOKE ? ' (smoke: small sizes)' : ''} on ${os.cpus().length} cores, kernel ${os.release()}, node ${process.version}`);
  let etcd: EtcdCluster | undefined;
  let topo: Topology | undefined;
  const agents: TestAgent[] = [];
  const cleanups: (() => void)[] = [];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.reverse()) try { c(); } catch { /* best effort */ }
    await Promise.all(agents.map((a) => a.stop('SIGKILL')));
    agents.forEach((a) => a.cleanup());
    topo?.destroy();
    await etcd?.stop();
  };
  process.on('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    etcd = await startEtcd(1, undefined, ['--max-txn-ops', '20000', '--max-request-bytes', '33554432', '--quota-backend-bytes', '4294967296']);
    const kv = etcd.client();
    cleanups.push(() => kv.close());
    topo = new Topology(3);
    for (const h of topo.hosts) agents.push(new TestAgent({ name: h.name, etcd: etcd.unixUrls, vtep: h.vtep, netns: h.ns, leaseTtl: 10, resyncInterval: 600, extra: ['--log-level', 'info', '--metrics', '127.0.0.1:9476'] }));
    await Promise.all(agents.map((a) => a.start(30000)));
    const [a1, a2] = agents;
    const counter = new EntryCounter(topo.hosts[0].ns);
    cleanups.push(() => counter.close());
    const countEntries = (dev: string): Promise<{ fdb: number; neigh: number }> => counter.count(dev);

    // 1. Attach latency through the API, against the CNI reference bridge plugin + host-local.
    console.log('\n1. attach latency (one host)');
    await a1.client.create({ name: 'attach', ipamConfig: [{ subnet: '10.210.0.0/16' }] });
    const boxes = Array.from({ length: N.attach }, (_, i) => topo!.container(`at${i}`));
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
    const extra = Array.from({ length: 10 }, (_, i) => topo!.container(`atx${i}`));
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
    record({ name: 'Connect via gRPC', unit: 'ms', ...su, reference: 'CNI bridge+host-local ADD', refMedian: cni.add.median, refP99: cni.add.p99, ratio: su.median / cni.add.median, target: 'p50 <= 0.5x, p99 <= 1x', met: su.median <= 0.5 * cni.add.median && su.p99 <= cni.add.p99 });
    const sd = stats(down);
    record({ name: 'Disconnect via gRPC', unit: 'ms', ...sd, reference: 'CNI bridge+host-local DEL', refMedian: cni.del.median, refP99: cni.del.p99, ratio: sd.median / cni.del.median });
    record({ name: 'etcd requests per Connect (mean of 10)', unit: 'requests', median: perConnect, p99: NaN, n: 10 });
    const cliTimes: number[] = [];
    const nodeTimes: number[] = [];
    for (let i = 0; i < Math.min(10, N.attach); i++) {
      cliTimes.push(timeCmd(process.execPath, [CLI, '-H', `unix://${a1.socket}`, 'network', 'connect', 'attach', boxes[i]]).ms);
      nodeTimes.push(timeCmd(process.execPath, ['-e', '0']).ms);
      spawnSync(process.execPath, [CLI, '-H', `unix://${a1.socket}`, 'network', 'disconnect', 'attach', boxes[i]]);
    }
    record({ name: 'Connect via the CLI', unit: 'ms', ...stats(cliTimes), reference: 'bare node start', refMedian: stats(nodeTimes).median, refP99: stats(nodeTimes).p99, ratio: stats(cliTimes).median / stats(nodeTimes).median });
    for (const b of boxes) topo.removeNs(b);
    for (const x of extra) topo.removeNs(x);
    // Like the reference's bridge, the network's devices exist already (another container is on it).
    await a1.client.connect({ network: 'attach', sandbox: topo.container('anchor') });
    const vxCni = vxnetCni(topo, a1, N.cni);
    record({ name: 'CNI ADD through the vxnet plugin', unit: 'ms', ...vxCni.add, reference: 'CNI bridge+host-local ADD', refMedian: cni.add.median, refP99: cni.add.p99, ratio: vxCni.add.median / cni.add.median, target: 'p50 <= reference p50', met: vxCni.add.median <= cni.add.median });
    record({ name: 'CNI DEL through the vxnet plugin', unit: 'ms', ...vxCni.del, reference: 'CNI bridge+host-local DEL', refMedian: cni.del.median, refP99: cni.del.p99, ratio: vxCni.del.median / cni.del.median });

    // 2. Cross-host convergence: Connect on h1 -> entries on h2 and h3 (netlink monitor), first ping from h2.
    console.log('\n2. cross-host convergence (3 hosts)');
    await a1.client.create({ name: 'conv', ipamConfig: [{ subnet: '10.211.0.0/16' }] });
    const peerBox = topo.container('cvp');
    await a2.client.connect({ network: 'conv', sandbox: peerBox });
    await agents[2].client.connect({ network: 'conv', sandbox: topo.container('cvq') });
    const m2 = monitor(topo.hosts[1].ns);
    const m3 = monitor(topo.hosts[2].ns);
    const pingFrom = new Pinger(peerBox);
    cleanups.push(() => { m2.proc.kill(); m3.proc.kill(); pingFrom.close(); });
    await Promise.all([m2.ready, m3.ready, pingFrom.ready]);
    const conv: number[] = [];
    const firstPing: number[] = [];
    for (let i = 0; i < N.converge; i++) {
      const b = topo.container(`cv${i}`);
      const t0 = now();
      const r = await a1.client.connect({ network: 'conv', sandbox: b });
      const tReturn = now();
      const mac = r.endpoint!.macAddress;
      const ip = r.endpoint!.ipv4Address.split('/')[0];
      const pinger = pingFrom.first(ip);
      const [t2, t3] = await Promise.all([m2.waitMac(mac), m3.waitMac(mac)]);
      conv.push(Math.max(t2, t3) - t0);
      const tReply = await pinger;
      firstPing.push(tReply - tReturn);
    }
    const sc = stats(conv);
    record({ name: 'Connect -> FDB+neighbor on both peers', unit: 'ms', ...sc, target: 'p99 < 50 ms', met: sc.p99 < 50 });
    const sp = stats(firstPing);
    record({ name: 'Connect returned -> first ping reply from a peer', unit: 'ms', ...sp, target: 'p99 < 50 ms', met: sp.p99 < 50 });
    // The same with Connect's wait: it answers once every peer serving the network has programmed
    // the endpoint, so the first ARP a peer sends is answered.
    const waited: number[] = [];
    const firstPingWait: number[] = [];
    for (let i = 0; i < N.converge; i++) {
      const b = topo.container(`cw${i}`);
      const t0 = now();
      const r = await a1.client.connect({ network: 'conv', sandbox: b, wait: true });
      const tReturn = now();
      waited.push(tReturn - t0);
      firstPingWait.push((await pingFrom.first(r.endpoint!.ipv4Address.split('/')[0])) - tReturn);
    }
    record({ name: 'Connect with wait (answers when all peers are programmed)', unit: 'ms', ...stats(waited) });
    const sw = stats(firstPingWait);
    record({ name: 'Connect with wait returned -> first ping reply from a peer', unit: 'ms', ...sw, target: 'p99 < 50 ms', met: sw.p99 < 50 });

    // 3. Bulk programming: N remote endpoints appear in etcd / disappear, against ip -batch + bridge -batch.
    console.log(`\n3. bulk programming (${N.bulk} remote endpoints = ${2 * N.bulk} kernel entries)`);
    const bulkNet = await a1.client.create({ name: 'bulk', ipamConfig: [{ subnet: '10.64.0.0/10' }], options: { vxlanid: '9000' } });
    const anchor = topo.container('bk0');
    await a1.client.connect({ network: 'bulk', sandbox: anchor });
    await kv.put(keys.host('bulkhost')).value(JSON.stringify({ name: 'bulkhost', vtep: '192.168.231.99', vxlanPort: 4789, underlayMtu: 1500, version: 'bench', started: new Date().toISOString() }));
    const eps = fakeEndpoints(bulkNet.id, 'bulkhost', N.bulk, 1, 36 << 16);
    // Timed from the moment the endpoints exist in etcd (the write committed) to the kernel's
    // announcement of the last entry, and back. Rounds, because one swings with where etcd's
    // delivery falls against the writer's own answer; a pause between them, so that each starts from
    // an agent at rest (it has given its memory back, agent/memory.ts).
    const entries = new EntryMonitor(topo.hosts[0].ns, 'vx-9000');
    cleanups.push(() => entries.close());
    await entries.ready;
    const present = async (): Promise<boolean> => { const c = await countEntries('vx-9000'); return c.fdb >= N.bulk && c.neigh >= N.bulk; };
    const gone = async (): Promise<boolean> => { const c = await countEntries('vx-9000'); return c.fdb === 0 && c.neigh === 0; };
    const bulkRounds = async (pausePeers: boolean): Promise<{ adds: number[]; dels: number[]; writes: number[] }> => {
      const out = { adds: [] as number[], dels: [] as number[], writes: [] as number[] };
      const timed = async (write: () => Promise<void>, kind: 'added' | 'deleted', done: () => Promise<boolean>): Promise<number> => {
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
    const refs = Array.from({ length: N.bulkRounds }, () => ipBatchReference(topo!.hosts[0].ns, eps));
    const rate = (ms: number): number => (2 * N.bulk) / (ms / 1000);
    const [add, del] = [stats(solo.adds), stats(solo.dels)];
    const [refAdd, refDel] = [stats(refs.map((x) => x.addMs)), stats(refs.map((x) => x.delMs))];
    const list = (xs: number[]): string => xs.map((x) => round(x, 0)).join(', ');
    record({ name: 'bulk add (committed in etcd -> watch -> kernel)', unit: 'entries/s', median: rate(add.median), p99: rate(add.p99), n: add.n, reference: 'ip -batch + bridge -batch', refMedian: rate(refAdd.median), refP99: rate(refAdd.p99), ratio: refAdd.median / add.median, target: '>= 3x', met: refAdd.median / add.median >= 3 });
    console.log(`     (from commit to kernel, ms: ${list(solo.adds)}; writing them to etcd took ${list(solo.writes)} ms more; ip -batch: ${list(refs.map((x) => x.addMs))})`);
    record({ name: 'bulk delete', unit: 'entries/s', median: rate(del.median), p99: rate(del.p99), n: del.n, reference: 'ip -batch + bridge -batch', refMedian: rate(refDel.median), refP99: rate(refDel.p99), ratio: refDel.median / del.median, target: '>= 3x', met: refDel.median / del.median >= 3 });
    console.log(`     (ms: ${list(solo.dels)}; ip -batch: ${list(refs.map((x) => x.delMs))})`);
    // The same with the two peers' agents running: on this machine they decode the same events on
    // the same two cores as the measured agent, which real hosts do on CPUs of their own.
    const [addShared, delShared] = [stats(shared.adds), stats(shared.dels)];
    record({ name: 'bulk add, the two peer agents running on the same cores', unit: 'entries/s', median: rate(addShared.median), p99: rate(addShared.p99), n: addShared.n, reference: 'ip -batch + bridge -batch', refMedian: rate(refAdd.median), refP99: rate(refAdd.p99), ratio: refAdd.median / addShared.median });
    record({ name: 'bulk delete, the two peer agents running on the same cores', unit: 'entries/s', median: rate(delShared.median), p99: rate(delShared.p99), n: delShared.n, reference: 'ip -batch + bridge -batch', refMedian: rate(refDel.median), refP99: rate(refDel.p99), ratio: refDel.median / delShared.median });
    console.log(`     (add ms: ${list(shared.adds)}; delete ms: ${list(shared.dels)}; ${entries.fallbacks} of ${4 * N.bulkRounds} waits ended by a periodic dump, not the announcements; ${entries.lost} reads after lost announcements)`);

    // 4. Scale of the agent: RSS and CPU with N remote endpoints in its networks.
    console.log('\n4. agent scale');
    for (const size of N.scale) {
      // From the subnet's bottom up, as allocation fills a network: a Connect must find the next free
      // address past all of them (the anchor holds 10.64.0.2).
      const many = fakeEndpoints(bulkNet.id, 'bulkhost', size, 100000, 3);
      const before = procStats(a1.pid!);
      await putAll(kv, many);
      // Both kinds: the restart below must find the kernel complete, not cut a reconcile short.
      await waitFor(`scale ${size}`, async () => { const c = await countEntries('vx-9000'); return c.fdb >= size && c.neigh >= size; }, 300000, 50);
      const after = procStats(a1.pid!);
      // Held for good once the burst's garbage is gone: V8 gives its heap back after some seconds
      // of quiet (its memory reducer), so the steady figure is read after a pause.
      await new Promise((r) => setTimeout(r, SMOKE ? 2000 : 12000));
      const steady = procStats(a1.pid!);
      record({ name: `agent RSS with ${size} remote endpoints (steady, ${SMOKE ? 2 : 12} s after)`, unit: 'MB', median: steady.rssMb, p99: steady.rssMb, n: 1, ...(size === 10000 ? { target: '< 80 MB', met: steady.rssMb < 80 } : {}) });
      // RSS counts the node binary's code pages (~42 MB, shared with every node process); this does not.
      record({ name: `agent private memory (RssAnon) with ${size} remote endpoints (steady)`, unit: 'MB', median: steady.anonMb, p99: steady.anonMb, n: 1 });
      record({ name: `agent RSS right after programming ${size} (peak of the run so far)`, unit: 'MB', median: after.rssMb, p99: after.peakMb, n: 1 });
      record({ name: `agent CPU to program ${size} remote endpoints`, unit: 's', median: after.cpuS - before.cpuS, p99: NaN, n: 1 });
      const big = await connectIntoBig(topo, a1, `bg${size}`, N.bigConnect);
      record({ name: `Connect via gRPC into a network holding ${size} endpoints`, unit: 'ms', ...big, reference: 'Connect via gRPC (fresh network)', refMedian: su.median, refP99: su.p99, ratio: big.median / su.median });
      const single = await singleChanges(kv, a1, bulkNet.id, N.bigConnect);
      record({ name: `the agent's reconcile for one new remote endpoint, network holding ${size}`, unit: 'ms', ...single.add });
      record({ name: `the agent's reconcile for one removed remote endpoint, network holding ${size}`, unit: 'ms', ...single.del });
      if (size === N.scale[N.scale.length - 1] || size === N.restart) {
        // 6. Restart with these entries in place: time to ready, kernel writes when nothing differed.
        // Three restarts: one swung between 0.83 and 1.32 s within an hour on this machine.
        const rs: { readyMs: number; writes: number; steps: Record<string, number> }[] = [];
        for (let i = 0; i < N.restarts; i++) rs.push(await restartFigures(a1, topo.hosts[0].ns));
        const ready = stats(rs.map((r) => r.readyMs));
        const writes = Math.max(...rs.map((r) => r.writes));
        record({ name: `restart with ${size} remote endpoints: time to ready`, unit: 'ms', ...ready, ...(size <= 10000 ? { target: '< 1000 ms', met: ready.median < 1000 } : {}) });
        console.log(`     (ms: ${rs.map((r) => round(r.readyMs, 0)).join(', ')}; the agent's steps, ms from its process's start: ${rs.map((r) => Object.entries(r.steps).map(([k, v]) => `${k} ${v}`).join(' ')).join('; ')})`);
        record({ name: `restart with ${size} remote endpoints: kernel writes (the most of ${rs.length} restarts)`, unit: 'writes', median: writes, p99: writes, n: rs.length, target: '0', met: writes === 0 });
      }
      await delAll(kv, Object.keys(many));
      await waitFor('scale cleanup', async () => (await countEntries('vx-9000')).fdb === 0, 300000, 50);
    }

    // 5. Data plane: iperf3 over vxnet vs a hand-built VXLAN pair vs the plain underlay.
    console.log('\n5. data plane throughput (iperf3 TCP)');
    dataPlane(topo, a1, a2, N.iperfS).forEach(record);
  } finally {
    await stop();
  }
  console.log('\n7. Docker 20.10: the vxnet plugin against Docker\'s own overlay driver (2 hosts, etcd cluster store)');
  await dockerFigures(N.docker);
  const out = { machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, kernel: os.release(), node: process.version, smoke: SMOKE, date: new Date().toISOString() }, figures };
  fs.mkdirSync(path.join(ROOT, 'bench'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench', 'results.json'), JSON.stringify(out, null, 2) + '\n');
  console.log(`\nwrote bench/results.json (${figures.length} figures)`);
  // Only a full run's figures describe vxnet; the smoke run's small sizes would replace them.
  if (!SMOKE) {
    const doc = path.join(ROOT, 'docs', 'performance.md');
    fs.writeFileSync(doc, withBlock(fs.readFileSync(doc, 'utf8'), performanceBlock(out)));
    console.log('wrote the figures table of docs/performance.md');
  }
  const missed = figures.filter((f) => f.target && !f.met);
  console.log(missed.length ? `targets not met: ${missed.map((f) => f.name).join('; ')}` : 'every target met');
}

// Connects of fresh namespaces on one host into the bench's big network, one after another (the
// first finds the next free address past every endpoint; the rest start where it stopped), then
// their Disconnects.
async function connectIntoBig(topo: Topology, a: TestAgent, prefix: string, count: number): Promise<{ median: number; p99: number; n: number }> {
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
async function singleChanges(kv: Etcd3, a: TestAgent, netId: string, count: number): Promise<{ add: { median: number; p99: number; n: number }; del: { median: number; p99: number; n: number } }> {
  const eps = Object.entries(fakeEndpoints(netId, 'bulkhost', count, 900000, 1 << 20));
  const runs = async (each: (k: string, v: string) => Promise<unknown>): Promise<number[]> => {
    const from = fs.statSync(a.logFile).size;
    for (const [k, v] of eps) {
      await each(k, v);
      await new Promise((r) => setTimeout(r, 150));
    }
    await new Promise((r) => setTimeout(r, 300));
    return fs.readFileSync(a.logFile, 'utf8').slice(from).split('\n').filter((l) => l.includes('"msg":"reconciled"')).map((l) => (JSON.parse(l) as { ms: number }).ms);
  };
  const add = await runs((k, v) => kv.put(k).value(v).exec());
  const del = await runs((k) => kv.delete().key(k).exec());
  return { add: stats(add), del: stats(del) };
}

// The agent's own count of etcd requests, from its metrics inside the host's namespace.
async function etcdRequests(ns: string): Promise<number> {
  const js = `require('http').get('http://127.0.0.1:9476/metrics',r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>process.stdout.write(b))})`;
  const text = execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', js], { encoding: 'utf8', timeout: 10000 });
  return Promise.resolve(Number(/^vxnet_etcd_requests_total (\S+)$/m.exec(text)?.[1] ?? NaN));
}

// ADD and DEL timed as a runtime calls a plugin: in the runtime's (host's) namespace, entered by ip
// netns exec, whose own cost (measured apart) is taken off each call.
function cniTimes(topo: Topology, plugin: string, conf: string, prefix: string, n: number): { add: ReturnType<typeof stats>; del: ReturnType<typeof stats> } {
  const host = topo.hosts[0].ns;
  const enter = (cmd: string[], input?: string, env?: NodeJS.ProcessEnv) => timeCmd('ip', ['netns', 'exec', host, ...cmd], input, env);
  const base = stats(Array.from({ length: 20 }, () => enter(['/bin/true']).ms)).median;
  const add: number[] = [];
  const del: number[] = [];
  for (let i = 0; i < WARMUP + n; i++) {
    const c = topo.container(`${prefix}${i}`);
    const env = { ...process.env, CNI_COMMAND: 'ADD', CNI_CONTAINERID: `${prefix}bench${i}`, CNI_NETNS: `/run/netns/${c}`, CNI_IFNAME: 'eth0', CNI_PATH: path.dirname(plugin) };
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
  if (!plugin) throw new Error('the CNI reference plugins are not installed (apt-get install containernetworking-plugins)');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vxt-cni-'));
  const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'benchref', type: 'bridge', bridge: 'cnibr0', isGateway: true, ipam: { type: 'host-local', subnet: '10.212.0.0/16', dataDir } });
  try {
    return cniTimes(topo, plugin, conf, 'cr', n);
  } finally {
    sh('ip', ['-n', topo.hosts[0].ns, 'link', 'del', 'cnibr0'], { allowFail: true });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

// vxnet's own CNI plugin called exactly as the reference is.
function vxnetCni(topo: Topology, agent: TestAgent, n: number): { add: ReturnType<typeof stats>; del: ReturnType<typeof stats> } {
  const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'attach', type: 'vxnet', network: 'attach', agent: path.join(agent.dir, 'cni.sock') });
  return cniTimes(topo, path.join(ROOT, 'native', 'build', 'Release', 'vxnet-cni'), conf, 'vc', n);
}

function ipBatchReference(ns: string, eps: Record<string, string>): { addMs: number; delMs: number } {
  sh('ip', ['-n', ns, 'link', 'add', 'vxbench0', 'type', 'vxlan', 'id', '9999', 'local', '192.168.231.11', 'dstport', '4790', 'nolearning', 'proxy']);
  sh('ip', ['-n', ns, 'link', 'set', 'vxbench0', 'up']);
  try {
    const recs = Object.values(eps).map((v) => JSON.parse(v) as { mac: string; ipv4: string });
    const fdbAdd = recs.map((r) => `fdb add ${r.mac} dev vxbench0 dst 192.168.231.99 self permanent`).join('\n') + '\n';
    const neighAdd = recs.map((r) => `neigh add ${r.ipv4.split('/')[0]} lladdr ${r.mac} dev vxbench0 nud permanent`).join('\n') + '\n';
    const fdbDel = recs.map((r) => `fdb del ${r.mac} dev vxbench0 dst 192.168.231.99 self`).join('\n') + '\n';
    const neighDel = recs.map((r) => `neigh del ${r.ipv4.split('/')[0]} dev vxbench0`).join('\n') + '\n';
    const addMs = timeCmd('bridge', ['-n', ns, '-batch', '-'], fdbAdd).ms + timeCmd('ip', ['-n', ns, '-batch', '-'], neighAdd).ms;
    const delMs = timeCmd('bridge', ['-n', ns, '-batch', '-'], fdbDel).ms + timeCmd('ip', ['-n', ns, '-batch', '-'], neighDel).ms;
    return { addMs, delMs };
  } finally {
    sh('ip', ['-n', ns, 'link', 'del', 'vxbench0'], { allowFail: true });
  }
}

async function restartFigures(a: TestAgent, ns: string): Promise<{ readyMs: number; writes: number; steps: Record<string, number> }> {
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

function iperf(serverNs: string, clientNs: string, ip: string, seconds: number): number {
  const srv = spawn('ip', ['netns', 'exec', serverNs, 'iperf3', '-s', '-1', '-B', ip], { stdio: 'ignore' });
  try {
    execFileSync('sleep', ['0.3']);
    const out = execFileSync('ip', ['netns', 'exec', clientNs, 'iperf3', '-c', ip, '-t', String(seconds), '-J'], { encoding: 'utf8', timeout: (seconds + 20) * 1000 });
    return (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e9;
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
  spawnSync(process.execPath, [CLI, '-H', `unix://${a1.socket}`, 'network', 'create', '--subnet', '10.213.0.0/24', 'perf']);
  spawnSync(process.execPath, [CLI, '-H', `unix://${a1.socket}`, 'network', 'connect', 'perf', x]);
  spawnSync(process.execPath, [CLI, '-H', `unix://${a2.socket}`, 'network', 'connect', 'perf', y]);
  // Idle neighbours of the sender on its network, on both paths, as a host has them: a bridge that
  // floods frames for remote containers copies every one to each of them.
  for (let i = 0; i < NEIGHBOURS; i++) spawnSync(process.execPath, [CLI, '-H', `unix://${a1.socket}`, 'network', 'connect', 'perf', topo.container(`ipn${i}`)]);
  const yIp = /inet (\S+)\//.exec(sh('ip', ['-n', y, '-4', '-o', 'addr', 'show', 'dev', 'eth0']))![1];
  spawnSync('sh', ['-c', `for i in 1 2 3 4 5 6 7 8 9 10; do ip netns exec ${x} ping -c1 -W1 ${yIp} >/dev/null && break; done`]);
  // The same topology built by hand with ip (container -> veth -> bridge -> VXLAN -> underlay),
  // same MTU, between two fresh host namespaces on the same underlay.
  const hA = topo.addHost('pa', '192.168.231.31');
  const hB = topo.addHost('pb', '192.168.231.32');
  const cA = topo.container('pca');
  const cB = topo.container('pcb');
  for (const [h, c, local, remote, addr] of [[hA, cA, '192.168.231.31', '192.168.231.32', '10.214.0.1'], [hB, cB, '192.168.231.32', '192.168.231.31', '10.214.0.2']] as const) {
    sh('ip', ['-n', h.ns, 'link', 'add', 'brm', 'mtu', '1450', 'type', 'bridge']);
    sh('ip', ['-n', h.ns, 'link', 'add', 'vxm', 'mtu', '1450', 'master', 'brm', 'type', 'vxlan', 'id', '4242', 'local', local, 'remote', remote, 'dstport', '4789']);
    sh('ip', ['-n', h.ns, 'link', 'add', 'vem', 'mtu', '1450', 'master', 'brm', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', c, 'mtu', '1450']);
    for (const d of ['brm', 'vxm', 'vem']) sh('ip', ['-n', h.ns, 'link', 'set', d, 'up']);
    sh('ip', ['-n', c, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
    sh('ip', ['-n', c, 'link', 'set', 'eth0', 'up']);
  }
  for (let i = 0; i < NEIGHBOURS; i++) {
    const n = topo.container(`pn${i}`);
    sh('ip', ['-n', hA.ns, 'link', 'add', `ven${i}`, 'mtu', '1450', 'master', 'brm', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n, 'mtu', '1450']);
    sh('ip', ['-n', hA.ns, 'link', 'set', `ven${i}`, 'up']);
    sh('ip', ['-n', n, 'addr', 'add', `10.214.0.${10 + i}/24`, 'dev', 'eth0']);
    sh('ip', ['-n', n, 'link', 'set', 'eth0', 'up']);
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
  out.push({ name: `TCP throughput over vxnet (container to container, 2 hosts, ${NEIGHBOURS} idle neighbours on the sender's network)`, unit: 'Gbit/s', ...vx, reference: 'the same built by hand with ip', refMedian: hand.median, refP99: hand.p99, ratio: vx.median / hand.median, target: '>= 95%', met: vx.median / hand.median >= 0.95 });
  out.push({ name: 'TCP throughput over the plain underlay veth path', unit: 'Gbit/s', ...plain });
  return out;
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`bench failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
