import { ChildProcess, spawn, spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sh, waitFor } from './topology';
import { removeCgroup } from './docker';

// One containerd per simulated host, in the host's network namespace, with a root, state and
// socket of its own and the CRI plugin off. `ctr run --cni` runs the CNI plugins itself (go-cni)
// from the fixed directories /etc/cni/net.d and /opt/cni/bin, with its cache in /var/lib/cni: each
// ctr runs in a private mount namespace where the test's own directories are mounted there, so
// nothing of the machine's is read or written (a directory that does not exist is made on an
// overlay that lives only in that mount namespace). runc's state, the containers' cgroups and
// ctr's FIFOs go to places of this host's own too: two hosts run containers with the same ID.

export const IMAGE = 'vxt/busy:1';

export interface CtrResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class Containerd {
  readonly dir: string;
  readonly socket: string;
  private proc: ChildProcess | undefined;
  private execs = 0;

  constructor(
    readonly hostNs: string,
    readonly tag: string,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `vxt-containerd-${tag}-`));
    this.socket = path.join(this.dir, 'containerd.sock');
  }

  // A CNI configuration directory of the test's own with this conflist in it.
  confDir(name: string, conflist: unknown): string {
    const d = path.join(this.dir, `net.d-${name}`);
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, '10-vxnet.conflist'), JSON.stringify(conflist));
    return d;
  }

  async start(shim: string): Promise<void> {
    for (const d of ['root', 'state', 'opt', 'bin', 'cni-cache', 'runc', 'fifo'])
      fs.mkdirSync(path.join(this.dir, d), { recursive: true });
    fs.copyFileSync(shim, path.join(this.dir, 'bin', 'vxnet'));
    fs.chmodSync(path.join(this.dir, 'bin', 'vxnet'), 0o755);
    fs.writeFileSync(
      path.join(this.dir, 'config.toml'),
      [
        'version = 2',
        `root = "${this.dir}/root"`,
        `state = "${this.dir}/state"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = "${this.socket}"`,
        '[ttrpc]',
        `  address = "${this.socket}.ttrpc"`,
        '[debug]',
        '  address = ""',
        '[metrics]',
        '  address = ""',
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = "${this.dir}/opt"`,
        '',
      ].join('\n'),
    );
    const log = fs.openSync(path.join(this.dir, 'containerd.log'), 'a');
    this.proc = spawn(
      'nsenter',
      [`--net=/run/netns/${this.hostNs}`, 'containerd', '--config', path.join(this.dir, 'config.toml')],
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    await waitFor(
      `containerd ${this.tag} serving`,
      () => {
        if (this.proc?.exitCode !== null) throw new Error(`containerd ${this.tag} exited:\n${this.log()}`);
        return spawnSync('ctr', ['-a', this.socket, 'version'], { timeout: 5000 }).status === 0;
      },
      20000,
      100,
    );
    const tar = path.join(this.dir, 'image.tar');
    buildImage(tar, path.join(this.dir, 'image'));
    const r = this.ctr(['images', 'import', '--base-name', 'vxt/busy', tar]);
    if (r.code !== 0) throw new Error(`image import failed: ${r.stderr}`);
  }

  log(): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'containerd.log'), 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '';
    }
  }

  // ctr against this containerd; with `netd`, `--cni` finds that conflist and the shim.
  ctr(args: string[], opts: { netd?: string; timeoutMs?: number } = {}): CtrResult {
    const w = this.dir;
    const mounts = opts.netd
      ? `place ${opts.netd} /etc/cni/net.d && place ${w}/bin /opt/cni/bin && place ${w}/cni-cache /var/lib/cni || exit 125`
      : ':';
    const script = `
place() {
  d=$2
  while [ ! -d "$d" ]; do d=$(dirname "$d"); done
  if [ "$d" != "$2" ]; then
    o=$(mktemp -d -p ${w} overlay.XXXXXX) && mkdir $o/u $o/w || return 1
    mount -t overlay vxt-ctr -o lowerdir=$d,upperdir=$o/u,workdir=$o/w $d && mkdir -p $2 || return 1
  fi
  mount --bind $1 $2
}
${mounts}
exec ctr -a ${this.socket} "$@"`;
    const r = spawnSync(
      'nsenter',
      [
        `--net=/run/netns/${this.hostNs}`,
        'unshare',
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        script,
        'sh',
        ...args,
      ],
      { encoding: 'utf8', timeout: opts.timeoutMs ?? 60000 },
    );
    return { code: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
  }

  // `ctr run` with this host's runc root, cgroup parent and FIFO directory.
  run(id: string, cmd: string[], opts: { netd: string; rm?: boolean }): CtrResult {
    const own = [
      '--runc-root',
      path.join(this.dir, 'runc'),
      '--cgroup',
      `/${this.cgroupParent}/${id}`,
      '--fifo-dir',
      path.join(this.dir, 'fifo'),
    ];
    return this.ctr(['run', ...(opts.rm ? ['--rm'] : ['-d']), ...own, '--cni', IMAGE, id, ...cmd], { netd: opts.netd });
  }

  exec(id: string, cmd: string[]): CtrResult {
    return this.ctr([
      'task',
      'exec',
      '--fifo-dir',
      path.join(this.dir, 'fifo'),
      '--exec-id',
      `x${++this.execs}`,
      id,
      ...cmd,
    ]);
  }

  private get cgroupParent(): string {
    return `vxt${process.pid}-containerd-${this.tag}`;
  }

  taskPid(id: string): number | undefined {
    const r = this.ctr(['task', 'ls']);
    const line = r.stdout.split('\n').find((l) => l.split(/\s+/)[0] === id);
    const pid = line ? Number(line.split(/\s+/)[1]) : NaN;
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  }

  // What `ctr task kill` + `ctr container rm` leave behind: no CNI DEL.
  removeWithoutDel(id: string): void {
    this.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    for (let i = 0; i < 100 && this.ctr(['task', 'rm', id]).code !== 0; i++) spawnSync('sleep', ['0.05']);
    this.ctr(['container', 'rm', id]);
  }

  async stop(): Promise<void> {
    if (this.proc && this.proc.exitCode === null) {
      const ids = this.ctr(['containers', 'ls', '-q'])
        .stdout.split('\n')
        .filter((l) => l);
      for (const id of ids) this.removeWithoutDel(id);
      const p = this.proc;
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(t);
    }
    this.proc = undefined;
    // Snapshots and task root filesystems that a failure left mounted.
    const mounts = fs
      .readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m.startsWith(`${this.dir}/`))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) sh('umount', ['-l', m], { allowFail: true });
    for (const c of fs.existsSync('/sys/fs/cgroup') ? fs.readdirSync('/sys/fs/cgroup') : [])
      removeCgroup(path.join('/sys/fs/cgroup', c, this.cgroupParent));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// An OCI image layout (one layer: busybox-static and a few applets) as a tar, for `ctr images
// import`: no registry is reachable from the tests.
function buildImage(tar: string, work: string): void {
  const root = path.join(work, 'rootfs');
  const blobs = path.join(work, 'oci', 'blobs', 'sha256');
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  fs.mkdirSync(blobs, { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(root, 'bin', 'busybox'));
  fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
  for (const c of ['sh', 'ping', 'ip', 'sleep', 'cat', 'true']) fs.symlinkSync('busybox', path.join(root, 'bin', c));
  const layerTar = path.join(work, 'layer.tar');
  sh('tar', ['-C', root, '-cf', layerTar, '.']);
  const blob = (data: Buffer): { digest: string; size: number } => {
    const hex = createHash('sha256').update(data).digest('hex');
    fs.writeFileSync(path.join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const layer = blob(fs.readFileSync(layerTar));
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['/bin/sh'] },
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
    ),
  );
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    ),
  );
  fs.writeFileSync(
    path.join(work, 'oci', 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': IMAGE },
        },
      ],
    }),
  );
  fs.writeFileSync(path.join(work, 'oci', 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  sh('tar', ['-C', path.join(work, 'oci'), '-cf', tar, '.']);
}
