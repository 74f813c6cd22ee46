import * as assert from 'assert';
import { spawn } from 'child_process';
import * as path from 'path';
import type { Etcd3 } from 'etcd3';
import { startCluster, stopCluster, printLogsIfFailed, TestCluster } from '../helpers/cluster';
import { TestAgent, ROOT } from '../helpers/agent';
import { Topology, ping, sh, waitFor } from '../helpers/topology';

// Every check here runs with the periodic resync out of reach (an hour): a change that reaches a
// kernel only through the resync fails them. What converges, converges on its own triggers.
const RESYNC_S = 3600;
const CONVERGE_MS = 1000;
const SHIM = path.join(ROOT, 'native', 'build', 'Release', 'vxnet-cni');

interface Ep { id: string; networkId: string; host: string; mac: string; ipv4: string }
interface Live { host: number; net: string; box: string; via: 'grpc' | 'cni'; cniId?: string }

// Deterministic: a failure names its seed.
function rng(seed: number): () => number {
  let x = seed * 2654435761;
  return () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32);
}

// The CNI plugin as a runtime runs it, without blocking the event loop (calls run concurrently).
function cniCall(hostNs: string, cmd: string, id: string, netns: string, conf: unknown): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', hostNs, SHIM], {
      env: { PATH: process.env.PATH ?? '', CNI_COMMAND: cmd, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: path.dirname(SHIM) },
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), 20000);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
    p.stdin.end(JSON.stringify(conf));
  });
}

describe('convergence on its own triggers (periodic resync an hour away): concurrent Connects and Disconnects', function () {
  this.timeout(300000);
  let cl: TestCluster | undefined;
  let kv: Etcd3;
  let topo: Topology;
  let agents: TestAgent[] = [];
  const vnis = new Map<string, number>(); // network name -> VNI
  const ids = new Map<string, string>();  // network name -> ID
  let worstMs = 0;

  before(async () => {
    cl = await startCluster({ hosts: 3, agent: { resyncInterval: RESYNC_S } });
    ({ kv, topo, agents } = cl);
  });
  after(async () => {
    if (worstMs) console.log(`      measured: slowest convergence after a burst ${worstMs} ms (bound ${CONVERGE_MS} ms)`);
    await stopCluster(cl);
  });
  afterEach(function () {
    printLogsIfFailed(this.currentTest, cl, 20);
  });

  async function createNet(name: string, subnet: string): Promise<void> {
    const n = await agents[0].client.create({ name, ipamConfig: [{ subnet }] });
    vnis.set(name, n.vni);
    ids.set(name, n.id);
  }

  // What every host's kernel must hold, from etcd itself (not from any agent's view): a network's
  // devices exactly where it has a local endpoint, and there an FDB entry toward the VTEP and a
  // neighbor entry for every endpoint of the other hosts.
  async function mismatches(): Promise<string[]> {
    const eps = Object.values(await kv.getAll().prefix('/vxnet/v1/endpoints/').strings()).map((v) => JSON.parse(v) as Ep);
    const hosts = new Map(Object.values(await kv.getAll().prefix('/vxnet/v1/hosts/').strings()).map((v) => { const h = JSON.parse(v) as { name: string; vtep: string }; return [h.name, h.vtep]; }));
    const out: string[] = [];
    for (const [name, vni] of vnis) {
      const mine = eps.filter((e) => e.networkId === ids.get(name));
      for (const h of topo.hosts) {
        const local = mine.some((e) => e.host === h.name);
        const links = sh('ip', ['-n', h.ns, '-o', 'link', 'show', 'dev', `vx-${vni}`], { allowFail: true });
        if (!local) {
          if (links) out.push(`${h.name}: vx-${vni} present without a local endpoint`);
          continue;
        }
        if (!links) {
          out.push(`${h.name}: vx-${vni} missing`);
          continue;
        }
        const want = mine.filter((e) => e.host !== h.name).map((e) => `${e.mac} ${hosts.get(e.host) ?? '?'}`).sort();
        const fdb = sh('bridge', ['-n', h.ns, 'fdb', 'show', 'dev', `vx-${vni}`]).split('\n').map((l) => /^(\S+) dst (\S+)/.exec(l)).filter((m) => m).map((m) => `${m![1]} ${m![2]}`).sort();
        if (JSON.stringify(fdb) !== JSON.stringify(want)) out.push(`${h.name} vx-${vni} fdb ${JSON.stringify(fdb)}, etcd says ${JSON.stringify(want)}`);
        const wantNeigh = mine.filter((e) => e.host !== h.name).map((e) => `${e.ipv4.split('/')[0]} ${e.mac}`).sort();
        const neigh = sh('ip', ['-n', h.ns, 'neigh', 'show', 'dev', `vx-${vni}`, 'nud', 'permanent']).split('\n').map((l) => /^(\S+) lladdr (\S+)/.exec(l)).filter((m) => m).map((m) => `${m![1]} ${m![2]}`).sort();
        if (JSON.stringify(neigh) !== JSON.stringify(wantNeigh)) out.push(`${h.name} vx-${vni} neigh ${JSON.stringify(neigh)}, etcd says ${JSON.stringify(wantNeigh)}`);
      }
    }
    return out;
  }

  async function converged(what: string): Promise<number> {
    let last: string[] = [];
    const took = await waitFor(what, async () => (last = await mismatches()).length === 0, CONVERGE_MS, 25).catch((err: Error) => {
      throw new Error(`${err.message}:\n  ${last.join('\n  ')}`);
    });
    worstMs = Math.max(worstMs, took);
    // The agents' own diff (vxnet doctor) agrees: nothing left to do on any host.
    for (const a of agents) assert.deepStrictEqual((await a.client.doctor({})).differences, [], `vxnet doctor on ${a.opts.name}`);
    return took;
  }

  it('the reported case: a host\'s first endpoints of a network, attached at once, reach the other host at once (3 rounds)', async () => {
    for (let round = 0; round < 3; round++) {
      const name = `first${round}`;
      await createNet(name, `10.90.${round}.0/24`);
      const a = topo.container(`f${round}a`);
      const ra = await agents[0].client.connect({ network: name, sandbox: a });
      const aIp = ra.endpoint!.ipv4Address.split('/')[0];
      const bs = [0, 1, 2].map((i) => topo.container(`f${round}b${i}`));
      await Promise.all(bs.map((b) => agents[1].client.connect({ network: name, sandbox: b })));
      await converged(`round ${round}: both hosts programmed`);
      for (const b of bs) assert.ok(ping(b, aIp), `round ${round}: ${b} reaches ${aIp} on the other host`);
    }
  });

  const SEEDS = 10;
  let live: Live[] = [];
  let boxes = 0;
  before(async () => {
    await createNet('rnd-a', '10.91.0.0/24');
    await createNet('rnd-b', '10.92.0.0/24');
  });

  // One operation of a burst: a Connect by gRPC or CNI into a new namespace, or the Disconnect of a
  // live endpoint by the way it came. Few endpoints per host and network, so that first and last
  // endpoints of a network on a host come and go all the time.
  async function randomOp(r: () => number, taken: Set<Live>): Promise<void> {
    const candidates = live.filter((l) => !taken.has(l));
    if (candidates.length && r() < Math.min(0.75, candidates.length / 8)) {
      const l = candidates[Math.floor(r() * candidates.length)];
      taken.add(l);
      if (l.via === 'cni') {
        const res = await cniCall(topo.hosts[l.host].ns, 'DEL', l.cniId!, `/run/netns/${l.box}`, conf(l.host, l.net));
        assert.strictEqual(res.code, 0, res.out);
      } else {
        await agents[l.host].client.disconnect({ network: l.net, sandbox: l.box });
      }
      live = live.filter((x) => x !== l);
      topo.removeNs(l.box);
      return;
    }
    const host = Math.floor(r() * 3);
    const net = r() < 0.5 ? 'rnd-a' : 'rnd-b';
    const box = topo.container(`r${boxes++}`);
    const l: Live = { host, net, box, via: r() < 0.5 ? 'grpc' : 'cni' };
    taken.add(l);
    if (l.via === 'cni') {
      l.cniId = `ctr-${box}`;
      const res = await cniCall(topo.hosts[host].ns, 'ADD', l.cniId, `/run/netns/${box}`, conf(host, net));
      assert.strictEqual(res.code, 0, res.out);
    } else {
      await agents[host].client.connect({ network: net, sandbox: box });
    }
    live.push(l);
  }

  function conf(h: number, net: string): Record<string, unknown> {
    return { cniVersion: '1.0.0', name: net, type: 'vxnet', network: net, agent: path.join(agents[h].dir, 'cni.sock') };
  }

  for (let seed = 1; seed <= SEEDS; seed++) {
    it(`random bursts of concurrent Connects and Disconnects by gRPC and CNI (seed ${seed}): every kernel matches etcd within ${CONVERGE_MS} ms`, async () => {
      const r = rng(seed);
      for (let burst = 0; burst < 4; burst++) {
        const taken = new Set<Live>();
        const n = 2 + Math.floor(r() * 5);
        await Promise.all(Array.from({ length: n }, () => randomOp(r, taken)));
        await converged(`seed ${seed} burst ${burst} (${n} operations, ${live.length} endpoints live)`);
      }
    });
  }

  it('after the bursts, live endpoints on different hosts reach each other', () => {
    const withIp = live.filter((l) => l.via === 'grpc');
    for (const net of ['rnd-a', 'rnd-b']) {
      const eps = withIp.filter((l) => l.net === net);
      const byHost = new Map(eps.map((l) => [l.host, l]));
      if (byHost.size < 2) continue;
      const [x, y] = [...byHost.values()];
      const ip = /inet (\S+)\//.exec(sh('ip', ['-n', y.box, '-4', '-o', 'addr', 'show', 'dev', 'eth0']))![1];
      assert.ok(ping(x.box, ip), `${net}: host ${x.host} reaches ${ip} on host ${y.host}`);
    }
  });
});
