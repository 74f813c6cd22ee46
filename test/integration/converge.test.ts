import * as assert from 'assert';
import { spawn } from 'child_process';
import * as path from 'path';
import type { Etcd3 } from 'etcd3';
import { useCluster } from '../helpers/cluster';
import { TestAgent, ROOT } from '../helpers/agent';
import { Topology, ping, sh } from '../helpers/topology';

// Every check here runs with the periodic resync out of reach (an hour): a change that reaches a
// kernel only through the resync fails them. What converges, converges on its own triggers.
const RESYNC_S = 3600;
const CONVERGE_MS = 1000;
const SHIM = path.join(ROOT, 'native', 'build', 'Release', 'vxnet-cni');

interface Ep {
  id: string;
  networkId: string;
  host: string;
  mac: string;
  ipv4: string;
}
interface Live {
  host: number;
  net: string;
  box: string;
  via: 'grpc' | 'cni';
  cniId?: string;
}

// Deterministic: a failure names its seed.
function rng(seed: number): () => number {
  let x = seed * 2654435761;
  return () => (x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32;
}

// The CNI plugin as a runtime runs it, without blocking the event loop (calls run concurrently).
function cniCall(
  hostNs: string,
  cmd: string,
  id: string,
  netns: string,
  conf: unknown,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', hostNs, SHIM], {
      env: {
        PATH: process.env.PATH ?? '',
        CNI_COMMAND: cmd,
        CNI_CONTAINERID: id,
        CNI_NETNS: netns,
        CNI_IFNAME: 'eth0',
        CNI_PATH: path.dirname(SHIM),
      },
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
  const cluster = useCluster({ hosts: 3, agent: { resyncInterval: RESYNC_S }, logLines: 20 });
  let kv: Etcd3;
  let topo: Topology;
  let agents: TestAgent[] = [];
  const vnis = new Map<string, number>(); // network name -> VNI
  const ids = new Map<string, string>(); // network name -> ID
  let worstMs = 0;

  before(() => ({ kv, topo, agents } = cluster()));
  after(() => {
    if (worstMs)
      console.log(`      measured: slowest convergence after a burst ${worstMs} ms (bound ${CONVERGE_MS} ms)`);
  });

  async function createNet(name: string, subnet: string): Promise<void> {
    const n = await agents[0].client.create({ name, ipamConfig: [{ subnet }] });
    vnis.set(name, n.vni);
    ids.set(name, n.id);
  }

  // One host's kernel in one spawn (a sample must be cheap next to the bound it checks): its
  // vxlan devices, and their FDB destinations and permanent neighbor entries.
  function kernelOf(ns: string): { devices: Set<string>; fdb: Map<string, string[]>; neigh: Map<string, string[]> } {
    const out = sh('sh', [
      '-c',
      `ip -n ${ns} -o link show type vxlan; echo ---; bridge -n ${ns} fdb show; echo ---; ip -n ${ns} neigh show nud permanent`,
    ]);
    const [links, fdbText, neighText] = out.split('---\n');
    const devices = new Set([...links.matchAll(/^\d+: (vx-\d+)[@:]/gm)].map((m) => m[1]));
    const fdb = new Map<string, string[]>();
    for (const m of fdbText.matchAll(/^(\S+) dev (vx-\d+) dst (\S+)/gm))
      fdb.set(m[2], [...(fdb.get(m[2]) ?? []), `${m[1]} ${m[3]}`]);
    const neigh = new Map<string, string[]>();
    for (const m of neighText.matchAll(/^(\S+) dev (vx-\d+) lladdr (\S+)/gm))
      neigh.set(m[2], [...(neigh.get(m[2]) ?? []), `${m[1]} ${m[3]}`]);
    return { devices, fdb, neigh };
  }

  // What every host's kernel must hold, from etcd itself (not from any agent's view): a network's
  // devices exactly where it has a local endpoint, and there an FDB entry toward the VTEP and a
  // neighbor entry for every endpoint of the other hosts.
  async function expected(): Promise<{ eps: Ep[]; hosts: Map<string, string> }> {
    const eps = Object.values(await kv.getAll().prefix('/vxnet/v1/endpoints/').strings()).map(
      (v) => JSON.parse(v) as Ep,
    );
    const hosts = new Map(
      Object.values(await kv.getAll().prefix('/vxnet/v1/hosts/').strings()).map((v) => {
        const h = JSON.parse(v) as { name: string; vtep: string };
        return [h.name, h.vtep];
      }),
    );
    return { eps, hosts };
  }

  function mismatches(want: { eps: Ep[]; hosts: Map<string, string> }): string[] {
    const out: string[] = [];
    const sorted = (xs: string[] | undefined): string => JSON.stringify([...(xs ?? [])].sort());
    for (const h of topo.hosts) {
      const k = kernelOf(h.ns);
      for (const [name, vni] of vnis) {
        const dev = `vx-${vni}`;
        const mine = want.eps.filter((e) => e.networkId === ids.get(name));
        if (!mine.some((e) => e.host === h.name)) {
          if (k.devices.has(dev)) out.push(`${h.name}: ${dev} present without a local endpoint`);
          continue;
        }
        if (!k.devices.has(dev)) {
          out.push(`${h.name}: ${dev} missing`);
          continue;
        }
        const remote = mine.filter((e) => e.host !== h.name);
        const fdb = remote.map((e) => `${e.mac} ${want.hosts.get(e.host) ?? '?'}`);
        if (sorted(k.fdb.get(dev)) !== sorted(fdb))
          out.push(`${h.name} ${dev} fdb ${sorted(k.fdb.get(dev))}, etcd says ${sorted(fdb)}`);
        const neigh = remote.map((e) => `${e.ipv4.split('/')[0]} ${e.mac}`);
        if (sorted(k.neigh.get(dev)) !== sorted(neigh))
          out.push(`${h.name} ${dev} neigh ${sorted(k.neigh.get(dev))}, etcd says ${sorted(neigh)}`);
      }
    }
    return out;
  }

  // The bound is on when the kernels matched: the start of the first sample that found them so.
  // Sampling goes on past it (up to 5 s) so that a slow sample cannot fail a converged cluster.
  async function converged(what: string): Promise<number> {
    const want = await expected();
    const t0 = Date.now();
    let last: string[] = [];
    let took = -1;
    while (Date.now() - t0 < 5000) {
      const at = Date.now() - t0;
      last = mismatches(want);
      if (!last.length) {
        took = at;
        break;
      }
      await new Promise((res) => setTimeout(res, 20));
    }
    if (took < 0) throw new Error(`${what}: not converged after 5 s:\n  ${last.join('\n  ')}`);
    assert.ok(took <= CONVERGE_MS, `${what}: converged after ${took} ms, bound ${CONVERGE_MS} ms`);
    worstMs = Math.max(worstMs, took);
    // The agents' own diff (vxnet doctor) agrees: nothing left to do on any host.
    for (const a of agents)
      assert.deepStrictEqual((await a.client.doctor({})).differences, [], `vxnet doctor on ${a.opts.name}`);
    return took;
  }

  it("the reported case: a host's first endpoints of a network, attached at once, reach the other host at once (3 rounds)", async () => {
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
