import * as assert from 'assert';
import { spawn, spawnSync, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startEtcd, EtcdCluster } from '../helpers/etcd';
import { TestAgent, ROOT, CLI, runCli } from '../helpers/agent';
import { useCluster } from '../helpers/cluster';
import { Topology, ping, fdbOf, neighOf, waitFor, sh } from '../helpers/topology';
import { makePki, Pki } from '../helpers/pki';
import { nsGet } from '../helpers/nshttp';

function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) {
      sum += Number(m[3]);
      found = true;
    }
  }
  return found ? sum : NaN;
}

describe('operations: units, install, TLS and auth to etcd, metrics, events, doctor, hosts', function () {
  this.timeout(180000);

  describe('systemd units and install.sh', () => {
    let root: string;
    before(() => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'vxt-root-'));
    });
    after(() => fs.rmSync(root, { recursive: true, force: true }));

    it('systemd-analyze verify passes on every unit', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vxt-units-'));
      try {
        for (const f of fs.readdirSync(path.join(ROOT, 'deploy', 'systemd'))) {
          // The unit names the installed /usr/bin/vxnet; verify it against this checkout's bin/vxnet.
          const text = fs
            .readFileSync(path.join(ROOT, 'deploy', 'systemd', f), 'utf8')
            .replace(/\/usr\/bin\/vxnet/g, path.join(ROOT, 'bin', 'vxnet'));
          fs.writeFileSync(path.join(dir, f), text);
          const r = spawnSync('systemd-analyze', ['verify', path.join(dir, f)], { encoding: 'utf8', timeout: 30000 });
          assert.strictEqual(r.status, 0, `${f}: ${r.stderr}${r.stdout}`);
          assert.strictEqual(r.stderr.trim(), '', `${f}: ${r.stderr}`);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('installs from the checkout, again idempotently, and uninstalls what it installed', () => {
      const run = (args: string[]): string =>
        execFileSync('bash', [path.join(ROOT, 'deploy', 'install.sh'), '--root', root, ...args], {
          encoding: 'utf8',
          timeout: 120000,
        });
      run([]);
      const bin = path.join(root, 'usr', 'bin', 'vxnet');
      assert.match(execFileSync(bin, ['--version'], { encoding: 'utf8' }), /vxnet version \d/);
      assert.ok(fs.existsSync(path.join(root, 'etc', 'systemd', 'system', 'vxnet-agent.service')));
      const conf = path.join(root, 'etc', 'vxnet', 'agent.yaml');
      assert.strictEqual(fs.statSync(conf).mode & 0o777, 0o600);
      fs.appendFileSync(conf, '# changed by the operator\n');
      run([]);
      assert.match(fs.readFileSync(conf, 'utf8'), /changed by the operator/, 'a second install overwrote the config');
      run(['--uninstall']);
      assert.ok(!fs.existsSync(path.join(root, 'usr', 'lib', 'vxnet')));
      assert.ok(!fs.existsSync(bin));
      assert.ok(fs.existsSync(conf), 'a changed config must be kept');
    });

    it('installs from the tarball that npm pack makes', () => {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), 'vxt-pack-'));
      try {
        execFileSync('npm', ['pack', '--silent', '--pack-destination', out], {
          cwd: ROOT,
          encoding: 'utf8',
          timeout: 60000,
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        const tgz = fs.readdirSync(out).find((f) => f.endsWith('.tgz'))!;
        const r2 = fs.mkdtempSync(path.join(os.tmpdir(), 'vxt-root2-'));
        execFileSync('bash', [path.join(ROOT, 'deploy', 'install.sh'), '--root', r2, '--from', path.join(out, tgz)], {
          encoding: 'utf8',
          timeout: 120000,
        });
        assert.match(
          execFileSync(path.join(r2, 'usr', 'bin', 'vxnet'), ['--version'], { encoding: 'utf8' }),
          /vxnet version/,
        );
        fs.rmSync(r2, { recursive: true, force: true });
      } finally {
        fs.rmSync(out, { recursive: true, force: true });
      }
    });
  });

  describe('etcd over TLS with client certificates, and with user/password', () => {
    let pki: Pki;
    let tlsEtcd: EtcdCluster;
    let authEtcd: EtcdCluster;
    before(async () => {
      pki = makePki();
      pki.ca('ca');
      pki.ca('rogue');
      const server = pki.leaf('ca', 'etcd-server', { ip: '127.0.0.1' });
      pki.leaf('ca', 'agent', { client: true });
      pki.leaf('rogue', 'stranger', { client: true });
      tlsEtcd = await startEtcd(1, {
        cert: server.cert,
        key: server.key,
        ca: `${pki.dir}/ca.crt`,
        clientCertAuth: true,
      });
      authEtcd = await startEtcd(1);
      const ctl = (args: string[]): string =>
        execFileSync('etcdctl', ['--endpoints', authEtcd.clientUrls[0], ...args], {
          encoding: 'utf8',
          env: { ...process.env, ETCDCTL_API: '3' },
        });
      ctl(['user', 'add', 'root', '--new-user-password=rootpw', '--interactive=false']);
      ctl(['user', 'grant-role', 'root', 'root']);
      ctl(['user', 'add', 'vxnet', '--new-user-password=s3cret', '--interactive=false']);
      ctl(['role', 'add', 'vxnet']);
      ctl(['role', 'grant-permission', 'vxnet', '--prefix=true', 'readwrite', '/vxnet/']);
      ctl(['user', 'grant-role', 'vxnet', 'vxnet']);
      ctl(['auth', 'enable']);
    });
    after(async () => {
      await tlsEtcd?.stop();
      await authEtcd?.stop();
      pki?.cleanup();
    });

    const agent = (name: string, etcd: string[], extra: string[]): TestAgent =>
      new TestAgent({ name, etcd, vtep: '127.0.0.1', extra });
    const file = (body: string): string => {
      const f = path.join(pki.dir, `cfg-${Math.random().toString(36).slice(2)}.yaml`);
      fs.writeFileSync(f, body);
      return f;
    };

    it('works with the right CA and client certificate', async () => {
      const a = agent('tls1', tlsEtcd.clientUrls, [
        '--config',
        file(
          `etcd:\n  ca_file: ${pki.dir}/ca.crt\n  cert_file: ${pki.dir}/agent.crt\n  key_file: ${pki.dir}/agent.key\n`,
        ),
      ]);
      try {
        await a.start();
        const net = await a.client.create({ name: 'secure', ipamConfig: [{ subnet: '10.93.0.0/24' }] });
        assert.ok(net.id);
      } finally {
        await a.stop();
        a.cleanup();
      }
    });

    const refused: [string, () => string, RegExp][] = [
      [
        'without a client certificate',
        () => `etcd:\n  ca_file: ${pki.dir}/ca.crt\n`,
        /etcd\.cert_file: .*refused the connection without a client certificate/,
      ],
      [
        'with a certificate from another CA',
        () =>
          `etcd:\n  ca_file: ${pki.dir}/rogue.crt\n  cert_file: ${pki.dir}/stranger.crt\n  key_file: ${pki.dir}/stranger.key\n`,
        /etcd\.ca_file: the certificate of etcd .* is not trusted/,
      ],
    ];
    for (const [what, cfg, msg] of refused) {
      it(`exits 78 ${what}, saying which`, async () => {
        const a = agent('tls2', tlsEtcd.clientUrls, ['--config', file(cfg())]);
        try {
          await assert.rejects(a.start(20000), (e: Error) => /exited \(78\)/.test(e.message) && msg.test(e.message));
        } finally {
          await a.stop('SIGKILL');
          a.cleanup();
        }
      });
    }

    it('works with user and password, and exits 78 naming the credentials when the password is wrong', async () => {
      const good = agent('auth1', authEtcd.clientUrls, [
        '--config',
        file('etcd:\n  username: vxnet\n  password: s3cret\n'),
      ]);
      try {
        await good.start();
        assert.ok((await good.client.list({})).networks);
      } finally {
        await good.stop();
        good.cleanup();
      }
      const bad = agent('auth2', authEtcd.clientUrls, [
        '--config',
        file('etcd:\n  username: vxnet\n  password: wrong-pw\n'),
      ]);
      try {
        await assert.rejects(
          bad.start(20000),
          (e: Error) =>
            /exited \(78\)/.test(e.message) &&
            /etcd\.username\/etcd\.password/.test(e.message) &&
            !/wrong-pw/.test(e.message),
        );
      } finally {
        await bad.stop('SIGKILL');
        bad.cleanup();
      }
    });
  });

  describe('on two hosts: the unit command line, metrics, events, doctor, host ls', () => {
    const METRICS = '127.0.0.1:9476';
    // Each agent runs the unit's ExecStart with the example config adjusted to test paths.
    const cluster = useCluster({
      hosts: 2,
      agent: (h) => ({ etcd: [], dir: fs.mkdtempSync(path.join(os.tmpdir(), `vxt-unit-${h.name}-`)) }),
      prepare: (a, h, etcd) => {
        const unit = fs.readFileSync(path.join(ROOT, 'deploy', 'systemd', 'vxnet-agent.service'), 'utf8');
        const exec = /^ExecStart=(\S+) (.*)$/m.exec(unit)!;
        assert.strictEqual(exec[1], '/usr/bin/vxnet');
        const dir = a.dir;
        const cfg = fs
          .readFileSync(path.join(ROOT, 'deploy', 'agent.yaml'), 'utf8')
          .replace(/^vtep_interface: eth0$/m, `vtep: ${h.vtep}\nname: ${h.name}`)
          .replace(/^ {2}endpoints: .*$/m, `  endpoints: [${etcd.unixUrls[0]}]`)
          .replace(/^ {2}(ca_file|cert_file|key_file): .*$/gm, '')
          .replace(/^lease_ttl: 10$/m, 'lease_ttl: 3')
          .replace(/^resync_interval: 30$/m, 'resync_interval: 600')
          .replace(/^ {2}socket: .*$/m, `  socket: ${dir}/vxnet.sock`)
          .replace(/^ {2}enabled: auto.*$/m, '  enabled: false');
        const cfgFile = path.join(dir, 'agent.yaml');
        fs.writeFileSync(cfgFile, cfg);
        const args = exec[2].replace('/etc/vxnet/agent.yaml', cfgFile).split(' ');
        a.args = () => args; // bin/vxnet, as the unit runs /usr/bin/vxnet
      },
    });
    let topo: Topology;
    let agents: TestAgent[] = [];
    before(() => ({ topo, agents } = cluster()));

    it('the agent started by the unit command line serves the API, /healthz and /readyz', async () => {
      for (const [i, a] of agents.entries()) {
        assert.strictEqual((await a.client.check({})).status, 'SERVING');
        assert.strictEqual(nsGet(topo.hosts[i].ns, `http://${METRICS}/healthz`).status, 200);
        await waitFor('ready', () => nsGet(topo.hosts[i].ns, `http://${METRICS}/readyz`).status === 200, 5000, 200);
      }
    });

    it('vxnet events receives a create, connects and disconnects on another host and on its own, and a removal, in order', async () => {
      // --since from before the stream opens: the agent replays what it saw since, then streams, so
      // a subscription that comes late (a loaded machine) misses nothing and sees nothing twice.
      const since = new Date().toISOString();
      const p = spawn(
        process.execPath,
        [
          CLI,
          '-H',
          `unix://${agents[0].socket}`,
          'events',
          '--since',
          since,
          '--filter',
          'type=network',
          '--filter',
          'type=endpoint',
          '--format',
          '{{.Type}} {{.Action}} {{.Name}} {{.Host}}',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      try {
        await new Promise((r) => setTimeout(r, 500));
        await agents[0].client.create({ name: 'ev', ipamConfig: [{ subnet: '10.94.0.0/24' }] });
        const box = topo.container('ev1');
        await agents[1].client.connect({ network: 'ev', sandbox: box });
        await agents[1].client.disconnect({ network: 'ev', sandbox: box });
        // The listening agent's own Connect and Disconnect: its watch delivers them as its own writes.
        const own = topo.container('ev2');
        await agents[0].client.connect({ network: 'ev', sandbox: own });
        await agents[0].client.disconnect({ network: 'ev', sandbox: own });
        await agents[0].client.delete({ network: 'ev' });
        await waitFor('six events', () => out.trim().split('\n').length >= 6, 5000);
      } finally {
        p.kill('SIGINT');
      }
      assert.deepStrictEqual(
        out
          .trim()
          .split('\n')
          .map((l) => l.trim()),
        [
          'network create ev',
          `endpoint connect ${topo.prefix}ev1 h2`,
          `endpoint disconnect ${topo.prefix}ev1 h2`,
          `endpoint connect ${topo.prefix}ev2 h1`,
          `endpoint disconnect ${topo.prefix}ev2 h1`,
          'network remove ev',
        ],
      );
    });

    it('/metrics parses as Prometheus text and its counters move after a Connect', async () => {
      const before = nsGet(topo.hosts[0].ns, `http://${METRICS}/metrics`);
      assert.strictEqual(before.status, 200);
      for (const line of before.body.split('\n'))
        if (line && !line.startsWith('#'))
          assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eE]+|NaN|[+-]Inf$/, line);
      await agents[0].client.create({ name: 'm', ipamConfig: [{ subnet: '10.95.0.0/24' }] });
      const a = topo.container('ma');
      const b = topo.container('mb');
      await agents[0].client.connect({ network: 'm', sandbox: a });
      await agents[1].client.connect({ network: 'm', sandbox: b });
      const vni = (await agents[0].client.inspect({ network: 'm' })).vni;
      await waitFor(
        'h1 programmed mb',
        () => fdbOf(topo.hosts[0].ns, `vx-${vni}`).includes('dst 192.168.231.12'),
        3000,
      );
      await new Promise((r) => setTimeout(r, 300));
      const after = nsGet(topo.hosts[0].ns, `http://${METRICS}/metrics`).body;
      const d = (name: string, labels: Record<string, string> = {}): number =>
        (metric(after, name, labels) || 0) - (metric(before.body, name, labels) || 0);
      assert.strictEqual(d('vxnet_api_requests_total', { method: 'Connect', code: 'OK' }), 1);
      assert.ok(d('vxnet_kernel_operations_total', { kind: 'fdbAdd', result: 'ok' }) >= 1);
      assert.ok(d('vxnet_reconcile_runs_total') >= 1);
      assert.ok(d('vxnet_watch_events_total') >= 2);
      assert.strictEqual(metric(after, 'vxnet_endpoints', { network: 'm', location: 'local' }), 1);
      assert.strictEqual(metric(after, 'vxnet_endpoints', { network: 'm', location: 'remote' }), 1);
      assert.strictEqual(metric(after, 'vxnet_peer_hosts'), 1);
      assert.ok(metric(after, 'vxnet_watch_to_kernel_seconds_count') >= 1);
      assert.ok(metric(after, 'vxnet_process_resident_memory_bytes') > 0);
    });

    it('vxnet host ls lists both hosts with VTEP, version, endpoints and lease', async () => {
      const r = await runCli(['host', 'ls'], { host: `unix://${agents[1].socket}` });
      assert.strictEqual(r.code, 0, r.stderr);
      assert.match(r.stdout, /HOST\s+VTEP\s+VERSION\s+UPTIME\s+ENDPOINTS\s+LEASE TTL/);
      assert.match(r.stdout, /h1\s+192\.168\.231\.11\s+\S+\s+\S+\s+1\s+[0-3]s/);
      assert.match(r.stdout, /h2\s+192\.168\.231\.12/);
    });

    it('vxnet doctor: no difference when healthy; names each hand-made change; clean again after the next resync', async () => {
      const h1 = topo.hosts[0].ns;
      const host = `unix://${agents[0].socket}`;
      const healthy = await runCli(['doctor'], { host });
      assert.strictEqual(healthy.code, 0, healthy.stdout + healthy.stderr);
      assert.match(healthy.stdout, /no difference/);
      const net = await agents[0].client.inspect({ network: 'm' });
      const vx = `vx-${net.vni}`;
      const remote = net.endpoints.find((e) => e.host === 'h2')!;
      const local = net.endpoints.find((e) => e.host === 'h1')!;
      const remoteIp = remote.ipv4Address.split('/')[0];
      sh('bridge', ['-n', h1, 'fdb', 'del', remote.macAddress, 'dev', vx, 'dst', topo.hosts[1].vtep, 'self']);
      sh('ip', ['-n', h1, 'neigh', 'replace', remoteIp, 'lladdr', '02:00:00:00:00:77', 'dev', vx, 'nud', 'permanent']);
      sh('bridge', [
        '-n',
        h1,
        'fdb',
        'append',
        '02:ee:00:00:00:01',
        'dev',
        vx,
        'dst',
        '192.168.231.77',
        'self',
        'permanent',
      ]);
      sh('ip', ['-n', local.sandbox.split('/').pop()!, 'addr', 'del', local.ipv4Address, 'dev', local.interfaceName]);
      const sick = await runCli(['doctor'], { host });
      assert.strictEqual(sick.code, 1, sick.stdout);
      assert.match(
        sick.stdout,
        new RegExp(`\\+ fdb ${vx} ${remote.macAddress} dst ${topo.hosts[1].vtep.replace(/\./g, '\\.')} \\(missing\\)`),
      );
      assert.match(
        sick.stdout,
        new RegExp(
          `~ neigh ${vx} ${remoteIp.replace(/\./g, '\\.')} lladdr 02:00:00:00:00:77, etcd says ${remote.macAddress}`,
        ),
      );
      assert.match(sick.stdout, /- fdb \S+ 02:ee:00:00:00:01 dst 192\.168\.231\.77 \(not in etcd\)/);
      assert.match(
        sick.stdout,
        new RegExp(`\\+ address ${local.ipv4Address.replace(/\./g, '\\.')} on eth0 in ${local.sandbox} \\(missing\\)`),
      );
      sh('ip', ['-n', h1, 'link', 'del', vx]);
      const gone = await runCli(['doctor', '--json'], { host });
      assert.strictEqual(gone.code, 1);
      const report = JSON.parse(gone.stdout) as { differences: string[] };
      assert.ok(
        report.differences.some((l) => l.startsWith(`~ devices ${vx}/`) && l.includes('missing')),
        report.differences.join('\n'),
      );
      // The next resync (SIGHUP asks for one now) repairs all of it, the sandbox's address included.
      agents[0].signal('SIGHUP');
      await waitFor('doctor clean again', async () => (await runCli(['doctor'], { host })).code === 0, 10000, 300);
      assert.ok(neighOf(h1, vx).includes(`${remoteIp} lladdr ${remote.macAddress}`));
      await waitFor('traffic again', () => ping(local.sandbox.split('/').pop()!, remoteIp), 3000);
    });
  });
});
