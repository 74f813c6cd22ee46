import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { nsGet } from './nshttp';
import { waitFor } from './topology';

export const PROMETHEUS = '/usr/bin/prometheus';

// Debian's Prometheus inside a namespace of the test's own (it reaches the agents there), on that
// namespace's loopback, with its own data directory; stopped by its PID and removed in `stop`.
export class TestPrometheus {
  private proc: ChildProcess | undefined;
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vxt-prom-'));
  readonly url = 'http://127.0.0.1:9090';

  constructor(
    readonly ns: string,
    private readonly config: { targets: string[]; rules: unknown; intervalS: number },
  ) {}

  async start(timeoutMs = 20000): Promise<void> {
    const rules = path.join(this.dir, 'rules.yml');
    fs.writeFileSync(rules, stringify(this.config.rules));
    const every = `${this.config.intervalS}s`;
    const cfg = path.join(this.dir, 'prometheus.yml');
    fs.writeFileSync(
      cfg,
      stringify({
        global: { scrape_interval: every, evaluation_interval: every, scrape_timeout: every },
        rule_files: [rules],
        scrape_configs: [{ job_name: 'vxnet', static_configs: [{ targets: this.config.targets }] }],
      }),
    );
    const log = fs.openSync(path.join(this.dir, 'prometheus.log'), 'a');
    // `ip netns exec` execs Prometheus itself: the PID is Prometheus's.
    this.proc = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.ns,
        PROMETHEUS,
        `--config.file=${cfg}`,
        `--storage.tsdb.path=${path.join(this.dir, 'data')}`,
        '--web.listen-address=127.0.0.1:9090',
        '--log.level=warn',
      ],
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    await waitFor(
      'Prometheus ready',
      () => {
        if (this.proc?.exitCode !== null) throw new Error(`prometheus exited:\n${this.logTail()}`);
        return nsGet(this.ns, `${this.url}/-/ready`).status === 200;
      },
      timeoutMs,
      200,
    );
  }

  // One API call: the `data` of a successful answer.
  api<T>(pathAndQuery: string): T {
    const r = nsGet(this.ns, `${this.url}/api/v1/${pathAndQuery}`);
    if (r.status !== 200) throw new Error(`Prometheus ${pathAndQuery}: ${r.status} ${r.body}`);
    return (JSON.parse(r.body) as { data: T }).data;
  }

  logTail(n = 20): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'prometheus.log'), 'utf8').split('\n').slice(-n).join('\n');
    } catch {
      return '';
    }
  }

  async stop(timeoutMs = 10000): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(t);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
