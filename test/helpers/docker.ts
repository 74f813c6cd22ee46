import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Topology, sh, waitFor } from './topology';

// Real Docker 20.10 daemons (Debian's docker.io), one per simulated host: dockerd in the host's
// network namespace and in a mount namespace of its own, where <dir>/plugins is bound over
// /run/docker/plugins, so that every host has its own plugin socket under the one driver name.
// Optionally with Docker's etcd cluster store
// (a second etcd, v2 API, in the underlay namespace). Stopped by PID; everything is removed in
// destroy(), also after failures.
const DOCKERD = '/usr/sbin/dockerd';
const DOCKER = '/usr/bin/docker'; // Debian's 20.10 client, not a newer one earlier on PATH
const STORE_IP = '192.168.231.1';
const STORE_PORT = 2389;

interface Daemon {
  short: string;
  ns: string;
  dir: string;
  proc?: ChildProcess;
}

export class DockerHosts {
  readonly base: string;
  private readonly daemons: Daemon[];
  private store: ChildProcess | undefined;
  private createdKeyJson = false;
  private createdPluginDir = false;

  constructor(
    private readonly topo: Topology,
    private readonly opts: { clusterStore?: boolean; baseDir?: string } = {},
  ) {
    // Short: containerd's sockets live under the exec root, and unix socket paths stop at 108 bytes.
    this.base = opts.baseDir ?? `/tmp/vxd${process.pid}`;
    this.daemons = topo.hosts.map((h) => ({ short: h.name, ns: h.ns, dir: path.join(this.base, h.name) }));
  }

  private daemon(host: string | number): Daemon {
    const d = typeof host === 'number' ? this.daemons[host - 1] : this.daemons.find((x) => x.short === host);
    if (!d) throw new Error(`no docker host ${host}`);
    return d;
  }

  pluginDir(host: string | number): string {
    return path.join(this.daemon(host).dir, 'plugins');
  }

  pluginSocket(host: string | number, name = 'vxnet'): string {
    return path.join(this.pluginDir(host), `${name}.sock`);
  }

  // Directories and the cluster store: what must exist before the plugins and the daemons start.
  async prepare(): Promise<void> {
    this.createdKeyJson = !fs.existsSync('/etc/docker/key.json');
    this.createdPluginDir = !fs.existsSync('/run/docker/plugins');
    for (const d of this.daemons) fs.mkdirSync(path.join(d.dir, 'plugins'), { recursive: true });
    this.buildImage();
    if (this.opts.clusterStore) await this.startStore();
  }

  async start(): Promise<void> {
    await this.prepare();
    await this.startDaemons();
  }

  async startDaemons(): Promise<void> {
    await Promise.all(this.daemons.map((d) => this.startDaemon(d.short)));
  }

  async startDaemon(host: string | number): Promise<void> {
    const d = this.daemon(host);
    const store = this.opts.clusterStore
      ? `--cluster-store=etcd://${STORE_IP}:${STORE_PORT} --cluster-advertise=eth0:2376 --cluster-store-opt discovery.heartbeat=1 --cluster-store-opt discovery.ttl=3`
      : '';
    const script = `hostname ${d.short} && mkdir -p /run/docker/plugins && mount --bind ${d.dir}/plugins /run/docker/plugins && exec ${DOCKERD} ${store} --bridge=none --storage-driver=overlay2 --cgroup-parent=/${d.ns} -H unix://${d.dir}/docker.sock --exec-root ${d.dir}/exec --data-root ${d.dir}/data --pidfile ${d.dir}/docker.pid --containerd-namespace ${d.ns} --containerd-plugins-namespace ${d.ns}-plugins`;
    const log = fs.openSync(path.join(d.dir, 'dockerd.log'), 'a');
    // nsenter, not `ip netns exec`: that remounts /sys and hides the cgroup mounts dockerd needs.
    d.proc = spawn('nsenter', [`--net=/run/netns/${d.ns}`, 'unshare', '--uts', '--mount', '--', 'sh', '-c', script], {
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    const proc = d.proc;
    await waitFor(
      `dockerd on ${d.short} answering`,
      async () => {
        if (proc.exitCode !== null)
          throw new Error(`dockerd on ${d.short} exited (${proc.exitCode}):\n${this.logTail(d.short, 20)}`);
        return (await this.docker(d.short, ['version', '-f', '{{.Server.Version}}'], { timeoutMs: 5000 })).code === 0;
      },
      30000,
      100,
    );
    if ((await this.docker(d.short, ['image', 'inspect', 'vxbusy'], { timeoutMs: 10000 })).code !== 0) {
      const r = await this.docker(d.short, ['import', path.join(this.base, 'rootfs.tar'), 'vxbusy'], {
        timeoutMs: 60000,
      });
      if (r.code !== 0) throw new Error(`docker import on ${d.short} failed: ${r.stderr}`);
    }
  }

  dockerdPid(host: string | number): number | undefined {
    return this.daemon(host).proc?.pid;
  }

  // dockerd supervises its own containerd, which outlives a killed dockerd: stopped by its PID too.
  async stopDaemon(host: string | number, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const d = this.daemon(host);
    const p = d.proc;
    d.proc = undefined;
    const containerd = readPid(path.join(d.dir, 'exec', 'containerd', 'containerd.pid'));
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill(sig);
      const t = setTimeout(() => p.kill('SIGKILL'), 20000);
      await exited;
      clearTimeout(t);
    }
    if (containerd && alive(containerd)) {
      process.kill(containerd, 'SIGTERM');
      await waitFor(`containerd ${containerd} of ${d.short} to exit`, () => !alive(containerd), 10000, 100).catch(() =>
        process.kill(containerd, 'SIGKILL'),
      );
    }
  }

  async restartDaemon(host: string | number): Promise<void> {
    await this.stopDaemon(host);
    await this.startDaemon(host);
  }

  docker(
    host: string | number,
    args: string[],
    opts: { timeoutMs?: number } = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const d = this.daemon(host);
    return new Promise((resolve) => {
      const p = spawn(DOCKER, ['-H', `unix://${d.dir}/docker.sock`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const t = setTimeout(() => {
        stderr += `\n(killed after ${opts.timeoutMs ?? 60000} ms)`;
        p.kill('SIGKILL');
      }, opts.timeoutMs ?? 60000);
      p.on('close', (code) => {
        clearTimeout(t);
        resolve({ code: code ?? -1, stdout, stderr });
      });
    });
  }

  logTail(host: string | number, lines = 20): string {
    try {
      return fs
        .readFileSync(path.join(this.daemon(host).dir, 'dockerd.log'), 'utf8')
        .split('\n')
        .slice(-lines - 1)
        .join('\n');
    } catch {
      return '';
    }
  }

  // Best effort and bounded: containers first (while the plugins still answer), then the daemons,
  // their containerds, the store, cgroups, mounts and files.
  async destroy(): Promise<void> {
    await Promise.all(
      this.daemons
        .filter((d) => d.proc)
        .map(async (d) => {
          const ids = (await this.docker(d.short, ['ps', '-aq'], { timeoutMs: 20000 })).stdout
            .split('\n')
            .filter(Boolean);
          if (ids.length) await this.docker(d.short, ['rm', '-f', ...ids], { timeoutMs: 60000 });
        }),
    );
    await Promise.all(this.daemons.map((d) => this.stopDaemon(d.short).catch(() => undefined)));
    if (this.store) {
      const s = this.store;
      this.store = undefined;
      if (s.exitCode === null) {
        const exited = new Promise<void>((r) => s.once('exit', () => r()));
        s.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        s.kill('SIGKILL');
      }
    }
    for (const d of this.daemons) {
      for (const c of globDirs('/sys/fs/cgroup', d.ns)) removeCgroup(c);
    }
    for (const m of mountsUnder(this.base)) sh('umount', ['-l', m], { allowFail: true });
    fs.rmSync(this.base, { recursive: true, force: true });
    if (this.createdKeyJson) fs.rmSync('/etc/docker/key.json', { force: true });
    if (this.createdPluginDir) {
      for (const dir of ['/run/docker/plugins', '/run/docker']) {
        try {
          fs.rmdirSync(dir);
        } catch {
          /* not empty or in use: leave it */
        }
      }
    }
  }

  private async startStore(): Promise<void> {
    sh('ip', ['-n', this.topo.underlay, 'addr', 'add', `${STORE_IP}/24`, 'dev', 'ul'], { allowFail: true });
    const dir = path.join(this.base, 'store');
    fs.mkdirSync(dir, { recursive: true });
    const url = `http://${STORE_IP}:${STORE_PORT}`;
    const log = fs.openSync(path.join(dir, 'etcd.log'), 'a');
    this.store = spawn(
      'nsenter',
      [
        `--net=/run/netns/${this.topo.underlay}`,
        'etcd',
        '--name',
        'docker-store',
        '--data-dir',
        path.join(dir, 'data'),
        '--enable-v2=true',
        '--listen-client-urls',
        url,
        '--advertise-client-urls',
        url,
        '--listen-peer-urls',
        'http://127.0.0.1:12390',
        '--initial-advertise-peer-urls',
        'http://127.0.0.1:12390',
        '--initial-cluster',
        'docker-store=http://127.0.0.1:12390',
      ],
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    const proc = this.store;
    await waitFor(
      "Docker's cluster store (etcd v2)",
      () => {
        if (proc.exitCode !== null)
          throw new Error(
            `the cluster store's etcd exited: ${fs.readFileSync(path.join(dir, 'etcd.log'), 'utf8').slice(-1000)}`,
          );
        return (
          spawnSync(
            'nsenter',
            [`--net=/run/netns/${this.topo.underlay}`, 'etcdctl', '--endpoints', url, 'endpoint', 'health'],
            { timeout: 3000 },
          ).status === 0
        );
      },
      15000,
      100,
    );
  }

  // A busybox-static root filesystem, imported on each host as "vxbusy".
  private buildImage(): void {
    const tar = path.join(this.base, 'rootfs.tar');
    if (fs.existsSync(tar)) return;
    const root = path.join(this.base, 'rootfs');
    for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp']) fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.copyFileSync('/bin/busybox', path.join(root, 'bin', 'busybox'));
    fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
    for (const c of [
      'sh',
      'ping',
      'ip',
      'ifconfig',
      'sleep',
      'cat',
      'ls',
      'hostname',
      'nslookup',
      'route',
      'nc',
      'wget',
      'grep',
    ])
      fs.symlinkSync('busybox', path.join(root, 'bin', c));
    sh('tar', ['-C', root, '-cf', tar, '.']);
  }
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function globDirs(root: string, name: string): string[] {
  let controllers: string[];
  try {
    controllers = fs.readdirSync(root);
  } catch {
    return [];
  }
  return controllers.map((c) => path.join(root, c, name)).filter((p) => fs.existsSync(p));
}

// Depth first: a cgroup directory goes only when its children have.
export function removeCgroup(dir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) removeCgroup(path.join(dir, e.name));
  try {
    fs.rmdirSync(dir);
  } catch {
    /* still in use: left for the kernel to refuse again next time */
  }
}

function mountsUnder(base: string): string[] {
  const lines = fs.readFileSync('/proc/mounts', 'utf8').split('\n');
  return lines
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m === base || m.startsWith(`${base}/`))
    .sort((a, b) => b.length - a.length);
}
