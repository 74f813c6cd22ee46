import * as http from 'http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../lib/log';
import type { ReconcileRun, RunObserver } from './observers/run';

// What the agent exposes to Prometheus. Values that the agent already keeps (reconcile stats, the
// cluster view, the lease) are read at scrape time; events are counted as they happen.
export interface MetricSources {
  kernelOps(): Record<string, number>; // "kind:result" -> count
  endpoints(): { network: string; local: number; remote: number }[];
  peerHosts(): number;
  lease(): { renewals: number; losses: number; held: boolean };
  // Every host this agent has seen since it started (itself included), and whether its host key,
  // bound to its lease, is in etcd now: a host whose lease ran out stays here, not alive.
  hosts(): { name: string; alive: boolean }[];
  etcdReachable(): boolean;
  watchEvents(): number;
  etcdRequests(): number;
  ready(): { ok: boolean; reason: string };
}

export class Metrics implements RunObserver {
  readonly registry = new Registry();
  private readonly reconcileRuns: Counter;
  private readonly reconcileDuration: Histogram;
  readonly watchLag: Histogram;
  private readonly apiRequests: Counter;
  private readonly apiDuration: Histogram;
  private readonly driftRepairs: Counter;
  private server: http.Server | undefined;

  constructor(private readonly src: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'vxnet_' });
    this.reconcileRuns = new Counter({
      name: 'vxnet_reconcile_runs_total',
      help: 'Reconcile runs by result (clean: every kernel operation succeeded) and strategy (full, reuse, patch, patch-full-diff; none before the first load).',
      labelNames: ['result', 'strategy'],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'vxnet_reconcile_duration_seconds',
      help: 'Duration of a reconcile run: read the kernel, diff, apply.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.watchLag = new Histogram({
      name: 'vxnet_watch_to_kernel_seconds',
      help: 'Time from an etcd watch event reaching the agent to the end of the reconcile that programmed it.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    });
    this.apiRequests = new Counter({
      name: 'vxnet_api_requests_total',
      help: 'API requests by method and gRPC status code.',
      labelNames: ['method', 'code'],
      registers,
    });
    this.apiDuration = new Histogram({
      name: 'vxnet_api_request_duration_seconds',
      help: 'Time the agent took to answer a unary API request, by method (every code).',
      labelNames: ['method'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.driftRepairs = new Counter({
      name: 'vxnet_drift_repairs_total',
      help: 'Periodic resync runs that had to change the kernel or a sandbox: drift made by someone else, repaired.',
      registers,
    });
    const s = this.src;
    new Counter({
      name: 'vxnet_kernel_operations_total',
      help: 'Kernel operations applied by the reconciler, by kind and result.',
      labelNames: ['kind', 'result'],
      registers,
      collect() {
        this.reset();
        for (const [k, v] of Object.entries(s.kernelOps())) {
          const [kind, result] = k.split(':');
          this.inc({ kind, result }, v);
        }
      },
    });
    new Counter({
      name: 'vxnet_watch_events_total',
      help: 'etcd watch events received.',
      registers,
      collect() {
        this.reset();
        this.inc(s.watchEvents());
      },
    });
    new Gauge({
      name: 'vxnet_endpoints',
      help: 'Endpoints per network on this host (local) and on the peers this host programs (remote).',
      labelNames: ['network', 'location'],
      registers,
      collect() {
        this.reset();
        for (const e of s.endpoints()) {
          this.set({ network: e.network, location: 'local' }, e.local);
          this.set({ network: e.network, location: 'remote' }, e.remote);
        }
      },
    });
    new Counter({
      name: 'vxnet_etcd_requests_total',
      help: 'Unary etcd requests made (reads, writes, transactions).',
      registers,
      collect() {
        this.reset();
        this.inc(s.etcdRequests());
      },
    });
    new Gauge({
      name: 'vxnet_peer_hosts',
      help: 'Live peer hosts (their lease is alive).',
      registers,
      collect() {
        this.set(s.peerHosts());
      },
    });
    new Counter({
      name: 'vxnet_lease_renewals_total',
      help: 'Host lease keep-alives that succeeded.',
      registers,
      collect() {
        this.reset();
        this.inc(s.lease().renewals);
      },
    });
    new Counter({
      name: 'vxnet_lease_losses_total',
      help: 'Host leases lost (and registered again).',
      registers,
      collect() {
        this.reset();
        this.inc(s.lease().losses);
      },
    });
    new Gauge({
      name: 'vxnet_lease_held',
      help: "1 while this host's key is in etcd under a live lease of this agent's.",
      registers,
      collect() {
        this.set(s.lease().held ? 1 : 0);
      },
    });
    new Gauge({
      name: 'vxnet_host_lease_alive',
      help: 'Per host seen since this agent started: 1 while its lease (and so its host key) is alive, 0 once it ran out.',
      labelNames: ['host'],
      registers,
      collect() {
        this.reset();
        for (const h of s.hosts()) this.set({ host: h.name }, h.alive ? 1 : 0);
      },
    });
    new Gauge({
      name: 'vxnet_etcd_up',
      help: 'Whether etcd answered the latest request or lease keep-alive of this agent (1) or not (0).',
      registers,
      collect() {
        this.set(s.etcdReachable() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'vxnet_ready',
      help: '1 when registered, watching and the last reconcile was clean.',
      registers,
      collect() {
        this.set(s.ready().ok ? 1 : 0);
      },
    });
  }

  afterRun(run: Pick<ReconcileRun, 'clean' | 'durationMs' | 'strategy' | 'resync' | 'applied'>): void {
    this.reconcileRuns.inc({ result: run.clean ? 'clean' : 'error', strategy: run.strategy });
    this.reconcileDuration.observe(run.durationMs / 1000);
    if (run.resync && run.applied > 0) this.driftRepairs.inc();
  }

  // One API request answered; `seconds` for unary calls (a stream's length says nothing).
  request(method: string, code: string, seconds?: number): void {
    this.apiRequests.inc({ method, code });
    if (seconds !== undefined) this.apiDuration.observe({ method }, seconds);
  }

  // /metrics (Prometheus text), /healthz (the process answers), /readyz (registered, watching,
  // last reconcile clean).
  async listen(address: string, log: Logger): Promise<number> {
    const i = address.lastIndexOf(':');
    const host = address.slice(0, i) || '127.0.0.1';
    const port = Number(address.slice(i + 1));
    this.server = http.createServer((req, res) => {
      void this.handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host.replace(/^\[|\]$/g, ''), () => resolve());
    });
    const bound = (this.server.address() as { port: number }).port;
    log.info('metrics listening', { address: `${host}:${bound}` });
    return bound;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      const body = await this.registry.metrics();
      res.writeHead(200, { 'Content-Type': this.registry.contentType });
      res.end(body);
    } else if (path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok\n');
    } else if (path === '/readyz') {
      const r = this.src.ready();
      res.writeHead(r.ok ? 200 : 503, { 'Content-Type': 'text/plain' });
      res.end(r.ok ? 'ready\n' : `not ready: ${r.reason}\n`);
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found: try /metrics, /healthz or /readyz\n');
    }
  }

  async close(): Promise<void> {
    const s = this.server;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
