import * as fs from 'fs';
import * as path from 'path';
import { Store } from '../control/store/store';
import { NetworkService } from '../control/networks';
import { ApiServer, Api } from '../control/server';
import type { HostRecord } from '../control/model';
import { AgentConfig, ConfigError } from './config';
import type { Self } from './desired';
import { EndpointService } from './endpoints';
import { NetlinkKernel } from './kernel';
import type { Logger } from './log';
import { Reconciler } from './reconciler';
import { Registration } from './registration';
import { ClusterState } from './state';

export const VERSION: string = (() => {
  try {
    for (const p of [path.join(__dirname, '..', '..', 'package.json'), path.join(__dirname, '..', 'package.json')]) {
      if (fs.existsSync(p)) return (JSON.parse(fs.readFileSync(p, 'utf8')) as { version: string }).version;
    }
  } catch {
    /* fall through */
  }
  return 'unknown';
})();

function readFileFor(key: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${key}: cannot read ${file}: ${(err as Error).message}`);
  }
}

// A group name from /etc/group, or a numeric id.
function groupId(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  const line = fs.readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[0] === group);
  if (!line) throw new ConfigError(`api.socket_group: no group named ${group}`);
  return Number(line.split(':')[2]);
}

// One agent per host: wires the store, the registration, the cluster view, the reconciler and the
// API together. Nothing here talks to the kernel or etcd directly.
export class Agent {
  readonly store: Store;
  readonly state: ClusterState;
  readonly registration: Registration;
  readonly reconciler: Reconciler;
  readonly networks: NetworkService;
  readonly endpoints: EndpointService;
  readonly kernel: NetlinkKernel;
  private readonly server: ApiServer;
  readonly self: Self;

  constructor(private readonly config: AgentConfig, private readonly log: Logger) {
    const e = config.etcd;
    this.store = new Store({
      endpoints: e.endpoints,
      callTimeoutMs: e.timeoutMs,
      ...(e.caFile ? { tls: { ca: readFileFor('etcd.ca_file', e.caFile), ...(e.certFile ? { cert: readFileFor('etcd.cert_file', e.certFile) } : {}), ...(e.keyFile ? { key: readFileFor('etcd.key_file', e.keyFile) } : {}) } } : {}),
      ...(e.username ? { auth: { username: e.username, password: e.password } } : {}),
    });
    this.self = { name: config.name, vtep: config.vtep, vxlanPort: config.vxlanPort, underlayMtu: config.underlayMtu };
    const host: HostRecord = { name: config.name, vtep: config.vtep, vxlanPort: config.vxlanPort, underlayMtu: config.underlayMtu, version: VERSION, started: new Date().toISOString() };
    this.state = new ClusterState(this.store, log);
    this.registration = new Registration(this.store, host, config.leaseTtl, log, () => void this.state.reload('registered'));
    this.kernel = new NetlinkKernel(this.self, log);
    this.networks = new NetworkService(this.store);
    this.endpoints = new EndpointService(this.store, this.networks, this.state, this.kernel, this.kernel, this.self, log, () => this.reconciler.trigger());
    this.reconciler = new Reconciler(this.state, this.kernel, this.self, this.endpoints, log, config.resyncInterval * 1000);
    this.server = new ApiServer(this.api(), log);
  }

  private api(): Api {
    return {
      create: (r) => this.networks.create(r),
      list: async (r) => ({ networks: await this.networks.list(r.filters) }),
      inspect: (ref) => this.networks.inspect(ref),
      delete: (ref) => this.networks.delete(ref),
      prune: async (r) => ({ networksDeleted: await this.networks.prune(r.filters) }),
      connect: (r) => this.endpoints.connect(r),
      disconnect: (r) => this.endpoints.disconnect(r),
      health: async () => {
        const ok = this.registration.registered && this.state.ready;
        return { status: ok ? 'SERVING' : 'NOT_SERVING', host: this.config.name, version: VERSION, message: ok ? '' : `registered=${this.registration.registered} watching=${this.state.ready}` };
      },
    };
  }

  async start(): Promise<void> {
    fs.mkdirSync(path.dirname(this.config.api.socket), { recursive: true });
    await this.server.listenUnix({ socket: this.config.api.socket, socketMode: this.config.api.socketMode, ...(this.config.api.socketGroup ? { socketGroupId: groupId(this.config.api.socketGroup) } : {}) });
    const api = this.config.api;
    if (api.tcp) {
      const port = await this.server.listenTcp(api.tcp, { cert: readFileFor('api.cert_file', api.certFile), key: readFileFor('api.key_file', api.keyFile), clientCa: readFileFor('api.client_ca_file', api.clientCaFile) });
      this.log.info('API listening on TCP with mutual TLS', { address: api.tcp, port });
    }
    this.log.info('agent starting', { vtep: this.config.vtep, socket: this.config.api.socket, etcd: this.config.etcd.endpoints, version: VERSION });
    // The API answers from the start (network calls work as soon as etcd does); the data plane is
    // reconciled once the first consistent load is in.
    await this.registration.start();
    await this.state.start();
    this.reconciler.start();
  }

  async stop(): Promise<void> {
    await this.server.stop();
    fs.rmSync(this.config.api.socket, { force: true });
    await this.reconciler.stop();
    await this.state.stop();
    await this.registration.stop();
    this.kernel.close();
    this.store.close();
  }
}
