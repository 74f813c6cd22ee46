import * as fs from 'fs';
import * as path from 'path';
import { Store } from '../control/store/store';
import { NetworkService } from '../control/networks';
import { ApiServer } from '../control/server';
import type { HostRecord } from '../control/model';
import { AgentConfig, ConfigError, readKeyFile } from './config';
import { probeEtcd } from './etcd-probe';
import type { Self } from './desired';
import { EndpointService } from './endpoints/service';
import { HostDataplane } from './dataplane/host';
import { HostLinks } from './dataplane/host-links';
import { SandboxDataplane } from './dataplane/sandbox';
import type { Logger } from '../lib/log';
import { Reconciler } from './reconciler';
import { Registration } from './hosts/registration';
import { ClusterState } from './view';
import { EventLog } from './events';
import { HostService } from './hosts/service';
import { Liveness } from './hosts/liveness';
import { EtcdOutage } from './outage';
import { Metrics } from './metrics';
import { agentApi } from './api';
import { CniServer } from './cni';
import { Isolation } from './isolation';
import { IsolationFollower } from './observers/isolation';
import { TableFollower } from './observers/table';
import { NftTable } from './dataplane/nft';
import { FAMILY, TABLE } from './nft-table';
import { Progress } from './progress';
import { MemoryTrim } from './memory';
import { DockerDriver } from './docker/driver';
import { DockerPluginServer } from './docker/server';
import { version } from '../lib/version';
import { CniAdapter } from './cni-adapter';
import { endpointCounts } from './endpoint-counts';
import type { EndpointCount } from './endpoint-counts';
import { ReadyReporter } from './observers/ready';
import { tellEach } from './observers/run';
import { WatchLagMeter } from './observers/watch-lag';
import { SandboxWatch } from './sandbox-watch';
import { DnsFeeder } from './dns/feeder';
import { registerDnsMetrics } from './dns/metrics';
import { dnsOf } from './dns/client-config';

// A group name from /etc/group, or a numeric id.
function groupId(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  const line = fs
    .readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === group);
  if (!line) throw new ConfigError(`api.socket_group: no group named ${group}`);
  return Number(line.split(':')[2]);
}

// One agent per host: wires the store, the registration, the cluster view, the reconciler and the
// API together. Nothing here talks to the kernel or etcd directly; what follows each reconcile run
// is in the observers handed to the reconciler (observers/).
export class Agent {
  readonly store: Store;
  readonly state: ClusterState;
  readonly registration: Registration;
  readonly hosts: HostService;
  private readonly liveness: Liveness;
  readonly outage: EtcdOutage;
  readonly reconciler: Reconciler;
  private readonly memory: MemoryTrim;
  private readonly sandboxWatch: SandboxWatch;
  readonly networks: NetworkService;
  readonly endpoints: EndpointService;
  private readonly links: HostLinks; // the host's netlink socket, shared by both sides below
  readonly kernel: HostDataplane;
  readonly sandboxes: SandboxDataplane;
  private readonly server: ApiServer;
  readonly self: Self;
  readonly events: EventLog;
  readonly metrics: Metrics;
  private readonly cni: CniServer;
  readonly isolation: IsolationFollower;
  readonly table: TableFollower;
  private readonly progress: Progress;
  readonly ready: ReadyReporter;
  private readonly docker: DockerPluginServer | undefined;
  private dockerGc: NodeJS.Timeout | undefined;
  private readonly dns: DnsFeeder | undefined;
  private readonly seenHosts = new Set<string>();

  constructor(
    readonly config: AgentConfig,
    private readonly log: Logger,
  ) {
    const e = config.etcd;
    this.store = new Store({
      endpoints: e.endpoints,
      callTimeoutMs: e.timeoutMs,
      ...(e.caFile
        ? {
            tls: {
              ca: readKeyFile('etcd.ca_file', e.caFile),
              ...(e.certFile ? { cert: readKeyFile('etcd.cert_file', e.certFile) } : {}),
              ...(e.keyFile ? { key: readKeyFile('etcd.key_file', e.keyFile) } : {}),
            },
          }
        : {}),
      ...(e.username ? { auth: { username: e.username, password: e.password } } : {}),
    });
    this.self = { name: config.name, vtep: config.vtep, vxlanPort: config.vxlanPort, underlayMtu: config.underlayMtu };
    const host: HostRecord = {
      name: config.name,
      vtep: config.vtep,
      vxlanPort: config.vxlanPort,
      underlayMtu: config.underlayMtu,
      version: version(),
      started: new Date().toISOString(),
    };
    this.events = new EventLog(2000, (id) => this.state.snap?.networks.get(id)?.name ?? '');
    this.events.on('host', (e: { action: string; host: HostRecord }) => {
      this.seenHosts.add(e.host.name);
      // A peer that leaves keeps its entries here: it lost its lease, not its containers.
      const what: Record<string, string> = { join: 'peer host joined', leave: 'peer host left (lease lost)' };
      if (e.host.name !== config.name)
        log.info(what[e.action] ?? 'peer host removed', { peer: e.host.name, vtep: e.host.vtep });
    });
    this.state = new ClusterState(this.store, config.name, log, this.events);
    this.registration = new Registration(this.store, host, config.leaseTtl, log, (again) => {
      // After a lost lease: etcd may have been away, so the view is loaded again. The first time, the
      // start's own load is under way (start()).
      if (again) void this.state.reload('registered again');
    });
    const hostDeps = { store: this.store, self: config.name, view: () => this.state.snap, log };
    this.hosts = new HostService(hostDeps);
    this.liveness = new Liveness({
      ...hostDeps,
      registered: () => this.registration.registered,
      restore: () => this.registration.restore(),
      deadHostTimeoutMs: config.deadHostTimeout * 1000,
    });
    this.links = new HostLinks();
    this.kernel = new HostDataplane(this.self, log, this.links);
    this.sandboxes = new SandboxDataplane(this.links);
    this.networks = new NetworkService(this.store);
    this.endpoints = new EndpointService(
      this.store,
      this.networks,
      this.state,
      this.kernel,
      this.sandboxes,
      this.self,
      log,
      (op) => this.reconciler.settled(op),
    );
    this.metrics = new Metrics({
      kernelOps: () => this.reconciler.stats.kernelOps,
      endpoints: () => this.endpointCounts(),
      peerHosts: () => [...(this.state.snap?.hosts.keys() ?? [])].filter((h) => h !== config.name).length,
      lease: () => ({
        renewals: this.registration.renewals,
        losses: this.registration.losses,
        held: this.registration.registered,
      }),
      hosts: () => this.hostsSeen(),
      etcdReachable: () => this.store.reachable,
      watchEvents: () => this.state.watchEvents,
      etcdRequests: () => this.store.requests,
      ready: () => this.ready.readiness(),
    });
    if (config.dns.enabled === 'true') {
      const d = config.dns;
      this.dns = new DnsFeeder(
        d.socket,
        {
          domain: d.domain,
          ttl: d.ttl,
          port: d.port,
          resolvConf: d.resolvConf,
          upstreams: d.upstreams,
          upstreamTimeoutMs: d.upstreamTimeoutMs,
          cacheSize: d.cacheSize,
          maxInFlight: d.maxInFlight,
        },
        config.name,
        () => ({ snap: this.state.snap, ready: this.state.ready, version: this.state.version }),
        log,
      );
      const dns = this.dns;
      registerDnsMetrics(this.metrics.registry, () => dns.stats());
    }
    this.isolation = new IsolationFollower(
      new Isolation(log, (type, family) => this.kernel.dumpRaw(type, family), config.docker.enabled === 'true'),
      () => this.state.snap,
    );
    this.table = new TableFollower(
      new NftTable(FAMILY, TABLE, log),
      () => this.state.snap,
      log,
      config.ipForward,
      (t) => t.endsWith(' filter') && this.isolation.recheck(),
    );
    this.progress = new Progress(config.name, () => this.registration.currentLease());
    this.memory = new MemoryTrim(() => this.state.recordsSeen, log);
    this.ready = new ReadyReporter(
      {
        registered: () => this.registration.registered,
        watching: () => this.state.ready,
        stats: () => this.reconciler.stats,
        remoteEndpoints: () => this.endpointCounts().reduce((n, c) => n + c.remote, 0),
      },
      log,
    );
    // In this order: the ready line comes last, after everything a run updates.
    const afterRun = tellEach([
      this.isolation,
      this.table,
      this.progress,
      this.metrics,
      new WatchLagMeter(this.state.arrivals, this.metrics.watchLag),
      { afterRun: () => this.memory.afterRun() },
      this.ready,
    ]);
    this.reconciler = new Reconciler(
      this.state,
      this.kernel,
      this.self,
      this.endpoints,
      log,
      config.resyncInterval * 1000,
      afterRun,
    );
    this.sandboxWatch = new SandboxWatch(
      {
        version: () => this.state.version,
        endpoints: () => this.state.snap?.endpoints.values() ?? [],
        host: config.name,
        busy: () => this.endpoints.busy(),
        identify: (p) => this.sandboxes.identify(p),
        release: (ep) => this.endpoints.repair(ep),
      },
      log,
    );
    this.outage = new EtcdOutage(this.store, () => this.state.snap, config.name);
    this.server = new ApiServer(
      agentApi(this),
      log,
      (method, code, s) => this.metrics.request(method, code, s),
      (m) => this.outage.explain(m),
    );
    this.cni = new CniServer(
      new CniAdapter(
        config.name,
        this.endpoints,
        this.sandboxes,
        this.store,
        () => this.state.snap,
        (id) => this.clientDns(id),
      ),
      log,
    );
    if (config.docker.enabled === 'true') {
      this.docker = new DockerPluginServer(
        new DockerDriver(
          config.name,
          config.docker.scope,
          this.store,
          this.networks,
          this.endpoints.docker,
          this.state,
          log,
        ),
        log,
      );
    }
  }

  // What a client's resolv.conf should say for a network (none with the resolver off).
  clientDns(networkId: string): ReturnType<typeof dnsOf> | undefined {
    const net = this.state.snap?.networks.get(networkId);
    return this.config.dns.enabled === 'true' && net ? dnsOf(net, this.config.dns.domain) : undefined;
  }

  // A host that left is remembered until this agent restarts, so that its lost lease shows as a 0
  // (vxnet_host_lease_alive) rather than as a series that vanished.
  private hostsSeen(): { name: string; alive: boolean }[] {
    const snap = this.state.snap;
    for (const name of snap?.hosts.keys() ?? []) this.seenHosts.add(name);
    return [...this.seenHosts].map((name) => ({ name, alive: !!snap?.alive.has(name) }));
  }

  private endpointCounts(): EndpointCount[] {
    return endpointCounts(this.state.snap, this.config.name);
  }

  async resync(): Promise<void> {
    await this.state.reload('resync requested');
    this.reconciler.trigger();
  }

  async start(): Promise<void> {
    this.ready.mark('started');
    this.reconciler.prefetch();
    await probeEtcd(this.store, this.config.etcd, this.log);
    if (this.config.metrics.listen) await this.metrics.listen(this.config.metrics.listen, this.log);
    fs.mkdirSync(path.dirname(this.config.api.socket), { recursive: true });
    await this.server.listenUnix({
      socket: this.config.api.socket,
      socketMode: this.config.api.socketMode,
      ...(this.config.api.socketGroup ? { socketGroupId: groupId(this.config.api.socketGroup) } : {}),
    });
    await this.cni.listen(this.config.cni.socket);
    this.dns?.start();
    if (this.docker) {
      await this.docker.listen(this.config.docker.socket);
      this.log.info('Docker plugin listening', { socket: this.config.docker.socket, scope: this.config.docker.scope });
      // Addresses Docker's IPAM reserved for endpoints it never created (it gave up, or an agent
      // restart came in between) go back after a minute.
      const gc = (): void =>
        void this.endpoints.docker
          .collectReservations(60_000)
          .then((n) => n && this.log.info('released abandoned Docker address reservations', { count: n }))
          .catch(() => undefined);
      this.dockerGc = setInterval(gc, 30_000);
      this.dockerGc.unref();
    }
    const api = this.config.api;
    if (api.tcp) {
      const port = await this.server.listenTcp(api.tcp, {
        cert: readKeyFile('api.cert_file', api.certFile),
        key: readKeyFile('api.key_file', api.keyFile),
        clientCa: readKeyFile('api.client_ca_file', api.clientCaFile),
      });
      this.log.info('API listening on TCP with mutual TLS', { address: api.tcp, port });
    }
    this.log.info('agent starting', {
      vtep: this.config.vtep,
      socket: this.config.api.socket,
      etcd: this.config.etcd.endpoints,
      version: version(),
    });
    // The API answers from the start (network calls work as soon as etcd does); the data plane is
    // reconciled once the first consistent load is in. The load does not wait for the registration:
    // the view needs no host key of this host, and the watch from the load's revision brings it.
    this.ready.mark('listening');
    await Promise.all([
      this.registration.start().then(() => this.ready.mark('registered')),
      this.state.start().then(() => this.ready.mark('viewLoaded')),
    ]);
    this.table.start();
    this.reconciler.start();
    this.sandboxWatch.start();
    this.liveness.start();
  }

  async stop(): Promise<void> {
    this.cni.close();
    this.dns?.stop();
    clearInterval(this.dockerGc);
    this.docker?.close();
    if (this.docker) fs.rmSync(this.config.docker.socket, { force: true });
    await this.server.stop();
    fs.rmSync(this.config.api.socket, { force: true });
    fs.rmSync(this.config.cni.socket, { force: true });
    this.sandboxWatch.stop();
    this.liveness.stop();
    await this.reconciler.stop();
    this.table.stop();
    this.memory.stop();
    await this.state.stop();
    await this.registration.stop();
    await this.metrics.close();
    this.kernel.close();
    this.links.close();
    this.store.close();
  }
}
