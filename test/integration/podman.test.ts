import * as assert from 'assert';
import { ChildProcess, spawn, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Etcd3 } from 'etcd3';
import { dumpEtcd } from '../helpers/etcd';
import { useCluster } from '../helpers/cluster';
import { TestAgent, ROOT } from '../helpers/agent';
import { Topology, ping, waitFor, sh } from '../helpers/topology';

// podman 4.3 (Debian) on its CNI backend, one per simulated host, isolated as the shared lab does
// it: the host's network namespace, a private mount namespace whose /run/netns is podman's own
// tmpfs, storage and config in a temp dir, a busybox image imported locally. Each host runs one
// scenario script; the test steps it through files so that both containers live at once. Each
// host has its own /dev/shm as well: podman keeps its lock table in /dev/shm/libpod_lock, and two
// podmans creating it at once failed ("failed to create 2048 locks ... file exists").
const SHIM = path.join(ROOT, 'native', 'build', 'Release', 'vxnet-cni');

function hostScript(w: string, ip: string, peerIp: string): string {
  return `
set -u
mount -t tmpfs vxt-podman-netns /run/netns && mount -t tmpfs vxt-podman-shm /dev/shm && mount --bind ${w}/cni-cache /var/lib/cni || exit 1
podman() { command podman --root ${w}/storage --runroot ${w}/runroot --tmpdir ${w}/tmp --volumepath ${w}/volumes --cgroup-manager cgroupfs --events-backend file "$@"; }
step() { echo "$1" > ${w}/state; }
wait_for() { for i in $(seq 600); do [ -f ${w}/$1 ] && return 0; sleep 0.1; done; echo "timeout waiting for $1" >&2; return 1; }
podman import ${w}/rootfs.tar localbusy >/dev/null || { step import-failed; exit 1; }
podman run -d --name p1 --network vxnet-pod --ip ${ip} --mac-address 02:00:00:98:00:${ip.split('.')[3].padStart(2, '0')} --network-alias web localbusy sleep 1000 >/dev/null || { step run-failed; exit 1; }
podman exec p1 ip addr show eth0 > ${w}/addr
step running
wait_for go1 || exit 1
podman exec p1 ping -c1 -W2 ${peerIp} > ${w}/ping1 2>&1 && step pinged || step ping-failed
podman exec p1 cat /etc/resolv.conf > ${w}/resolv 2>&1
podman exec p1 nslookup web ${ip.replace(/\.\d+$/, '.1')} > ${w}/names 2>&1
podman stop -t 1 p1 >/dev/null 2>&1
step stopped
wait_for go2 || exit 1
podman start p1 >/dev/null && step restarted || step start-failed
podman exec p1 ip addr show eth0 > ${w}/addr2
wait_for go3 || exit 1
podman rm -f -t 1 p1 >/dev/null 2>&1
step removed
`;
}

describe('CNI plugin with podman (CNI backend) on two hosts', function () {
  this.timeout(240000);
  const work: string[] = [];
  const procs: ChildProcess[] = [];
  let createdVarLibCni = false;
  const cluster = useCluster({
    hosts: 2,
    // Each host's podman script is released from its waits and runs to its end (the container's
    // removal through the CNI plugin) while the agents still answer.
    beforeStop: async () => {
      for (const w of work) for (const f of ['go1', 'go2', 'go3']) fs.writeFileSync(path.join(w, f), '');
      await Promise.all(
        procs.map(
          (p) =>
            new Promise<void>((r) => {
              if (p.exitCode !== null) return r();
              const t = setTimeout(() => p.kill('SIGKILL'), 30000);
              p.once('exit', () => {
                clearTimeout(t);
                r();
              });
            }),
        ),
      );
    },
  });
  let kv: Etcd3;
  let topo: Topology;
  let agents: TestAgent[] = [];

  before(async () => {
    if (!fs.existsSync('/usr/bin/podman'))
      throw new Error('podman is not installed: scripts/test.sh installs it (apt-get install podman busybox-static)');
    ({ kv, topo, agents } = cluster());
    await agents[0].client.create({ name: 'pod', ipamConfig: [{ subnet: '10.98.0.0/24' }] });
    if (!fs.existsSync('/var/lib/cni')) {
      fs.mkdirSync('/var/lib/cni', { recursive: true });
      createdVarLibCni = true;
    }
    for (const [i, a] of agents.entries()) {
      const w = fs.mkdtempSync(path.join(os.tmpdir(), `vxt-podman-${i}-`));
      work.push(w);
      for (const d of ['storage', 'runroot', 'tmp', 'volumes', 'cni-cache', 'net.d', 'bin', 'rootfs/bin'])
        fs.mkdirSync(path.join(w, d), { recursive: true });
      fs.copyFileSync(SHIM, path.join(w, 'bin', 'vxnet'));
      fs.chmodSync(path.join(w, 'bin', 'vxnet'), 0o755);
      fs.writeFileSync(
        path.join(w, 'net.d', '10-vxnet.conflist'),
        JSON.stringify({
          cniVersion: '1.0.0',
          name: 'vxnet-pod',
          plugins: [
            {
              type: 'vxnet',
              network: 'pod',
              agent: path.join(a.dir, 'cni.sock'),
              capabilities: { ips: true, mac: true, portMappings: true, aliases: true },
            },
          ],
        }),
      );
      // podman asks runc for rlimits above what this sandbox allows; pin them (as the lab found).
      fs.writeFileSync(
        path.join(w, 'containers.conf'),
        `[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nevents_logfile_path = "${w}/events.log"\n[network]\nnetwork_backend = "cni"\ncni_plugin_dirs = ["${w}/bin"]\nnetwork_config_dir = "${w}/net.d"\n`,
      );
      fs.writeFileSync(
        path.join(w, 'storage.conf'),
        `[storage]\ndriver = "overlay"\ngraphroot = "${w}/storage"\nrunroot = "${w}/runroot"\n`,
      );
      fs.copyFileSync('/usr/bin/busybox', path.join(w, 'rootfs', 'bin', 'busybox'));
      fs.chmodSync(path.join(w, 'rootfs', 'bin', 'busybox'), 0o755);
      for (const c of ['sh', 'ping', 'ip', 'sleep', 'cat', 'nslookup'])
        fs.symlinkSync('busybox', path.join(w, 'rootfs', 'bin', c));
      execFileSync('tar', ['-C', path.join(w, 'rootfs'), '-cf', path.join(w, 'rootfs.tar'), '.']);
    }
  });

  // After the cluster's stop (useCluster's hook runs first).
  after(() => {
    for (const w of work) {
      sh('umount', ['-R', path.join(w, 'storage', 'overlay')], { allowFail: true });
      fs.rmSync(w, { recursive: true, force: true });
    }
    for (const c of fs.existsSync('/sys/fs/cgroup') ? fs.readdirSync('/sys/fs/cgroup') : [])
      sh('find', [`/sys/fs/cgroup/${c}/libpod_parent`, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';'], {
        allowFail: true,
      });
    if (createdVarLibCni) fs.rmSync('/var/lib/cni', { recursive: true, force: true });
  });

  const state = (i: number): string => {
    try {
      return fs.readFileSync(path.join(work[i], 'state'), 'utf8').trim();
    } catch {
      return '';
    }
  };

  it('podman run --ip on two hosts: the containers ping each other; stop, start and rm -f leave nothing behind', async () => {
    const ips = ['10.98.0.11', '10.98.0.12'];
    for (let i = 0; i < 2; i++) {
      const w = work[i];
      const p = spawn(
        'nsenter',
        [
          `--net=/run/netns/${topo.hosts[i].ns}`,
          'unshare',
          '--mount',
          '--propagation',
          'private',
          '--',
          'bash',
          '-c',
          hostScript(w, ips[i], ips[1 - i]),
        ],
        {
          env: {
            ...process.env,
            CONTAINERS_CONF: path.join(w, 'containers.conf'),
            CONTAINERS_STORAGE_CONF: path.join(w, 'storage.conf'),
          },
          stdio: ['ignore', fs.openSync(path.join(w, 'out.log'), 'w'), fs.openSync(path.join(w, 'err.log'), 'w')],
        },
      );
      procs.push(p);
    }
    const fail = (): string =>
      work
        .map(
          (w, i) =>
            `host ${i}: state ${state(i)}\n${fs.readFileSync(path.join(w, 'err.log'), 'utf8').slice(-1500)}\n${agents[i].tail(10)}`,
        )
        .join('\n');
    await waitFor(
      'both containers running',
      () => {
        if (work.some((_, i) => /failed/.test(state(i)))) throw new Error(fail());
        return state(0) === 'running' && state(1) === 'running';
      },
      90000,
      200,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${fail()}`);
    });
    for (let i = 0; i < 2; i++)
      assert.match(
        fs.readFileSync(path.join(work[i], 'addr'), 'utf8'),
        new RegExp(`inet ${ips[i].replace(/\./g, '\\.')}/24`),
      );
    const net = await agents[0].client.inspect({ network: 'pod' });
    assert.deepStrictEqual(net.endpoints.map((e) => e.ipv4Address).sort(), ['10.98.0.11/24', '10.98.0.12/24']);
    // A namespace of ours on host 2 reaches the podman container on host 1 too.
    const probe = topo.container('pprobe');
    await agents[1].client.connect({ network: 'pod', sandbox: probe });
    await waitFor('probe -> podman container on h1', () => ping(probe, ips[0]), 5000);
    await agents[1].client.disconnect({ network: 'pod', sandbox: probe });
    for (const w of work) fs.writeFileSync(path.join(w, 'go1'), '');
    await waitFor('pinged and stopped', () => work.every((_, i) => state(i) === 'stopped'), 60000, 200);
    for (let i = 0; i < 2; i++)
      assert.match(
        fs.readFileSync(path.join(work[i], 'ping1'), 'utf8'),
        /1 packets received/,
        `host ${i} container could not ping its peer`,
      );
    // The alias both containers have (podman's --network-alias, through the CNI aliases
    // capability) names both, each on its own host, through the resolver on the gateway; podman
    // writes the result's dns into the container's resolv.conf.
    for (let i = 0; i < 2; i++) {
      const names = fs.readFileSync(path.join(work[i], 'names'), 'utf8');
      for (const ip of ips) assert.match(names, new RegExp(`Address:\\s+${ip.replace(/\./g, '\\.')}\\b`), names);
      assert.match(fs.readFileSync(path.join(work[i], 'resolv'), 'utf8'), /^nameserver 10\.98\.0\.1$/m);
    }
    assert.strictEqual(
      (await agents[0].client.inspect({ network: 'pod' })).endpoints.length,
      0,
      'podman stop left endpoints',
    );
    for (const w of work) fs.writeFileSync(path.join(w, 'go2'), '');
    await waitFor('restarted', () => work.every((_, i) => state(i) === 'restarted'), 60000, 200).catch((e: Error) => {
      throw new Error(`${e.message}\n${fail()}`);
    });
    assert.strictEqual((await agents[0].client.inspect({ network: 'pod' })).endpoints.length, 2);
    for (const w of work) fs.writeFileSync(path.join(w, 'go3'), '');
    await waitFor('removed', () => work.every((_, i) => state(i) === 'removed'), 60000, 200);
    const d = await dumpEtcd(kv);
    assert.deepStrictEqual(
      Object.keys(d).filter((k) => k.includes('/endpoints/') || k.includes('/ipam/')),
      [],
      'podman rm -f left records',
    );
    for (const h of topo.hosts)
      assert.doesNotMatch(sh('ip', ['-n', h.ns, '-o', 'link']), /vxv[0-9a-f]{12}/, 'a veth was left behind');
  });
});
