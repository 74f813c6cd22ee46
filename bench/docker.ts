import { DockerCluster, startCluster, stopCluster } from '../test/helpers/cluster';
import { now, Pinger, record, stats } from './figures';

// 8. Docker: `docker run -d --network` and `docker network connect` through vxnet's plugin against
// the same through Docker's own overlay driver in its KV-store mode (one etcd cluster store), on the
// same two simulated hosts, alternating so that both see the same machine; then the first ping from
// a container on the other host after `connect` returns.
export async function dockerFigures(n: number): Promise<void> {
  let cl: DockerCluster | undefined;
  const pingers: Record<string, Pinger> = {};
  try {
    cl = await startCluster({
      hosts: 2,
      docker: { scope: 'global' },
      agent: { resyncInterval: 600, extra: ['--log-level', 'info'] },
      agentStartTimeoutMs: 30000,
    });
    const dk = cl.docker;
    const d = async (host: string, args: string[]): Promise<string> => {
      const r = await dk.docker(host, args, { timeoutMs: 60000 });
      if (r.code !== 0) throw new Error(`docker ${args.join(' ')} on ${host}: ${r.stderr.trim()}`);
      return r.stdout.trim();
    };
    const drivers = [
      { name: 'vxnet', net: 'vxb', subnet: '10.60', create: ['-d', 'vxnet', '--ipam-driver', 'vxnet'] },
      { name: 'overlay', net: 'ovb', subnet: '10.61', create: ['-d', 'overlay'] },
    ];
    const t: Record<string, { run: number[]; connect: number[]; ping: number[] }> = {};
    for (const drv of drivers) {
      t[drv.name] = { run: [], connect: [], ping: [] };
      await d('h1', ['network', 'create', ...drv.create, '--attachable', '--subnet', `${drv.subnet}.0.0/16`, drv.net]);
      await d('h2', ['run', '-d', '--name', `peer-${drv.name}`, '--network', drv.net, 'vxbusy', 'sleep', '3600']);
    }
    const peerNs: Record<string, string> = {};
    for (const drv of drivers)
      peerNs[drv.name] = `/proc/${await d('h2', ['inspect', '-f', '{{.State.Pid}}', `peer-${drv.name}`])}/ns/net`;
    for (const drv of drivers) pingers[drv.name] = new Pinger(peerNs[drv.name]);
    await Promise.all(Object.values(pingers).map((p) => p.ready));
    for (let i = 0; i < n; i++) {
      for (const drv of drivers) {
        let t0 = now();
        await d('h1', ['run', '-d', '--name', `r-${drv.name}-${i}`, '--network', drv.net, 'vxbusy', 'sleep', '3600']);
        t[drv.name].run.push(now() - t0);
        // Docker connects no container of --network none: the one just started leaves and comes back.
        await d('h1', ['network', 'disconnect', drv.net, `r-${drv.name}-${i}`]);
        const ip = `${drv.subnet}.1.${i + 10}`;
        t0 = now();
        await d('h1', ['network', 'connect', '--ip', ip, drv.net, `r-${drv.name}-${i}`]);
        const tReturn = now();
        t[drv.name].connect.push(tReturn - t0);
        t[drv.name].ping.push((await pingers[drv.name].first(ip)) - tReturn);
      }
    }
    const [vx, ov] = [t.vxnet, t.overlay];
    const [vr, or] = [stats(vx.run), stats(ov.run)];
    record({
      name: 'docker run -d --network (vxnet plugin)',
      unit: 'ms',
      ...vr,
      reference: 'Docker overlay driver (etcd store)',
      refMedian: or.median,
      refP99: or.p99,
      ratio: vr.median / or.median,
    });
    const [vc, oc] = [stats(vx.connect), stats(ov.connect)];
    record({
      name: 'docker network connect (vxnet plugin)',
      unit: 'ms',
      ...vc,
      reference: 'Docker overlay driver (etcd store)',
      refMedian: oc.median,
      refP99: oc.p99,
      ratio: vc.median / oc.median,
      target: 'p50 <= reference p50',
      met: vc.median <= oc.median,
    });
    // A missing reply (NaN) counts as the 3 s the pinger waited.
    const [vp, op] = [
      stats(vx.ping.map((x) => (Number.isNaN(x) ? 3000 : x))),
      stats(ov.ping.map((x) => (Number.isNaN(x) ? 3000 : x))),
    ];
    record({
      name: 'docker network connect returned -> first ping reply from the other host',
      unit: 'ms',
      ...vp,
      reference: 'Docker overlay driver (etcd store)',
      refMedian: op.median,
      refP99: op.p99,
      ratio: vp.median / op.median,
      target: 'p99 < 50 ms',
      met: vp.p99 < 50,
    });
  } finally {
    for (const p of Object.values(pingers)) p.close();
    await stopCluster(cl);
  }
}
