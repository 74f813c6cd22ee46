import * as assert from 'assert';
import { spawn } from 'child_process';
import { status } from '@grpc/grpc-js';
import { useCluster } from '../helpers/cluster';
import type { TestAgent } from '../helpers/agent';
import { Topology, UNDERLAY, ping, sh, waitFor } from '../helpers/topology';

// An "outside" namespace on the underlay stands for the internet: it has no route to any overlay
// subnet, so only a translated packet gets an answer. The periodic resync is an hour away: what is
// repaired here is repaired by the agent's own triggers.
const OUTSIDE4 = `${UNDERLAY}.200`;
const OUTSIDE6 = 'fd7e::200';

// A Python snippet in a namespace; resolves with its output once it ends (bounded by `timeoutS`).
function py(ns: string, code: string, timeoutS = 10): { done: Promise<string>; pid: number | undefined } {
  const p = spawn('timeout', [String(timeoutS), 'ip', 'netns', 'exec', ns, 'python3', '-c', code]);
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return { done: new Promise((r) => p.on('exit', () => r(out.trim()))), pid: p.pid };
}

// Serves one TCP connection (answers with the peer's address) or one UDP datagram.
const tcpServer = (bind: string, port: number): string =>
  `import socket;s=socket.socket(socket.AF_INET6 if ':' in '${bind}' else socket.AF_INET);` +
  `s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('${bind}',${port}));s.listen(1);` +
  `c,a=s.accept();c.sendall(a[0].encode());c.close();print(a[0])`;
const tcpClient = (dst: string, port: number): string =>
  `import socket,time\nfor i in range(30):\n  try:\n    s=socket.create_connection(('${dst}',${port}),timeout=2);break\n  except OSError:\n    time.sleep(0.1)\nprint(s.recv(100).decode())`;
const udpServer = (port: number): string =>
  `import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('0.0.0.0',${port}));` +
  `d,a=s.recvfrom(100);s.sendto(a[0].encode(),a);print(a[0])`;
const udpClient = (dst: string, port: number): string =>
  `import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(0.5)\n` +
  `for i in range(20):\n  s.sendto(b'x',('${dst}',${port}))\n  try:\n    print(s.recv(100).decode());break\n  except OSError:\n    pass`;

describe('egress: masquerade to the outside, none and internal networks kept in, rules that stay', function () {
  this.timeout(120000);
  const cluster = useCluster({ hosts: 2, agent: { resyncInterval: 3600 }, logLines: 30 });
  let topo: Topology;
  let agents: TestAgent[];
  let outside: string;
  const box: Record<string, string> = {};
  const addr: Record<string, string> = {};

  before(async () => {
    ({ topo, agents } = cluster());
    outside = topo.addNs('out');
    const tmp = `${topo.prefix.slice(0, 8)}out`.slice(0, 15);
    sh('ip', ['link', 'add', tmp, 'netns', outside, 'type', 'veth', 'peer', 'name', 'out', 'netns', topo.underlay]);
    sh('ip', ['-n', outside, 'addr', 'add', `${OUTSIDE4}/24`, 'dev', tmp]);
    sh('ip', ['-n', outside, 'addr', 'add', `${OUTSIDE6}/64`, 'dev', tmp, 'nodad']);
    sh('ip', ['-n', outside, 'link', 'set', tmp, 'up']);
    sh('ip', ['-n', topo.underlay, 'link', 'set', 'out', 'master', 'ul', 'up']);
    topo.hosts.forEach((h, i) => sh('ip', ['-n', h.ns, 'addr', 'add', `fd7e::1${i + 1}/64`, 'dev', 'eth0', 'nodad']));
    const c = agents[0].client;
    await c.create({
      name: 'world',
      enableIpv6: true,
      ipamConfig: [{ subnet: '10.91.0.0/24' }, { subnet: 'fd00:91::/64' }],
    });
    await c.create({ name: 'shut', options: { egress: 'none' }, ipamConfig: [{ subnet: '10.92.0.0/24' }] });
    await c.create({ name: 'sealed', internal: true, ipamConfig: [{ subnet: '10.93.0.0/24' }] });
    for (const [name, host, net] of [
      ['w1', 0, 'world'],
      ['w2', 1, 'world'],
      ['w1b', 0, 'world'],
      ['n1', 0, 'shut'],
      ['s1', 0, 'sealed'],
    ] as const) {
      box[name] = topo.container(name);
      const r = await agents[host].client.connect({ network: net, sandbox: box[name], wait: true });
      addr[name] = r.endpoint!.ipv4Address.split('/')[0];
      if (r.endpoint!.ipv6Address) addr[`${name}6`] = r.endpoint!.ipv6Address.split('/')[0];
    }
  });

  it('containers on both hosts reach the outside by ICMP, TCP and UDP, seen there with their host’s address', async () => {
    for (const [name, host] of [
      ['w1', 0],
      ['w2', 1],
    ] as const) {
      await waitFor(`${name} pings the outside`, () => ping(box[name], OUTSIDE4), 5000);
      const srv = py(outside, tcpServer('0.0.0.0', 8000));
      const seen = await py(box[name], tcpClient(OUTSIDE4, 8000)).done;
      assert.strictEqual(seen, topo.hosts[host].vtep, `${name} by TCP`);
      assert.strictEqual(await srv.done, topo.hosts[host].vtep);
      const usrv = py(outside, udpServer(8001));
      assert.strictEqual(await py(box[name], udpClient(OUTSIDE4, 8001)).done, topo.hosts[host].vtep, `${name} by UDP`);
      await usrv.done;
    }
  });

  it('IPv6 too: masqueraded to the host’s underlay IPv6 address', async () => {
    await waitFor(
      'w1 pings the outside over IPv6',
      () => spawnOk(['netns', 'exec', box.w1, 'ping', '-6', '-n', '-q', '-c1', '-W1', OUTSIDE6]),
      8000,
    );
    const srv = py(outside, tcpServer('::', 8002));
    assert.strictEqual(await py(box.w1, tcpClient(OUTSIDE6, 8002)).done, 'fd7e::11');
    await srv.done;
  });

  it('an egress=none network and an internal network cannot reach the outside, even with routes both ways', () => {
    sh('ip', ['-n', box.s1, 'route', 'add', 'default', 'via', '10.93.0.1']);
    // With a way back, only the host's refusal keeps them in (not the lack of a translation).
    for (const s of ['10.92.0.0/24', '10.93.0.0/24'])
      sh('ip', ['-n', outside, 'route', 'replace', s, 'via', topo.hosts[0].vtep]);
    assert.ok(ping(box.n1, '10.92.0.1'), 'the gateway (the host) answers');
    assert.ok(!ping(box.n1, OUTSIDE4, { count: 2, intervalS: 0.2 }), 'egress=none reaches the outside');
    assert.ok(!ping(box.s1, OUTSIDE4, { count: 2, intervalS: 0.2 }), 'internal reaches the outside');
    for (const s of ['10.92.0.0/24', '10.93.0.0/24']) sh('ip', ['-n', outside, 'route', 'del', s]);
  });

  it('traffic between containers is not translated, on one host and across hosts', async () => {
    for (const from of ['w1b', 'w2']) {
      const srv = py(box.w1, tcpServer('0.0.0.0', 8003));
      assert.strictEqual(await py(box[from], tcpClient(addr.w1, 8003)).done, addr[from]);
      await srv.done;
    }
  });

  it('a download from the outside keeps going across iptables -F, iptables -t nat -F and kill -9 + restart', async () => {
    // 80 chunks of 16 KiB, 50 ms apart: about 4 s on one connection.
    const srv = py(
      outside,
      `import socket,time;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);` +
        `s.bind(('0.0.0.0',8004));s.listen(1);c,a=s.accept()\nfor i in range(80):\n  c.sendall(b'x'*16384);time.sleep(0.05)\nc.close();print(a[0])`,
      30,
    );
    const cli = py(
      box.w1,
      `import socket,time\nfor i in range(30):\n  try:\n    s=socket.create_connection(('${OUTSIDE4}',8004),timeout=10);break\n  except OSError:\n    time.sleep(0.1)\n` +
        `n=0\nwhile True:\n  d=s.recv(65536)\n  if not d: break\n  n+=len(d)\nprint(n)`,
      30,
    );
    await new Promise((r) => setTimeout(r, 800));
    sh('ip', ['netns', 'exec', topo.hosts[0].ns, 'iptables', '-F']);
    sh('ip', ['netns', 'exec', topo.hosts[0].ns, 'iptables', '-t', 'nat', '-F']);
    agents[0].signal('SIGKILL');
    await agents[0].stop();
    assert.match(sh('ip', ['netns', 'exec', topo.hosts[0].ns, 'nft', 'list', 'table', 'inet', 'vxnet']), /masquerade/);
    await agents[0].start();
    assert.strictEqual(await cli.done, String(80 * 16384));
    assert.strictEqual(await srv.done, topo.hosts[0].vtep);
  });

  it('the table is repaired at once when another hand deletes or changes it (resync an hour away)', async () => {
    const list = (): string =>
      sh('ip', ['netns', 'exec', topo.hosts[0].ns, 'nft', 'list', 'table', 'inet', 'vxnet'], { allowFail: true });
    await waitFor('table in place after the restart', () => /masquerade/.test(list()), 5000);
    sh('ip', ['netns', 'exec', topo.hosts[0].ns, 'nft', 'delete', 'table', 'inet', 'vxnet']);
    await waitFor('table back after a delete', () => /masquerade/.test(list()), 5000);
    sh('ip', ['netns', 'exec', topo.hosts[0].ns, 'nft', 'flush', 'chain', 'inet', 'vxnet', 'postrouting']);
    await waitFor('rule back after a flush of its chain', () => /masquerade/.test(list()), 5000);
    await waitFor('egress works again', () => ping(box.w1, OUTSIDE4), 5000);
    const report = await agents[0].client.doctor({});
    const nft = report.checks.find((c) => c.name === 'nftables');
    assert.ok(nft?.ok, JSON.stringify(nft));
    assert.ok(report.checks.find((c) => c.name === 'ip_forward')?.ok);
  });

  it('a bad egress mode is INVALID_ARGUMENT naming the value, and nothing is stored', async () => {
    for (const [options, internal, re] of [
      [{ egress: 'snat' }, false, /egress="snat" is not an egress mode/],
      [{ egress: 'masquerade' }, true, /contradicts --internal/],
    ] as const) {
      await assert.rejects(
        agents[0].client.create({ name: 'bad', options, internal, ipamConfig: [{ subnet: '10.94.0.0/24' }] }),
        (e: { code: status; details: string }) => e.code === status.INVALID_ARGUMENT && re.test(e.details),
      );
    }
    const list = await agents[0].client.list({});
    assert.ok(!list.networks.some((n) => n.name === 'bad'));
  });
});

function spawnOk(args: string[]): boolean {
  return sh('ip', args, { allowFail: true, timeoutMs: 5000 }).includes(' 0% packet loss');
}
