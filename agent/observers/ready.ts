import type { Logger } from '../../lib/log';
import type { RunObserver } from './run';
import type { ReconcileStats } from '../reconciler';

export interface ReadinessSources {
  registered(): boolean;
  watching(): boolean;
  stats(): Pick<ReconcileStats, 'runs' | 'lastClean'>;
  remoteEndpoints(): number;
}

// Readiness (/readyz, Health, the vxnet_ready gauge) and the one `ready` line of a start. The line
// carries how long each step of the start took from the process's own start (ms), because "the
// agent took a second to come back" is a question an operator or a benchmark asks.
export class ReadyReporter implements RunObserver {
  readonly steps: Record<string, number> = {};
  private logged = false;

  constructor(
    private readonly src: ReadinessSources,
    private readonly log: Logger,
    private readonly now = (): number => performance.now(),
  ) {}

  mark(step: string): void {
    this.steps[step] = Math.round(this.now());
  }

  readiness(): { ok: boolean; reason: string } {
    if (!this.src.registered()) return { ok: false, reason: 'host not registered in etcd' };
    if (!this.src.watching()) return { ok: false, reason: 'no etcd watch running' };
    const stats = this.src.stats();
    if (stats.runs === 0) return { ok: false, reason: 'not reconciled yet' };
    if (!stats.lastClean) return { ok: false, reason: 'last reconcile had errors' };
    return { ok: true, reason: '' };
  }

  afterRun(): void {
    if (this.logged || !this.readiness().ok) return;
    this.logged = true;
    this.mark('reconciled');
    const cpu = process.cpuUsage();
    this.log.info('ready', {
      ms: this.steps.reconciled,
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      steps: this.steps,
      remoteEndpoints: this.src.remoteEndpoints(),
    });
  }
}
