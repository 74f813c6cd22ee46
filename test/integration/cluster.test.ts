import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import { status } from '@grpc/grpc-js';
import type { Etcd3 } from 'etcd3';
import { dumpEtcd } from '../helpers/etcd';
import { useCluster } from '../helpers/cluster';
import { TestAgent, runCli } from '../helpers/agent';
import { Topology, ping, addrOf, fdbOf, neighOf, waitFor, sh, nsExists } from '../helpers/topology';

// Three hosts as namespaces on one underlay, one real agent inside each, one real etcd.
describe('data plane: three hosts, real agents, real kernel', function () {
  this.timeout(120000);
  const TTL = 3;
  const cluster = useCluster({ hosts: 3, agent: { leaseTtl: TTL, resyncInterval: 3600 }, logLines: 25 }); // no check here is rescued by a resync
  let kv: Etcd3;
  let topo: Topology;
  let agents: TestAgent[] = [];
  before(() => ({ kv, topo, agents } = cluster()));

  const vniOf = async (name: string): Promise<number> => (await agents[0].client.inspect({ network: name })).vni;

  describe('one network across three hosts', () => {
    const c: Record<string, string> = {};
    const ip: Record<string, string> = {};
    let vni = 0;

    before(async () => {
      await agents[0].client.create({ name: 'blue', ipamConfig: [{ subnet: '10.77.0.0/24' }] });
      vni = await vniOf('blue');
      for (let h = 0; h < 3; h++) {
        for (const j of ['a', 'b']) {
          const name = `c${h + 1}${j}`;
          c[name] = topo.container(name);
          const res = await agents[h].client.connect({ network: 'blue', sandbox: c[name] });
          ip[name] = res.endpoint!.ipv4Address.split('/')[0];
          assert.strictEqual(res.endpoint!.interfaceName, 'eth0');
          assert.strictEqual(res.gateway, '10.77.0.1');
          assert.strictEqual(addrOf(c[name]), ip[name]);
        }
      }
    });

    it('every pair of containers on different hosts pings', async () => {
      // The first ping right after the last Connect may race the peers' reconcile; allow a short, bounded convergence.
      const names = Object.keys(c);
      for (const a of names) {
        for (const b of names) {
          if (a[1] === b[1]) continue;
          await waitFor(`${a} -> ${b}`, () => ping(c[a], ip[b]), 3000);
        }
      }
    });

    it("a container's unicast to a remote container is not copied to the other containers of its host; those on one host reach each other", async () => {
      await waitFor('c1a -> c1b', () => ping(c.c1a, ip.c1b), 3000);
      const rx = (ns: string): number =>
        (
          JSON.parse(sh('ip', ['-n', ns, '-s', '-j', 'link', 'show', 'eth0'])) as {
            stats64: { rx: { packets: number } };
          }[]
        )[0].stats64.rx.packets;
      const before = rx(c.c1b);
      assert.ok(ping(c.c1a, ip.c2a, { count: 30, intervalS: 0.01 }));
      // 30 echo requests went to c2a's MAC, which the bridge of host 1 knows by no entry: while it
      // flooded the local ports too, each was copied to c1b. What c1b may still see is the network's
      // own broadcast and multicast.
      const copies = rx(c.c1b) - before;
      assert.ok(copies < 10, `c1b received ${copies} frames while c1a pinged c2a 30 times`);
      const ports = sh('bridge', ['-n', topo.hosts[0].ns, 'fdb', 'show', 'br', `vxbr-${vni}`]);
      assert.match(ports, /static/);
      const veths = sh('ip', ['-n', topo.hosts[0].ns, '-d', 'link', 'show', 'master', `vxbr-${vni}`, 'type', 'veth']);
      assert.match(veths, / flood off/);
      assert.doesNotMatch(veths, / flood on/);
    });

    it('Connect with wait answers once every peer has the endpoint: the very first ping from each peer succeeds', async () => {
      const box = topo.container('cw1');
      const r = await agents[0].client.connect({ network: 'blue', sandbox: box, wait: true });
      assert.deepStrictEqual(r.laggingHosts, []);
      const target = r.endpoint!.ipv4Address.split('/')[0];
      // One probe each, no retry: the peers' first ARP must already be answered.
      assert.ok(ping(c.c2b, target, { count: 1, waitS: 1 }), 'h2 could not reach the new endpoint at once');
      assert.ok(ping(c.c3b, target, { count: 1, waitS: 1 }), 'h3 could not reach the new endpoint at once');
      await agents[0].client.disconnect({ network: 'blue', sandbox: box });
      topo.removeNs(box);
    });

    it('a container that asked for an address before it existed is answered as soon as its host programs the entry', async () => {
      // c1b's ARP retransmission at 30 s: within the bound below only the agent's announcement can
      // resolve the request it sent while the address had no endpoint (its normal retry is at 1 s).
      const target = '10.77.0.200';
      sh('ip', ['netns', 'exec', c.c1b, 'sysctl', '-qw', 'net.ipv4.neigh.eth0.retrans_time_ms=30000']);
      // One probe every 0.2 s until one is answered: the first may reach h2 before the new endpoint's
      // interface is up there (Connect plugs it while etcd commits, and h1 learns of it from etcd).
      const pinger = spawn('ip', ['netns', 'exec', c.c1b, 'ping', '-n', '-c1', '-i', '0.2', '-w', '20', target], {
        stdio: 'ignore',
      });
      // Listened for from the start: the reply may come before the checks below are done.
      const exited = new Promise<number | null>((resolve) => pinger.once('exit', (code) => resolve(code)));
      const box = topo.container('cw2');
      try {
        await waitFor(
          'c1b asking for the address',
          () => /INCOMPLETE|FAILED/.test(sh('ip', ['-n', c.c1b, 'neigh', 'show', target])),
          3000,
          20,
        );
        const r = await agents[1].client.connect({ network: 'blue', sandbox: box, ipv4Address: target });
        await waitFor(
          "c1b has the new endpoint's MAC",
          () => sh('ip', ['-n', c.c1b, 'neigh', 'show', target]).includes(r.endpoint!.macAddress),
          5000,
          20,
        );
        // The probes that waited for the answer go out, and one is answered.
        let timer: NodeJS.Timeout | undefined;
        const code = await Promise.race([
          exited,
          new Promise<number>((resolve) => (timer = setTimeout(() => resolve(-1), 5000))),
        ]);
        clearTimeout(timer);
        assert.strictEqual(code, 0, 'no reply once the address was known');
      } finally {
        pinger.kill('SIGKILL');
        sh('ip', ['netns', 'exec', c.c1b, 'sysctl', '-qw', 'net.ipv4.neigh.eth0.retrans_time_ms=1000']);
        await agents[1].client.disconnect({ network: 'blue', sandbox: box }).catch(() => undefined);
        topo.removeNs(box);
      }
    });

    it('programs exactly the remote endpoints: FDB to their VTEPs and permanent neighbor entries', () => {
      const fdb = fdbOf(topo.hosts[0].ns, `vx-${vni}`);
      assert.match(fdb, /dst 192\.168\.231\.12 self permanent/);
      assert.match(fdb, /dst 192\.168\.231\.13 self permanent/);
      assert.doesNotMatch(fdb, /dst 192\.168\.231\.11 /);
      const neigh = neighOf(topo.hosts[0].ns, `vx-${vni}`);
      for (const n of ['c2a', 'c2b', 'c3a', 'c3b'])
        assert.match(neigh, new RegExp(`${ip[n].replace(/\./g, '\\.')} lladdr \\S+ PERMANENT`));
      for (const n of ['c1a', 'c1b']) assert.doesNotMatch(neigh, new RegExp(`${ip[n].replace(/\./g, '\\.')} `));
      const link = sh('ip', ['-n', topo.hosts[0].ns, '-d', 'link', 'show', `vx-${vni}`]);
      assert.match(link, new RegExp(`vxlan id ${vni} local 192\\.168\\.231\\.11`));
      assert.match(link, /nolearning/);
      assert.match(link, /proxy/);
    });

    it('gives containers the underlay MTU minus 50: the largest unfragmented ping passes, one byte more fails', async () => {
      const mtu = Number(
        sh('cat', [`/sys/class/net/lo/mtu`]) &&
          sh('ip', ['netns', 'exec', c.c1a, 'cat', '/sys/class/net/eth0/mtu']).trim(),
      );
      assert.strictEqual(mtu, 1450);
      await waitFor('full-size ping', () => ping(c.c1a, ip.c2a, { size: mtu - 28, dontFragment: true }), 3000);
      assert.strictEqual(ping(c.c1a, ip.c2a, { size: mtu - 27, dontFragment: true }), false);
    });

    it('Inspect shows the endpoints with their hosts, from any host', async () => {
      const net = await agents[2].client.inspect({ network: 'blue' });
      assert.strictEqual(net.endpoints.length, 6);
      const byName = new Map(net.endpoints.map((e) => [e.name, e]));
      assert.strictEqual(byName.get(c.c1a)!.host, 'h1');
      assert.strictEqual(byName.get(c.c3b)!.host, 'h3');
      assert.match(byName.get(c.c2a)!.macAddress, /^02:42:/);
    });

    it('a sandbox on two networks gets eth0 and eth1, and the networks cannot reach each other', async () => {
      await agents[0].client.create({ name: 'red', ipamConfig: [{ subnet: '10.78.0.0/24' }] });
      const r1 = topo.container('r1');
      const r2 = topo.container('r2');
      const a = await agents[0].client.connect({ network: 'red', sandbox: r1 });
      const b = await agents[1].client.connect({ network: 'red', sandbox: r2 });
      const both = await agents[1].client.connect({ network: 'red', sandbox: c.c2b });
      assert.strictEqual(both.endpoint!.interfaceName, 'eth1');
      assert.match(sh('ip', ['-n', c.c2b, '-o', 'link']), /eth1/);
      await waitFor('red r1 -> r2', () => ping(r1, b.endpoint!.ipv4Address.split('/')[0]), 3000);
      await waitFor('red r1 -> c2b.eth1', () => ping(r1, both.endpoint!.ipv4Address.split('/')[0]), 3000);
      // Isolation: red's containers reach no blue address, on this host or another, also when the
      // hosts forward IP (as every Docker host does).
      for (const h of topo.hosts) sh('ip', ['netns', 'exec', h.ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      assert.strictEqual(ping(r1, ip.c1a), false, 'red -> blue on the same host');
      assert.strictEqual(ping(r1, ip.c2a), false, 'red -> blue on another host');
      assert.strictEqual(ping(c.c1a, a.endpoint!.ipv4Address.split('/')[0]), false, 'blue -> red');
      // ...while forwarding itself works: a container reaches another host's underlay address through its gateway.
      assert.ok(ping(r1, topo.hosts[1].vtep), 'red -> the underlay through its gateway (forwarding on)');
      for (const h of topo.hosts) sh('ip', ['netns', 'exec', h.ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=0']);
      await agents[1].client.disconnect({ network: 'red', sandbox: c.c2b });
      assert.doesNotMatch(sh('ip', ['-n', c.c2b, '-o', 'link']), /eth1/);
      await agents[0].client.disconnect({ network: 'red', sandbox: r1 });
      await agents[1].client.disconnect({ network: 'red', sandbox: r2 });
      await agents[0].client.delete({ network: 'red' });
    });

    it('after Disconnect the peers drop the entries within a second and pings fail', async () => {
      const ep = (await agents[0].client.inspect({ network: 'blue' })).endpoints.find((e) => e.name === c.c2a)!;
      await agents[1].client.disconnect({ network: 'blue', sandbox: c.c2a });
      const took = await waitFor(
        'entries gone on h1 and h3',
        () =>
          [0, 2].every(
            (h) =>
              !fdbOf(topo.hosts[h].ns, `vx-${vni}`).includes(ep.macAddress) &&
              !neighOf(topo.hosts[h].ns, `vx-${vni}`).includes(`${ip.c2a} `),
          ),
        1000,
        20,
      );
      console.log(`      measured: peers dropped a disconnected endpoint's entries within ${took} ms`);
      assert.ok(took <= 1000);
      assert.strictEqual(ping(c.c1a, ip.c2a), false);
      assert.doesNotMatch(sh('ip', ['-n', c.c2a, '-o', 'link']), /eth0/);
      // The address is free again and the next Connect may take it.
      const again = await agents[1].client.connect({ network: 'blue', sandbox: c.c2a, ipv4Address: ip.c2a });
      assert.strictEqual(again.endpoint!.ipv4Address.split('/')[0], ip.c2a);
      await waitFor('c1a -> c2a again', () => ping(c.c1a, ip.c2a), 3000);
    });

    describe('bad input gets a clear error and changes nothing', () => {
      it('refuses each malformed Connect and Disconnect, etcd and kernel unchanged', async () => {
        const box = topo.container('bad');
        const notNs = `/tmp/vxt${process.pid}-not-a-netns`;
        fs.writeFileSync(notNs, '');
        const kernelBefore = [0, 1, 2].map(
          (h) =>
            sh('ip', ['-n', topo.hosts[h].ns, '-o', 'link']) +
            fdbOf(topo.hosts[h].ns, `vx-${vni}`) +
            neighOf(topo.hosts[h].ns, `vx-${vni}`),
        );
        const boxBefore = sh('ip', ['-n', box, '-o', 'link']);
        const before = await dumpEtcd(kv);
        const bad: [string, Parameters<TestAgent['client']['connect']>[0], number, RegExp][] = [
          ['unknown network', { network: 'nosuch', sandbox: box }, status.NOT_FOUND, /nosuch/],
          [
            'sandbox that does not exist',
            { network: 'blue', sandbox: '/run/netns/vxt-nope' },
            status.NOT_FOUND,
            /does not exist|not found|no such/i,
          ],
          [
            'sandbox that is not a netns',
            { network: 'blue', sandbox: notNs },
            status.INVALID_ARGUMENT,
            /not a network namespace/,
          ],
          ['empty sandbox', { network: 'blue', sandbox: '' }, status.INVALID_ARGUMENT, /sandbox/i],
          [
            'static IP outside the subnet',
            { network: 'blue', sandbox: box, ipv4Address: '10.99.0.5' },
            status.INVALID_ARGUMENT,
            /outside|subnet/,
          ],
          [
            'static IP that is not an IP',
            { network: 'blue', sandbox: box, ipv4Address: '10.77.0.300' },
            status.INVALID_ARGUMENT,
            /10\.77\.0\.300/,
          ],
          ['static IP taken', { network: 'blue', sandbox: box, ipv4Address: ip.c1a }, status.ALREADY_EXISTS, /in use/],
          [
            'static IP is the gateway',
            { network: 'blue', sandbox: box, ipv4Address: '10.77.0.1' },
            status.INVALID_ARGUMENT,
            /gateway|reserved/i,
          ],
          [
            'interface name over 15 characters',
            { network: 'blue', sandbox: box, interfaceName: 'averyveryverylongname' },
            status.INVALID_ARGUMENT,
            /15/,
          ],
          [
            'interface name already present',
            { network: 'blue', sandbox: box, interfaceName: 'lo' },
            status.ALREADY_EXISTS,
            /lo already exists/,
          ],
          [
            'malformed MAC',
            { network: 'blue', sandbox: box, macAddress: '02:42:zz:00:00:01' },
            status.INVALID_ARGUMENT,
            /MAC|mac/,
          ],
          [
            'multicast MAC',
            { network: 'blue', sandbox: box, macAddress: '01:00:5e:00:00:01' },
            status.INVALID_ARGUMENT,
            /multicast/i,
          ],
          [
            'IPv6 on a network without IPv6',
            { network: 'blue', sandbox: box, ipv6Address: 'fd00::5' },
            status.INVALID_ARGUMENT,
            /IPv6/,
          ],
          [
            'endpoint name taken',
            { network: 'blue', sandbox: box, name: c.c1a },
            status.ALREADY_EXISTS,
            /already exists/,
          ],
        ];
        for (const [what, req, code, msg] of bad) {
          await assert.rejects(agents[0].client.connect(req), (e: { code: number; details: string }) => {
            assert.strictEqual(e.code, code, `${what}: got ${status[e.code]} (${e.details})`);
            assert.match(e.details, msg, `${what}: ${e.details}`);
            return true;
          });
        }
        await assert.rejects(agents[0].client.disconnect({ network: 'blue', sandbox: box }), {
          code: status.NOT_FOUND,
        });
        await assert.rejects(agents[0].client.disconnect({ network: 'blue', sandbox: c.c2b }), {
          code: status.FAILED_PRECONDITION,
        });
        await assert.rejects(agents[0].client.delete({ network: 'blue' }), { code: status.FAILED_PRECONDITION });
        const cli = await runCli(['network', 'connect', '--mac', 'nonsense', 'blue', box], {
          host: `unix://${agents[0].socket}`,
        });
        assert.notStrictEqual(cli.code, 0);
        assert.match(cli.stderr, /MAC|mac/);
        assert.deepStrictEqual(await dumpEtcd(kv), before);
        assert.deepStrictEqual(
          [0, 1, 2].map(
            (h) =>
              sh('ip', ['-n', topo.hosts[h].ns, '-o', 'link']) +
              fdbOf(topo.hosts[h].ns, `vx-${vni}`) +
              neighOf(topo.hosts[h].ns, `vx-${vni}`),
          ),
          kernelBefore,
        );
        assert.strictEqual(sh('ip', ['-n', box, '-o', 'link']), boxBefore);
        fs.unlinkSync(notNs);
      });
    });

    it('allocates 300 concurrent addresses across three hosts without a duplicate, and reuses released ones', async () => {
      await agents[0].client.create({ name: 'big', ipamConfig: [{ subnet: '10.80.0.0/22' }] });
      const boxes = Array.from({ length: 300 }, (_, i) => topo.container(`m${i}`));
      const res = await Promise.all(
        boxes.map((b, i) => agents[i % 3].client.connect({ network: 'big', sandbox: b }, { deadlineMs: 60000 })),
      );
      const ips = res.map((r) => r.endpoint!.ipv4Address);
      assert.strictEqual(new Set(ips).size, 300);
      const keys = Object.keys(await dumpEtcd(kv)).filter((k) => k.includes('/ipam/'));
      const bigId = (await agents[0].client.inspect({ network: 'big' })).id;
      assert.strictEqual(keys.filter((k) => k.includes(bigId)).length, 300);
      await Promise.all(
        boxes.map((b, i) => agents[i % 3].client.disconnect({ network: 'big', sandbox: b }, { deadlineMs: 60000 })),
      );
      assert.strictEqual(
        Object.keys(await dumpEtcd(kv)).filter((k) => k.includes(bigId)).length,
        1,
        'only the network record is left',
      );
      // Released addresses are reusable: a static request for each of a sample succeeds.
      for (const [i, a] of ips.slice(0, 10).entries()) {
        const r = await agents[i % 3].client.connect({
          network: 'big',
          sandbox: boxes[i],
          ipv4Address: a.split('/')[0],
        });
        assert.strictEqual(r.endpoint!.ipv4Address, a);
        await agents[i % 3].client.disconnect({ network: 'big', sandbox: boxes[i] });
      }
      for (const b of boxes) topo.removeNs(b);
      await agents[0].client.delete({ network: 'big' });
    });

    it('dynamic allocation hands out the lowest free address, also one freed below where the last allocation stopped (here or on a peer)', async () => {
      await agents[0].client.create({ name: 'low', ipamConfig: [{ subnet: '10.81.0.0/24' }] });
      const vniLow = await vniOf('low');
      const boxes = new Map<string, string>();
      const box = (n: string): string => boxes.get(n) ?? boxes.set(n, topo.container(n)).get(n)!;
      const on = async (h: number, n: string, ipv4Address = ''): Promise<{ ip: string; mac: string }> => {
        const r = await agents[h].client.connect({ network: 'low', sandbox: box(n), ipv4Address });
        return { ip: r.endpoint!.ipv4Address, mac: r.endpoint!.macAddress };
      };
      const y1 = await on(1, 'lw-y1', '10.81.0.3'); // a peer's endpoint, below the addresses h1 hands out next
      assert.strictEqual((await on(0, 'lw-x1')).ip, '10.81.0.2/24');
      // h1 serves the network now: y1 in its kernel means y1 is in its view.
      await waitFor('y1 programmed on h1', () => fdbOf(topo.hosts[0].ns, `vx-${vniLow}`).includes(y1.mac), 5000);
      assert.strictEqual((await on(0, 'lw-x2')).ip, '10.81.0.4/24');
      assert.strictEqual((await on(0, 'lw-x3')).ip, '10.81.0.5/24');
      // Freed on the peer (h1 learns it from its watch), then here: each is the next one handed out.
      await agents[1].client.disconnect({ network: 'low', sandbox: box('lw-y1') });
      await waitFor('y1 gone from h1', () => !fdbOf(topo.hosts[0].ns, `vx-${vniLow}`).includes(y1.mac), 5000);
      assert.strictEqual((await on(0, 'lw-x4')).ip, '10.81.0.3/24');
      await agents[0].client.disconnect({ network: 'low', sandbox: box('lw-x2') });
      assert.strictEqual((await on(0, 'lw-x5')).ip, '10.81.0.4/24');
      assert.strictEqual((await on(0, 'lw-x6')).ip, '10.81.0.6/24');
      for (const n of ['lw-x1', 'lw-x3', 'lw-x4', 'lw-x5', 'lw-x6'])
        await agents[0].client.disconnect({ network: 'low', sandbox: box(n) });
      for (const b of boxes.values()) topo.removeNs(b);
      await agents[0].client.delete({ network: 'low' });
    });

    it('a host whose agent dies stays programmed on its peers (its lease says nothing of its containers) and is shown unreachable', async () => {
      const victim = agents[2];
      const macs = (await agents[0].client.inspect({ network: 'blue' })).endpoints
        .filter((e) => e.host === 'h3')
        .map((e) => e.macAddress);
      assert.strictEqual(macs.length, 2);
      victim.signal('SIGKILL');
      await waitFor(
        'h3 shown unreachable',
        async () =>
          (await agents[0].client.listHosts({})).hosts.some((h) => h.name === 'h3' && h.state === 'unreachable'),
        (TTL + 2) * 1000,
        100,
      );
      // Its containers still answer, and its peers still reach them.
      assert.ok([0, 1].every((h) => macs.every((m) => fdbOf(topo.hosts[h].ns, `vx-${vni}`).includes(m))));
      assert.ok(ping(c.c1a, ip.c3a), 'c1a -> c3a while h3 has no agent');
      assert.ok(nsExists(c.c3a));
      assert.match(sh('ip', ['-n', topo.hosts[2].ns, '-o', 'link']), new RegExp(`vx-${vni}`));
      await victim.stop('SIGKILL');
      await victim.start();
      await waitFor(
        'h3 up again',
        async () => (await agents[0].client.listHosts({})).hosts.some((h) => h.name === 'h3' && h.state === 'up'),
        5000,
      );
      await waitFor('c1a -> c3a again', () => ping(c.c1a, ip.c3a), 3000);
    });
  });
});
