import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Etcd3 } from 'etcd3';

// A real etcd (Debian's etcd-server) for tests: loopback ports, a temp data dir, stopped by PID.
// It also listens on a unix socket so that agents inside host network namespaces reach it through
// the file system: no test traffic ever leaves loopback.
export interface EtcdTls {
  cert: string;
  key: string;
  ca: string;
  clientCertAuth: boolean;
}

export interface EtcdMember {
  name: string;
  clientUrl: string; // http://127.0.0.1:P
  unixUrl: string; // unix:///tmp/.../etcd.sock:0 (etcd names the socket after the URL's host)
  peerUrl: string;
  dir: string;
  proc?: ChildProcess;
  tls?: EtcdTls;
}

export interface EtcdCluster {
  members: EtcdMember[];
  clientUrls: string[];
  unixUrls: string[];
  dir: string;
  stop(): Promise<void>;
  stopMember(i: number, signal?: NodeJS.Signals): Promise<void>;
  startMember(i: number): Promise<void>;
  client(): Etcd3;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function startProcess(
  m: EtcdMember,
  initialCluster: string,
  state: 'new' | 'existing',
  extra: string[] = [],
): ChildProcess {
  const log = fs.openSync(path.join(m.dir, 'etcd.log'), 'a');
  const tls = m.tls
    ? [
        '--cert-file',
        m.tls.cert,
        '--key-file',
        m.tls.key,
        '--trusted-ca-file',
        m.tls.ca,
        ...(m.tls.clientCertAuth ? ['--client-cert-auth'] : []),
      ]
    : [];
  const args = [
    ...tls,
    '--name',
    m.name,
    '--data-dir',
    path.join(m.dir, 'data'),
    '--listen-client-urls',
    m.tls ? m.clientUrl : `${m.clientUrl},unix://etcd.sock:0`,
    '--advertise-client-urls',
    m.clientUrl,
    '--listen-peer-urls',
    m.peerUrl,
    '--initial-advertise-peer-urls',
    m.peerUrl,
    '--initial-cluster',
    initialCluster,
    '--initial-cluster-state',
    state,
    '--initial-cluster-token',
    `vxt-${path.basename(path.dirname(m.dir))}`, // one token per cluster
    '--heartbeat-interval',
    '50',
    '--election-timeout',
    '500',
    '--log-level',
    'warn',
    ...extra,
  ];
  const proc = spawn('etcd', args, { cwd: m.dir, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  return proc;
}

export async function waitForEtcd(urls: string[], timeoutMs = 15000, tls?: EtcdTls): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  const credentials = tls
    ? {
        rootCertificate: fs.readFileSync(tls.ca),
        certChain: fs.readFileSync(tls.cert),
        privateKey: fs.readFileSync(tls.key),
      }
    : undefined;
  while (Date.now() < deadline) {
    const c = new Etcd3({
      hosts: urls,
      dialTimeout: 500,
      ...(credentials ? { credentials } : {}),
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 1000 }),
    });
    try {
      await c.get('/vxnet-test-ping').string();
      c.close();
      return;
    } catch (err) {
      lastErr = (err as Error).message;
      c.close();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`etcd at ${urls.join(',')} not ready within ${timeoutMs} ms: ${lastErr}`);
}

// `tls`: serve clients over https with this server certificate (and demand client certificates
// signed by its CA when clientCertAuth); the test's own client then uses the server's pair.
export async function startEtcd(size = 1, tls?: EtcdTls, extraArgs: string[] = []): Promise<EtcdCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vxt-etcd-'));
  const members: EtcdMember[] = [];
  for (let i = 0; i < size; i++) {
    const mdir = path.join(dir, `m${i}`);
    fs.mkdirSync(mdir);
    members.push({
      name: `m${i}`,
      clientUrl: `${tls ? 'https' : 'http'}://127.0.0.1:${await freePort()}`,
      peerUrl: `http://127.0.0.1:${await freePort()}`,
      unixUrl: `unix://${mdir}/etcd.sock:0`,
      dir: mdir,
      ...(tls ? { tls } : {}),
    });
  }
  const initial = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  for (const m of members) m.proc = startProcess(m, initial, 'new', extraArgs);
  const cluster: EtcdCluster = {
    members,
    dir,
    clientUrls: members.map((m) => m.clientUrl),
    unixUrls: members.map((m) => m.unixUrl),
    async stopMember(i, signal = 'SIGTERM') {
      const p = members[i].proc;
      members[i].proc = undefined;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill(signal);
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
    async startMember(i) {
      members[i].proc = startProcess(members[i], initial, 'existing', extraArgs);
      await waitForEtcd([members[i].clientUrl]);
    },
    async stop() {
      for (let i = 0; i < members.length; i++) await cluster.stopMember(i);
      fs.rmSync(dir, { recursive: true, force: true });
    },
    client() {
      return new Etcd3({
        hosts: cluster.clientUrls,
        dialTimeout: 2000,
        defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 5000 }),
      });
    },
  };
  try {
    await waitForEtcd(cluster.clientUrls, 15000, tls);
  } catch (err) {
    const log = members.map((m) => fs.readFileSync(path.join(m.dir, 'etcd.log'), 'utf8').slice(-2000)).join('\n');
    await cluster.stop();
    throw new Error(`${(err as Error).message}\n${log}`, { cause: err });
  }
  return cluster;
}

// Every key and value under /vxnet/: what a rejected request must leave unchanged. The agents'
// progress reports (reconciled/<host>: the revision each has programmed) move with every reconcile
// and are not state, so they are left out.
export async function dumpEtcd(client: Etcd3): Promise<Record<string, string>> {
  const all = await client.getAll().prefix('/vxnet/').strings();
  return Object.fromEntries(Object.entries(all).filter(([k]) => !k.startsWith('/vxnet/v1/reconciled/')));
}
