import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { ROOT } from '../helpers/agent';
import { useCluster } from '../helpers/cluster';
import { nsGet } from '../helpers/nshttp';
import { PROMETHEUS, TestPrometheus } from '../helpers/prometheus';
import { sh, waitFor } from '../helpers/topology';

const DIR = path.join(ROOT, 'deploy', 'monitoring');
const METRICS_PORT = 9476; // in each host's own namespace: no other process binds there
const LEASE_TTL = 3;

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  annotations?: Record<string, string>;
}
type RuleFile = { groups: { name: string; rules: Rule[] }[] };

const rules = (): RuleFile => parse(fs.readFileSync(path.join(DIR, 'vxnet-alerts.yml'), 'utf8')) as RuleFile;

// Every metric name the rules (expressions and the text an operator reads) and the dashboard's
// queries use, with where; `up` is Prometheus's own.
function namesUsed(): Map<string, string> {
  const used = new Map<string, string>();
  const take = (text: string, where: string): void => {
    for (const m of text.matchAll(/\bvxnet_[a-zA-Z0-9_]+\b/g)) if (!used.has(m[0])) used.set(m[0], where);
  };
  for (const g of rules().groups)
    for (const r of g.rules) {
      take(r.expr, `rule ${r.alert}`);
      for (const v of Object.values(r.annotations ?? {})) take(v, `rule ${r.alert}'s annotations`);
    }
  const dash = JSON.parse(fs.readFileSync(path.join(DIR, 'vxnet-dashboard.json'), 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[] }[];
    templating: { list: { definition: string }[] };
  };
  for (const p of dash.panels) for (const t of p.targets ?? []) take(t.expr, `panel "${p.title}"`);
  for (const v of dash.templating.list) take(v.definition, 'the dashboard variables');
  return used;
}

// The names in Prometheus text: each sample's (a histogram's _bucket, _sum and _count) and each
// metric's own (a histogram's base name, which its description may use).
function names(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^(?:# TYPE )?([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (m) out.add(m[1]);
  }
  return out;
}

describe('monitoring: alert rules and dashboard against live agents and a real Prometheus', function () {
  this.timeout(60000);
  const cluster = useCluster({
    hosts: 2,
    agent: (h) => ({ leaseTtl: LEASE_TTL, extra: ['--metrics', `${h.vtep}:${METRICS_PORT}`] }),
  });
  let prom: TestPrometheus | undefined;
  const target = (i: number): string => `${cluster().topo.hosts[i].vtep}:${METRICS_PORT}`;

  before(async function () {
    if (!fs.existsSync(PROMETHEUS)) throw new Error('Prometheus is not installed: scripts/test.sh installs it');
    const { topo, agents } = cluster();
    // Something in every series: a network with an endpoint on each host, and a few API calls.
    await agents[0].client.create({ name: 'mon', ipamConfig: [{ subnet: '10.79.0.0/24' }] });
    for (const [i, a] of agents.entries()) await a.client.connect({ network: 'mon', sandbox: topo.container(`m${i}`) });
    await agents[1].client.list({});
    await agents[1].client.inspect({ network: 'nosuch' }).catch(() => undefined);
    // Prometheus lives in the underlay namespace, which reaches both hosts' metrics.
    sh('ip', ['-n', topo.underlay, 'addr', 'add', '192.168.231.1/24', 'dev', 'ul']);
    // The shipped rules with every `for:` at one second, so that the lease alert fires within the test.
    const r = rules();
    for (const g of r.groups) for (const rule of g.rules) rule.for = '1s';
    prom = new TestPrometheus(topo.underlay, { targets: [target(0), target(1)], rules: r, intervalS: 1 });
    await prom.start();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && prom) console.error(`--- prometheus log\n${prom.logTail()}`);
  });

  after(async () => {
    await prom?.stop();
    prom = undefined;
  });

  it('promtool accepts the rules and the example configuration', () => {
    for (const args of [
      ['check', 'rules', path.join(DIR, 'vxnet-alerts.yml')],
      ['check', 'config', path.join(DIR, 'prometheus.yml')],
    ]) {
      const r = spawnSync('promtool', args, { encoding: 'utf8', timeout: 20000 });
      assert.strictEqual(r.status, 0, `promtool ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
    }
  });

  it('every metric a rule or a panel uses is in each live agent’s /metrics', () => {
    const used = namesUsed();
    assert.ok(used.size >= 10, `only ${used.size} metric names found in the rules and the dashboard`);
    for (const [i, h] of cluster().topo.hosts.entries()) {
      const r = nsGet(h.ns, `http://${target(i)}/metrics`);
      assert.strictEqual(r.status, 200, r.body);
      const have = names(r.body);
      const missing = [...used].filter(([name]) => !have.has(name)).map(([name, where]) => `${name} (${where})`);
      assert.deepStrictEqual(missing, [], `${h.name}'s /metrics lacks what the monitoring files use`);
    }
  });

  it('Prometheus scrapes both agents and returns a series for each metric the rules and the dashboard use', async () => {
    const p = prom!;
    await waitFor(
      'both targets up',
      () =>
        p
          .api<{ activeTargets: { health: string }[] }>('targets?state=active')
          .activeTargets.filter((t) => t.health === 'up').length === 2,
      15000,
      250,
    );
    // A histogram's base name has no series of its own: its _count stands for it.
    const histograms = new Set(
      [
        ...nsGet(cluster().topo.hosts[0].ns, `http://${target(0)}/metrics`).body.matchAll(/^# TYPE (\S+) histogram$/gm),
      ].map((m) => m[1]),
    );
    let missing = [...namesUsed().keys(), 'up'].map((n) => (histograms.has(n) ? `${n}_count` : n));
    await waitFor(
      'a series for every name',
      () => {
        missing = missing.filter((n) => p.api<unknown[]>(`series?match[]=${encodeURIComponent(n)}`).length === 0);
        return missing.length === 0;
      },
      10000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: none for ${missing.join(', ')}`);
    });
  });

  it('VxnetHostLeaseLost fires for a host whose agent is paused past its lease TTL', async () => {
    const { agents, topo } = cluster();
    const p = prom!;
    const firing = (): boolean =>
      p
        .api<{ alerts: { labels: Record<string, string>; state: string }[] }>('alerts')
        .alerts.some(
          (a) =>
            a.labels.alertname === 'VxnetHostLeaseLost' && a.labels.host === topo.hosts[0].name && a.state === 'firing',
        );
    assert.strictEqual(firing(), false, 'the alert fires before anything happened');
    agents[0].signal('SIGSTOP');
    try {
      const ms = await waitFor('VxnetHostLeaseLost firing', firing, LEASE_TTL * 1000 + 20000, 500);
      console.log(
        `      firing ${ms} ms after SIGSTOP (lease TTL ${LEASE_TTL} s, rule for 1 s, scrape and evaluation every 1 s)`,
      );
    } finally {
      agents[0].signal('SIGCONT');
    }
    // Back under a fresh lease: the other agent sees it alive again.
    await waitFor(
      'the host alive again',
      () => /vxnet_host_lease_alive\{host="h1"\} 1/.test(nsGet(topo.hosts[1].ns, `http://${target(1)}/metrics`).body),
      15000,
      250,
    );
  });
});
