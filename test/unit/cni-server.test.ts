import * as assert from 'assert';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { status } from '@grpc/grpc-js';
import { CNI, CniServer, SUPPORTED_VERSIONS, cniEndpointName } from '../../agent/cni';
import type { CniBackend } from '../../agent/cni';
import type { PathIdentity } from '../../agent/sandbox-identity';
import type { EndpointRecord } from '../../control/model';
import type { ConnectResponse } from '../../control/generated/vxnet/v1/ConnectResponse';
import { VxError } from '../../control/errors';
import { quietLog } from '../helpers/fakes';

// The CNI server on a fake agent: networks, endpoints and network namespaces in memory, no etcd,
// no kernel, no root. Each test drives CniServer.handleRaw, what the socket handler calls with the
// shim's {env, stdin}; one test goes through the real unix socket.

type ConnectReq = Parameters<CniBackend['connect']>[0];
interface FakeNet {
  id: string;
  name: string;
  prefix: string;
  v6prefix: string;
  gw: { v4: string; v6: string; internal: boolean };
  size: number;
}
interface FakeNs {
  ino: number;
  interfaces: Map<string, string[]>;
}

class FakeCniBackend implements CniBackend {
  readonly networks: FakeNet[] = [
    {
      id: 'n-blue',
      name: 'blue',
      prefix: '10.1.0.',
      v6prefix: 'fd00:1::',
      gw: { v4: '10.1.0.1', v6: 'fd00:1::1', internal: false },
      size: 200,
    },
    {
      id: 'n-iso',
      name: 'iso',
      prefix: '10.2.0.',
      v6prefix: '',
      gw: { v4: '10.2.0.1', v6: '', internal: true },
      size: 200,
    },
    {
      id: 'n-tiny',
      name: 'tiny',
      prefix: '10.3.0.',
      v6prefix: '',
      gw: { v4: '10.3.0.1', v6: '', internal: false },
      size: 1,
    },
  ];
  readonly endpoints: EndpointRecord[] = [];
  readonly namespaces = new Map<string, FakeNs>(); // path -> the namespace it names now
  readonly connects: { req: ConnectReq; cni: { containerId: string; ifname: string }; access: string | undefined }[] =
    [];
  readonly disconnects: string[] = []; // endpoint names
  healthy = true;
  mtu = 1450;
  failConnect: Error | undefined;
  failDisconnect: Error | undefined;
  private seq = 0;
  private inode = 4026532000;

  constructor(readonly host = 'h1') {}

  netns(p: string): FakeNs {
    const ns = { ino: this.inode++, interfaces: new Map<string, string[]>() };
    this.namespaces.set(p, ns);
    return ns;
  }

  async connect(
    req: ConnectReq,
    cni: { containerId: string; ifname: string },
    access?: string,
  ): Promise<ConnectResponse> {
    this.connects.push({ req, cni, access });
    if (this.failConnect) throw this.failConnect;
    const n = this.networks.find((x) => x.name === req.network || x.id === req.network);
    if (!n) throw new VxError(status.NOT_FOUND, `network ${req.network} not found`);
    if (req.macAddress && !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(req.macAddress))
      throw new VxError(status.INVALID_ARGUMENT, `invalid MAC ${req.macAddress}`);
    if (req.ipv4Address && !req.ipv4Address.startsWith(n.prefix))
      throw new VxError(status.INVALID_ARGUMENT, `${req.ipv4Address} is not in the network's subnet`);
    const mine = this.endpoints.filter((e) => e.networkId === n.id);
    if (mine.some((e) => e.name === req.name))
      throw new VxError(status.ALREADY_EXISTS, `endpoint name ${req.name} is in use`);
    const used = new Set(mine.map((e) => e.ipv4.split('/')[0]));
    if (req.ipv4Address && used.has(req.ipv4Address))
      throw new VxError(status.ALREADY_EXISTS, `address ${req.ipv4Address} is in use`);
    let ip4 = req.ipv4Address;
    for (let i = 2; !ip4 && i < 2 + n.size; i++) if (!used.has(`${n.prefix}${i}`)) ip4 = `${n.prefix}${i}`;
    if (!ip4) throw new VxError(status.RESOURCE_EXHAUSTED, `no address left in ${n.name}`);
    const ns = this.namespaces.get(access ?? req.sandbox);
    if (!ns) throw new VxError(status.NOT_FOUND, `sandbox ${req.sandbox} does not exist`);
    const host = ip4.split('.')[3];
    const ep: EndpointRecord = {
      id: (++this.seq).toString(16).padStart(64, '0'),
      networkId: n.id,
      name: req.name,
      host: this.host,
      sandbox: req.sandbox,
      ifname: req.interfaceName,
      mac: req.macAddress.toLowerCase() || `02:42:0a:00:00:${Number(host).toString(16).padStart(2, '0')}`,
      ipv4: `${ip4}/24`,
      ipv6: n.v6prefix ? `${req.ipv6Address || `${n.v6prefix}${host}`}/64` : '',
      aliases: req.aliases,
      created: '',
      cni,
      netns: { dev: 4, ino: ns.ino, ...(access ? { hidden: true as const } : {}) },
    };
    this.endpoints.push(ep);
    ns.interfaces.set(
      req.interfaceName,
      [ep.ipv4, ep.ipv6].filter((a) => a),
    );
    return { mtu: this.mtu };
  }

  findByCni(containerId: string, ifname: string): EndpointRecord | undefined {
    return this.endpoints.find(
      (e) => e.host === this.host && e.cni?.containerId === containerId && e.cni.ifname === ifname,
    );
  }

  localCniEndpoints(network: string): EndpointRecord[] {
    const n = this.networks.find((x) => x.name === network || x.id === network);
    return this.endpoints.filter((e) => e.host === this.host && e.cni && e.networkId === n?.id);
  }

  async disconnectEndpoint(ep: EndpointRecord): Promise<void> {
    if (this.failDisconnect) throw this.failDisconnect;
    this.disconnects.push(ep.name);
    this.endpoints.splice(this.endpoints.indexOf(ep), 1);
    // A namespace that is gone already takes nothing with it.
    for (const ns of this.namespaces.values()) if (ns.ino === ep.netns?.ino) ns.interfaces.delete(ep.ifname);
  }

  async sandboxAddresses(sandbox: string, ifname: string): Promise<string[] | undefined> {
    return this.namespaces.get(sandbox)?.interfaces.get(ifname);
  }

  identify(sandbox: string): PathIdentity {
    const ns = this.namespaces.get(sandbox);
    return ns ? { dev: 4, ino: ns.ino } : undefined;
  }

  async etcdHealthy(): Promise<boolean> {
    return this.healthy;
  }

  gateways(networkId: string): { v4: string; v6: string; internal: boolean } {
    return this.networks.find((n) => n.id === networkId)?.gw ?? { v4: '', v6: '', internal: false };
  }

  // The resolver's settings for a network; none (the resolver off) unless a test sets them.
  resolver: { nameservers: string[]; search: string[]; options: string[] } | undefined;
  dns(): { nameservers: string[]; search: string[]; options: string[] } | undefined {
    return this.resolver;
  }
}

// Paths that name nothing on this machine: the server's own look (the podman access path) finds
// nothing there, so only the fake's namespaces count.
const root = path.join(os.tmpdir(), `vxnet-cni-unit-${process.pid}`, 'netns');
const NS = (name: string): string => path.join(root, name);

interface Answer {
  exit: number;
  stdout: string;
  out: Record<string, unknown> | undefined;
}

interface Call {
  cmd: string;
  id?: string;
  netns?: string;
  ifname?: string;
  args?: string;
  env?: Record<string, string>;
  conf?: Record<string, unknown>;
  stdin?: string;
}

function env(c: Call): Record<string, string> {
  const e: Record<string, string> = {
    CNI_COMMAND: c.cmd,
    CNI_CONTAINERID: c.id ?? 'c1',
    CNI_NETNS: c.netns ?? NS('a'),
    CNI_IFNAME: c.ifname ?? 'eth0',
    CNI_PATH: '/opt/cni/bin',
  };
  if (c.args !== undefined) e.CNI_ARGS = c.args;
  return { ...e, ...c.env };
}

const conf = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  cniVersion: '1.0.0',
  name: 'vxnet-blue',
  type: 'vxnet',
  network: 'blue',
  ...extra,
});

async function rawCall(server: CniServer, raw: string): Promise<Answer> {
  const r = await server.handleRaw(raw);
  assert.ok(r.stdout === '' || r.stdout.endsWith('\n'), 'stdout is empty or one line');
  return { ...r, out: r.stdout ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined };
}

function call(server: CniServer, c: Call): Promise<Answer> {
  return rawCall(server, JSON.stringify({ env: env(c), stdin: c.stdin ?? JSON.stringify(c.conf ?? conf()) }));
}

function setup(host = 'h1'): { b: FakeCniBackend; s: CniServer } {
  const b = new FakeCniBackend(host);
  for (const n of ['a', 'b', 'c', 'd']) b.netns(NS(n));
  return { b, s: new CniServer(b, quietLog) };
}

// A CNI error result: exit 1, {cniVersion, code, msg, details}.
function refused(a: Answer, code: number, msg?: RegExp): void {
  assert.strictEqual(a.exit, 1, `expected code ${code}, got ${a.stdout}`);
  assert.ok(a.out, 'an error result on stdout');
  assert.deepStrictEqual(Object.keys(a.out).sort(), ['cniVersion', 'code', 'details', 'msg']);
  assert.strictEqual(a.out.code, code, a.stdout);
  if (msg) assert.match(String(a.out.msg), msg);
}

function ok(a: Answer): Record<string, unknown> | undefined {
  assert.strictEqual(a.exit, 0, a.stdout);
  return a.out;
}

interface AddResult {
  cniVersion: string;
  interfaces: Record<string, unknown>[];
  ips: Record<string, unknown>[];
  routes: Record<string, unknown>[];
  dns: Record<string, unknown>;
}

async function add(s: CniServer, c: Partial<Call> = {}): Promise<AddResult> {
  const out = ok(await call(s, { cmd: 'ADD', ...c }));
  assert.ok(out, 'ADD prints a result');
  return out as unknown as AddResult;
}

describe('CNI server on a fake agent', () => {
  describe('VERSION', () => {
    it('answers the supported versions in the version asked, and asks nothing of the agent', async () => {
      const { b, s } = setup();
      for (const v of SUPPORTED_VERSIONS) {
        const out = ok(
          await call(s, {
            cmd: 'VERSION',
            env: { CNI_CONTAINERID: '', CNI_NETNS: '', CNI_IFNAME: '' },
            stdin: JSON.stringify({ cniVersion: v }),
          }),
        );
        assert.deepStrictEqual(out, {
          cniVersion: v,
          supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
        });
      }
      assert.strictEqual(b.connects.length, 0);
    });
  });

  describe('STATUS', () => {
    it('prints nothing when etcd is reachable, 50 when it is not', async () => {
      const { b, s } = setup();
      assert.deepStrictEqual(await call(s, { cmd: 'STATUS', conf: conf({ cniVersion: '1.1.0' }) }), {
        exit: 0,
        stdout: '',
        out: undefined,
      });
      b.healthy = false;
      refused(
        await call(s, { cmd: 'STATUS', conf: conf({ cniVersion: '1.1.0' }) }),
        CNI.NOT_AVAILABLE,
        /cannot reach etcd/,
      );
    });

    it('without stdin, which the shim lets through for STATUS and GC: STATUS answers, GC is refused for naming no network', async () => {
      const { b, s } = setup();
      for (const stdin of ['', ' \n']) {
        b.healthy = true;
        ok(await call(s, { cmd: 'STATUS', stdin }));
        b.healthy = false;
        refused(await call(s, { cmd: 'STATUS', stdin }), CNI.NOT_AVAILABLE);
        refused(await call(s, { cmd: 'GC', stdin }), CNI.INVALID_CONFIG);
      }
      refused(await call(s, { cmd: 'ADD', stdin: '' }), CNI.DECODE, /not valid JSON/);
      refused(await call(s, { cmd: 'DEL', stdin: '' }), CNI.DECODE);
    });
  });

  describe('error codes the spec defines', () => {
    it("5: the shim's request is not JSON", async () => {
      const { s } = setup();
      const a = await rawCall(s, '{"env": ');
      refused(a, CNI.IO, /malformed request/);
      assert.strictEqual(a.out?.cniVersion, '1.0.0', 'before any configuration is read, errors are in 1.0.0');
    });

    it('4: CNI_COMMAND missing or unknown, the variables a command needs missing', async () => {
      const { b, s } = setup();
      refused(await call(s, { cmd: '' }), CNI.INVALID_ENV, /CNI_COMMAND is not set/);
      refused(await call(s, { cmd: 'FROB' }), CNI.INVALID_ENV, /CNI_COMMAND FROB is not one of/);
      refused(await call(s, { cmd: 'ADD', id: '' }), CNI.INVALID_ENV, /^CNI_CONTAINERID is not set$/);
      refused(
        await call(s, { cmd: 'ADD', netns: '', ifname: '' }),
        CNI.INVALID_ENV,
        /^CNI_NETNS, CNI_IFNAME are not set$/,
      );
      refused(await call(s, { cmd: 'DEL', ifname: '' }), CNI.INVALID_ENV, /CNI_IFNAME/);
      refused(await call(s, { cmd: 'CHECK', netns: '' }), CNI.INVALID_ENV, /CNI_NETNS/);
      assert.strictEqual(b.connects.length, 0);
    });

    it("4: CNI_ARGS it does not know, unless IgnoreUnknown; the kubelet's are known", async () => {
      const { b, s } = setup();
      refused(
        await call(s, { cmd: 'ADD', args: 'FOO=1;BAR=2' }),
        CNI.INVALID_ENV,
        /unknown CNI_ARGS FOO, BAR \(set IgnoreUnknown=1/,
      );
      refused(await call(s, { cmd: 'ADD', args: 'IgnoreUnknown=0;FOO=1' }), CNI.INVALID_ENV);
      assert.strictEqual(b.connects.length, 0);
      await add(s, { id: 'c1', args: 'IgnoreUnknown=1;FOO=1' });
      await add(s, { id: 'c2', netns: NS('b'), args: 'IgnoreUnknown=true;FOO=1' });
      await add(s, {
        id: 'c3',
        netns: NS('c'),
        args: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=c3;K8S_POD_UID=u1',
      });
      assert.strictEqual(b.endpoints.length, 3);
    });

    it('6: stdin is not JSON, or not a JSON object', async () => {
      const { s } = setup();
      const a = await call(s, { cmd: 'ADD', stdin: '{"cniVersion": "1.0.0",' });
      refused(a, CNI.DECODE, /not valid JSON/);
      assert.notStrictEqual(a.out?.details, '', "the parser's words are in details");
      refused(await call(s, { cmd: 'ADD', stdin: 'null' }), CNI.DECODE, /not a JSON object/);
      refused(await call(s, { cmd: 'ADD', stdin: '42' }), CNI.DECODE, /not a JSON object/);
      refused(await call(s, { cmd: 'CHECK', stdin: ' ' }), CNI.DECODE);
    });

    it('1: a cniVersion it does not support, in every command but VERSION; details list the supported ones', async () => {
      const { b, s } = setup();
      for (const cmd of ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC']) {
        const a = await call(s, { cmd, conf: conf({ cniVersion: '0.2.0' }) });
        refused(a, CNI.INCOMPATIBLE_VERSION, /cniVersion 0\.2\.0 is not supported/);
        assert.strictEqual(a.out?.details, 'supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0');
      }
      refused(await call(s, { cmd: 'ADD', conf: conf({ cniVersion: '2.0.0' }) }), CNI.INCOMPATIBLE_VERSION);
      assert.strictEqual(b.connects.length, 0);
    });

    it('7: a configuration of another type, or naming no network (ADD, CHECK, GC)', async () => {
      const { b, s } = setup();
      for (const cmd of ['ADD', 'CHECK', 'GC']) {
        refused(
          await call(s, { cmd, conf: conf({ type: 'bridge' }) }),
          CNI.INVALID_CONFIG,
          /type is "bridge", not vxnet/,
        );
        refused(
          await call(s, { cmd, conf: { cniVersion: '1.0.0', type: 'vxnet' } }),
          CNI.INVALID_CONFIG,
          /names no vxnet network/,
        );
      }
      assert.strictEqual(b.connects.length, 0);
    });

    it('an error result is in the version the runtime asked for', async () => {
      const { s } = setup();
      for (const v of SUPPORTED_VERSIONS) {
        const a = await call(s, { cmd: 'ADD', conf: conf({ cniVersion: v, type: 'bridge' }) });
        refused(a, CNI.INVALID_CONFIG);
        assert.strictEqual(a.out?.cniVersion, v);
      }
      const a = await call(s, { cmd: 'ADD', conf: conf({ cniVersion: undefined, type: 'bridge' }) });
      assert.strictEqual(a.out?.cniVersion, '1.0.0', 'no cniVersion: 1.0.0');
    });

    it('11: the agent cannot reach etcd (UNAVAILABLE): try again later', async () => {
      const { b, s } = setup();
      b.failConnect = new VxError(status.UNAVAILABLE, 'etcd is unreachable or not answering: deadline');
      refused(await call(s, { cmd: 'ADD' }), CNI.TRY_AGAIN, /etcd is unreachable/);
      b.failConnect = undefined;
      await add(s);
      b.failDisconnect = new VxError(status.UNAVAILABLE, 'etcd is unreachable');
      refused(await call(s, { cmd: 'DEL' }), CNI.TRY_AGAIN, /etcd is unreachable/);
      assert.strictEqual(b.endpoints.length, 1, 'a DEL that failed leaves the endpoint for the retry');
    });
  });

  describe("vxnet's own error codes, from what the agent refuses", () => {
    it('100: a bad MAC or an address outside the subnet', async () => {
      const { b, s } = setup();
      refused(
        await call(s, { cmd: 'ADD', conf: conf({ runtimeConfig: { mac: 'zz:00' } }) }),
        CNI.VX_INVALID,
        /invalid MAC zz:00/,
      );
      refused(await call(s, { cmd: 'ADD', args: 'IP=192.168.9.9' }), CNI.VX_INVALID, /not in the network's subnet/);
      assert.strictEqual(b.endpoints.length, 0);
    });

    it('101: the same container and interface again, or an address in use', async () => {
      const { b, s } = setup();
      await add(s, { args: 'IP=10.1.0.9' });
      refused(await call(s, { cmd: 'ADD' }), CNI.VX_EXISTS, /in use/);
      refused(
        await call(s, { cmd: 'ADD', id: 'c2', netns: NS('b'), args: 'IP=10.1.0.9' }),
        CNI.VX_EXISTS,
        /address 10\.1\.0\.9 is in use/,
      );
      assert.strictEqual(b.endpoints.length, 1);
    });

    it('102: the network does not exist; nothing is recorded', async () => {
      const { b, s } = setup();
      refused(
        await call(s, { cmd: 'ADD', conf: conf({ network: 'nosuch' }) }),
        CNI.VX_NOT_FOUND,
        /network nosuch not found/,
      );
      assert.strictEqual(b.endpoints.length, 0);
    });

    it('103: no address left', async () => {
      const { s } = setup();
      await add(s, { conf: conf({ network: 'tiny' }) });
      refused(
        await call(s, { cmd: 'ADD', id: 'c2', netns: NS('b'), conf: conf({ network: 'tiny' }) }),
        CNI.VX_EXHAUSTED,
        /no address left/,
      );
    });

    it('104: a precondition of the agent fails', async () => {
      const { b, s } = setup();
      b.failConnect = new VxError(status.FAILED_PRECONDITION, 'the agent has not loaded the cluster yet');
      refused(await call(s, { cmd: 'ADD' }), CNI.VX_PRECONDITION, /not loaded/);
    });

    it('110: anything else the agent throws, a plain error or another gRPC code', async () => {
      const { b, s } = setup();
      b.failConnect = new Error('EPERM: operation not permitted');
      refused(await call(s, { cmd: 'ADD' }), CNI.VX_INTERNAL, /EPERM/);
      b.failConnect = new VxError(status.INTERNAL, 'the view is inconsistent');
      refused(await call(s, { cmd: 'ADD' }), CNI.VX_INTERNAL, /inconsistent/);
      b.failConnect = new VxError(status.PERMISSION_DENIED, 'no');
      refused(await call(s, { cmd: 'ADD' }), CNI.VX_INTERNAL);
      b.failConnect = undefined;
      b.etcdHealthy = () => Promise.reject(new Error('boom'));
      refused(await call(s, { cmd: 'STATUS' }), CNI.VX_INTERNAL, /boom/);
    });
  });

  describe('ADD results per version', () => {
    it('0.3.0, 0.3.1, 0.4.0: ips carry "version"; 1.0.0 drops it; 1.1.0 adds the interface MTU', async () => {
      for (const v of SUPPORTED_VERSIONS) {
        const { s } = setup();
        const r = await add(s, { conf: conf({ cniVersion: v }) });
        const old = v.startsWith('0.');
        assert.deepStrictEqual(
          r,
          {
            cniVersion: v,
            interfaces: [
              { name: 'eth0', mac: '02:42:0a:00:00:02', sandbox: NS('a'), ...(v === '1.1.0' ? { mtu: 1450 } : {}) },
            ],
            ips: [
              { ...(old ? { version: '4' } : {}), address: '10.1.0.2/24', gateway: '10.1.0.1', interface: 0 },
              { ...(old ? { version: '6' } : {}), address: 'fd00:1::2/64', gateway: 'fd00:1::1', interface: 0 },
            ],
            routes: [
              { dst: '0.0.0.0/0', gw: '10.1.0.1' },
              { dst: '::/0', gw: 'fd00:1::1' },
            ],
            dns: {},
          },
          v,
        );
      }
    });

    it('dns: the resolver on the gateway, the search domains and options', async () => {
      const { b, s } = setup();
      b.resolver = { nameservers: ['10.1.0.1'], search: ['blue.vxnet', 'vxnet'], options: ['ndots:1'] };
      const r = await add(s, { conf: conf() });
      assert.deepStrictEqual(r.dns, {
        nameservers: ['10.1.0.1'],
        domain: 'blue.vxnet',
        search: ['blue.vxnet', 'vxnet'],
        options: ['ndots:1'],
      });
    });

    it('a configuration without cniVersion is answered in 1.0.0', async () => {
      const { s } = setup();
      const r = await add(s, { conf: conf({ cniVersion: undefined }) });
      assert.strictEqual(r.cniVersion, '1.0.0');
      assert.ok(!('version' in r.ips[0]) && !('mtu' in r.interfaces[0]));
    });

    it('an internal network: no default routes; no IPv6 subnet: one address', async () => {
      const { s } = setup();
      const r = await add(s, { conf: conf({ network: 'iso' }) });
      assert.deepStrictEqual(r.routes, []);
      assert.deepStrictEqual(r.ips, [{ address: '10.2.0.2/24', gateway: '10.2.0.1', interface: 0 }]);
    });

    it('"name" names the network when "network" is absent', async () => {
      const { b, s } = setup();
      await add(s, { conf: { cniVersion: '1.0.0', name: 'blue', type: 'vxnet' } });
      assert.strictEqual(b.connects[0].req.network, 'blue');
    });
  });

  describe('ADD: what reaches the agent', () => {
    it('one Connect with the per-host endpoint name and the CNI identity', async () => {
      const { b, s } = setup('node a');
      const id = 'f'.repeat(64);
      await add(s, { id, ifname: 'net1' });
      assert.strictEqual(b.connects.length, 1);
      const { req, cni, access } = b.connects[0];
      assert.deepStrictEqual(req, {
        network: 'blue',
        sandbox: NS('a'),
        interfaceName: 'net1',
        ipv4Address: '',
        ipv6Address: '',
        macAddress: '',
        aliases: [],
        name: `cni-node_a-${'f'.repeat(24)}-net1`,
      });
      assert.strictEqual(req.name, cniEndpointName('node a', id, 'net1'));
      assert.deepStrictEqual(cni, { containerId: id, ifname: 'net1' });
      assert.strictEqual(access, undefined, 'the namespace path is used as it is');
    });

    it('the same container ID on two hosts is two endpoints with two names', async () => {
      const h1 = setup('h1');
      const h2 = setup('h2');
      await add(h1.s);
      await add(h2.s);
      assert.notStrictEqual(h1.b.connects[0].req.name, h2.b.connects[0].req.name);
      assert.strictEqual(h1.b.connects[0].req.name, 'cni-h1-c1-eth0');
    });

    it('static addresses and MAC from the capabilities (runtimeConfig.ips, mac), prefixes dropped', async () => {
      const { b, s } = setup();
      const r = await add(s, {
        conf: conf({
          runtimeConfig: {
            ips: ['10.1.0.9/24', 'fd00:1::9/64'],
            mac: '02:00:00:00:00:09',
            aliases: { 'vxnet-blue': ['web', 'www'] },
          },
        }),
      });
      assert.deepStrictEqual(b.connects[0].req, {
        ...b.connects[0].req,
        ipv4Address: '10.1.0.9',
        ipv6Address: 'fd00:1::9',
        macAddress: '02:00:00:00:00:09',
        aliases: ['web', 'www'],
      });
      assert.deepStrictEqual(
        r.ips.map((i) => i.address),
        ['10.1.0.9/24', 'fd00:1::9/64'],
      );
      assert.strictEqual(r.interfaces[0].mac, '02:00:00:00:00:09');
    });

    it("static addresses and MAC from CNI_ARGS IP= and MAC= (podman's way), one or two families", async () => {
      const { b, s } = setup();
      await add(s, { args: 'IgnoreUnknown=1;IP=10.1.0.7;MAC=02:00:00:00:00:07' });
      assert.deepStrictEqual(
        [b.connects[0].req.ipv4Address, b.connects[0].req.ipv6Address, b.connects[0].req.macAddress],
        ['10.1.0.7', '', '02:00:00:00:00:07'],
      );
      await add(s, { id: 'c2', netns: NS('b'), args: 'IP=fd00:1::8/64,10.1.0.8/24' });
      assert.deepStrictEqual(
        [b.connects[1].req.ipv4Address, b.connects[1].req.ipv6Address, b.connects[1].req.macAddress],
        ['10.1.0.8', 'fd00:1::8', ''],
      );
    });

    it('the capabilities win over CNI_ARGS', async () => {
      const { b, s } = setup();
      await add(s, {
        args: 'IP=10.1.0.7;MAC=02:00:00:00:00:07',
        conf: conf({ runtimeConfig: { ips: ['10.1.0.9/24'], mac: '02:00:00:00:00:09' } }),
      });
      assert.deepStrictEqual(
        [b.connects[0].req.ipv4Address, b.connects[0].req.macAddress],
        ['10.1.0.9', '02:00:00:00:00:09'],
      );
    });

    it("aliases keyed by the network's vxnet name count too; port mappings are accepted", async () => {
      const { b, s } = setup();
      await add(s, {
        conf: conf({
          runtimeConfig: {
            aliases: { blue: ['db'] },
            portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
          },
        }),
      });
      assert.deepStrictEqual(b.connects[0].req.aliases, ['db']);
    });

    it('a namespace the agent cannot see but the shim passes through /proc/<pid>/root (podman)', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vxnet-cni-'));
      try {
        const via = path.join(dir, 'netns-web');
        fs.writeFileSync(via, '');
        const { b, s } = setup();
        const ns = b.netns(via);
        const hidden = { netns: '/run/netns/podman-web-not-here', env: { CNI_VXNET_NETNS_ACCESS: via } };
        const r = await add(s, hidden);
        assert.strictEqual(b.connects[0].access, via);
        assert.strictEqual(
          b.connects[0].req.sandbox,
          '/run/netns/podman-web-not-here',
          "the record keeps the runtime's path",
        );
        assert.strictEqual(r.interfaces[0].sandbox, '/run/netns/podman-web-not-here');
        // CHECK looks through the same access path.
        ok(await call(s, { cmd: 'CHECK', ...hidden, conf: conf({ prevResult: r }) }));
        ns.interfaces.delete('eth0');
        refused(await call(s, { cmd: 'CHECK', ...hidden }), CNI.VX_CHECK_FAILED, /interface eth0 is missing/);
        // Through the access path the agent sees the runtime's namespace, so another one there
        // (recorded identity marked hidden) is a difference too.
        b.netns(via).interfaces.set('eth0', ['10.1.0.2/24', 'fd00:1::2/64']);
        refused(await call(s, { cmd: 'CHECK', ...hidden }), CNI.VX_CHECK_FAILED, /is not the network namespace/);
        // An access path that names nothing is not used.
        await add(s, { id: 'c2', netns: NS('b'), env: { CNI_VXNET_NETNS_ACCESS: path.join(dir, 'nothing') } });
        assert.strictEqual(b.connects[1].access, undefined);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('DEL', () => {
    it('removes the endpoint ADD made and prints nothing', async () => {
      const { b, s } = setup();
      await add(s);
      assert.deepStrictEqual(await call(s, { cmd: 'DEL' }), { exit: 0, stdout: '', out: undefined });
      assert.deepStrictEqual(b.disconnects, ['cni-h1-c1-eth0']);
      assert.strictEqual(b.endpoints.length, 0);
    });

    it('succeeds when the endpoint is gone already (twice, never added, another network)', async () => {
      const { b, s } = setup();
      await add(s);
      ok(await call(s, { cmd: 'DEL' }));
      ok(await call(s, { cmd: 'DEL' }));
      ok(await call(s, { cmd: 'DEL', id: 'never' }));
      ok(await call(s, { cmd: 'DEL', conf: conf({ network: 'nosuch' }) }));
      assert.strictEqual(b.disconnects.length, 1);
    });

    it('succeeds when the namespace is gone, with CNI_NETNS empty as the spec allows', async () => {
      const { b, s } = setup();
      await add(s);
      b.namespaces.delete(NS('a'));
      ok(await call(s, { cmd: 'DEL', netns: '' }));
      assert.strictEqual(b.endpoints.length, 0);
    });

    it("only the interface asked for, and only this host's attachment", async () => {
      const { b, s } = setup('h1');
      await add(s, { ifname: 'eth0' });
      await add(s, { ifname: 'eth1' });
      const other: EndpointRecord = { ...b.endpoints[0], id: 'e'.repeat(64), host: 'h2', name: 'cni-h2-c1-eth0' };
      b.endpoints.push(other);
      ok(await call(s, { cmd: 'DEL', ifname: 'eth1' }));
      ok(await call(s, { cmd: 'DEL', ifname: 'eth0' }));
      assert.deepStrictEqual(b.disconnects, ['cni-h1-c1-eth1', 'cni-h1-c1-eth0']);
      assert.deepStrictEqual(b.endpoints, [other]);
    });

    it('a failure of the agent other than unreachable: 110, the endpoint stays', async () => {
      const { b, s } = setup();
      await add(s);
      b.failDisconnect = new Error('netlink: device busy');
      refused(await call(s, { cmd: 'DEL' }), CNI.VX_INTERNAL, /device busy/);
      assert.strictEqual(b.endpoints.length, 1);
    });
  });

  describe('CHECK', () => {
    it('passes for what ADD made, with and without prevResult, in every version that has CHECK', async () => {
      for (const v of ['0.4.0', '1.0.0', '1.1.0']) {
        const { s } = setup();
        const r = await add(s, { conf: conf({ cniVersion: v }) });
        assert.deepStrictEqual(await call(s, { cmd: 'CHECK', conf: conf({ cniVersion: v, prevResult: r }) }), {
          exit: 0,
          stdout: '',
          out: undefined,
        });
        ok(await call(s, { cmd: 'CHECK', conf: conf({ cniVersion: v }) }));
      }
    });

    it("105: no endpoint for the container (never added, deleted, another host's)", async () => {
      const { b, s } = setup('h1');
      refused(
        await call(s, { cmd: 'CHECK' }),
        CNI.VX_CHECK_FAILED,
        /no vxnet endpoint for container c1 interface eth0/,
      );
      await add(s);
      ok(await call(s, { cmd: 'DEL' }));
      refused(await call(s, { cmd: 'CHECK' }), CNI.VX_CHECK_FAILED);
      const h2 = setup('h2');
      await add(h2.s);
      b.endpoints.push(...h2.b.endpoints);
      refused(await call(s, { cmd: 'CHECK' }), CNI.VX_CHECK_FAILED, /no vxnet endpoint/);
    });

    it('105: prevResult has an address the endpoint does not', async () => {
      const { s } = setup();
      const r = await add(s);
      const prev = { ...r, ips: [{ address: '10.1.0.99/24', gateway: '10.1.0.1', interface: 0 }] };
      refused(
        await call(s, { cmd: 'CHECK', conf: conf({ prevResult: prev }) }),
        CNI.VX_CHECK_FAILED,
        /prevResult has 10\.1\.0\.99\/24 but the endpoint has 10\.1\.0\.2\/24, fd00:1::2\/64/,
      );
    });

    it("105: the path names another namespace now (the backend's identify), or none", async () => {
      const { b, s } = setup();
      await add(s);
      // A namespace created again under the same path, with an eth0 holding the same addresses:
      // only its identity tells it apart.
      const again = b.netns(NS('a'));
      again.interfaces.set('eth0', ['10.1.0.2/24', 'fd00:1::2/64']);
      refused(
        await call(s, { cmd: 'CHECK' }),
        CNI.VX_CHECK_FAILED,
        /is not the network namespace that ADD attached container c1 to/,
      );
      b.namespaces.delete(NS('a'));
      refused(await call(s, { cmd: 'CHECK' }), CNI.VX_CHECK_FAILED, /is not the network namespace/);
    });

    it('105: the interface is missing, or lacks an address', async () => {
      const { b, s } = setup();
      await add(s);
      const ns = b.namespaces.get(NS('a'))!;
      ns.interfaces.set('eth0', ['10.1.0.2/24']);
      refused(await call(s, { cmd: 'CHECK' }), CNI.VX_CHECK_FAILED, /interface eth0 in .* lacks fd00:1::2\/64/);
      ns.interfaces.delete('eth0');
      refused(await call(s, { cmd: 'CHECK' }), CNI.VX_CHECK_FAILED, /interface eth0 is missing in/);
    });

    it('an endpoint recorded before identities were: addresses are still checked', async () => {
      const { b, s } = setup();
      await add(s);
      delete b.endpoints[0].netns;
      const again = b.netns(NS('a'));
      again.interfaces.set('eth0', ['10.1.0.2/24', 'fd00:1::2/64']);
      ok(await call(s, { cmd: 'CHECK' }));
      again.interfaces.clear();
      refused(await call(s, { cmd: 'CHECK' }), CNI.VX_CHECK_FAILED, /missing/);
    });
  });

  describe('GC', () => {
    async function three(): Promise<{ b: FakeCniBackend; s: CniServer }> {
      const x = setup('h1');
      await add(x.s, { id: 'c1' });
      await add(x.s, { id: 'c2', netns: NS('b') });
      await add(x.s, { id: 'c3', netns: NS('c') });
      await add(x.s, { id: 'c1', ifname: 'eth1' });
      await add(x.s, { id: 'c4', netns: NS('d'), conf: conf({ network: 'iso' }) }); // another network
      const h2 = setup('h2');
      await add(h2.s, { id: 'c9' });
      x.b.endpoints.push(...h2.b.endpoints); // another host's attachment in the same network
      return x;
    }
    const gc = (extra: Record<string, unknown>): Call => ({
      cmd: 'GC',
      env: { CNI_CONTAINERID: '', CNI_NETNS: '', CNI_IFNAME: '' },
      conf: conf({ cniVersion: '1.1.0', ...extra }),
    });
    const left = (b: FakeCniBackend): string[] => b.endpoints.map((e) => e.name).sort();

    it("removes this host's attachments of the network that are not in cni.dev/valid-attachments, by container and interface", async () => {
      const { b, s } = await three();
      assert.deepStrictEqual(
        await call(
          s,
          gc({
            'cni.dev/valid-attachments': [
              { containerID: 'c1', ifname: 'eth0' },
              { containerID: 'c3', ifname: 'eth0' },
            ],
          }),
        ),
        { exit: 0, stdout: '', out: undefined },
      );
      assert.deepStrictEqual(b.disconnects.sort(), ['cni-h1-c1-eth1', 'cni-h1-c2-eth0']);
      assert.deepStrictEqual(left(b), ['cni-h1-c1-eth0', 'cni-h1-c3-eth0', 'cni-h1-c4-eth0', 'cni-h2-c9-eth0']);
    });

    it('reads the older cni.dev/attachments; cni.dev/valid-attachments wins when both are there (libcni sends both)', async () => {
      const older = await three();
      ok(await call(older.s, gc({ 'cni.dev/attachments': [{ containerID: 'c2', ifname: 'eth0' }] })));
      assert.deepStrictEqual(left(older.b), ['cni-h1-c2-eth0', 'cni-h1-c4-eth0', 'cni-h2-c9-eth0']);
      const both = await three();
      ok(
        await call(
          both.s,
          gc({
            'cni.dev/valid-attachments': [{ containerID: 'c3', ifname: 'eth0' }],
            'cni.dev/attachments': [{ containerID: 'c2', ifname: 'eth0' }],
          }),
        ),
      );
      assert.deepStrictEqual(left(both.b), ['cni-h1-c3-eth0', 'cni-h1-c4-eth0', 'cni-h2-c9-eth0']);
    });

    it("an empty or null list (a runtime with no attachments) removes all of this host's in the network", async () => {
      for (const list of [[], null]) {
        const { b, s } = await three();
        ok(await call(s, gc({ 'cni.dev/valid-attachments': list, 'cni.dev/attachments': list })));
        assert.deepStrictEqual(left(b), ['cni-h1-c4-eth0', 'cni-h2-c9-eth0']);
      }
    });

    it('the network by its vxnet ID, or by "name" alone', async () => {
      const byId = await three();
      ok(await call(byId.s, gc({ network: 'n-blue', 'cni.dev/valid-attachments': [] })));
      assert.deepStrictEqual(left(byId.b), ['cni-h1-c4-eth0', 'cni-h2-c9-eth0']);
      const byName = await three();
      ok(
        await call(byName.s, {
          ...gc({}),
          conf: { cniVersion: '1.1.0', name: 'iso', type: 'vxnet', 'cni.dev/valid-attachments': [] },
        }),
      );
      assert.deepStrictEqual(byName.b.disconnects, ['cni-h1-c4-eth0']);
    });

    it('a removal the agent cannot do fails GC with its code', async () => {
      const { b, s } = await three();
      b.failDisconnect = new VxError(status.UNAVAILABLE, 'etcd is unreachable');
      refused(await call(s, gc({ 'cni.dev/valid-attachments': [] })), CNI.TRY_AGAIN);
    });
  });

  describe('the unix socket', () => {
    it('reads the request to the end of the half-closed stream and answers {exit, stdout}', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vxnet-cni-'));
      const { b, s } = setup();
      const sock = path.join(dir, 'sub', 'cni.sock');
      try {
        await s.listen(sock);
        assert.strictEqual(fs.statSync(sock).mode & 0o777, 0o600);
        const ask = (req: string): Promise<{ exit: number; stdout: string }> =>
          new Promise((resolve, reject) => {
            const c = net.createConnection(sock);
            const chunks: Buffer[] = [];
            c.on('data', (d: Buffer) => chunks.push(d));
            c.on('error', reject);
            c.on('end', () =>
              resolve(JSON.parse(Buffer.concat(chunks).toString()) as { exit: number; stdout: string }),
            );
            // In two writes, as a large stdin arrives.
            c.write(req.slice(0, 10));
            c.end(req.slice(10));
          });
        const r = await ask(JSON.stringify({ env: env({ cmd: 'ADD' }), stdin: JSON.stringify(conf()) }));
        assert.strictEqual(r.exit, 0);
        assert.strictEqual((JSON.parse(r.stdout) as AddResult).ips[0].address, '10.1.0.2/24');
        assert.strictEqual(b.endpoints.length, 1);
        const bad = await ask('not json');
        assert.strictEqual(bad.exit, 1);
        assert.strictEqual((JSON.parse(bad.stdout) as { code: number }).code, CNI.IO);
      } finally {
        s.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
