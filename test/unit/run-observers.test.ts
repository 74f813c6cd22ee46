import * as assert from 'assert';
import { ReadyReporter } from '../../agent/observers/ready';
import type { ReadinessSources } from '../../agent/observers/ready';
import { tellEach } from '../../agent/observers/run';
import type { ReconcileRun } from '../../agent/observers/run';
import { WatchLagMeter } from '../../agent/observers/watch-lag';
import type { Logger } from '../../lib/log';

const run = (over: Partial<ReconcileRun> = {}): ReconcileRun => ({
  clean: true,
  full: false,
  strategy: 'full',
  durationMs: 1,
  revision: 10,
  vnis: [],
  resync: false,
  applied: 0,
  ...over,
});

function recorder(): Logger & { lines: { msg: string; fields?: Record<string, unknown> }[] } {
  const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
  const put = (msg: string, fields?: Record<string, unknown>): void =>
    void lines.push({ msg, ...(fields ? { fields } : {}) });
  return { lines, debug: put, info: put, warn: put, error: put };
}

describe('what the agent does after each reconcile run', () => {
  it('tellEach tells every observer, in order', () => {
    const seen: string[] = [];
    tellEach([{ afterRun: (r) => seen.push(`a${r.revision}`) }, { afterRun: (r) => seen.push(`b${r.revision}`) }])(
      run({ revision: 3 }),
    );
    assert.deepStrictEqual(seen, ['a3', 'b3']);
  });

  it('the watch lag is measured for the arrivals a run covers, which leave the list', () => {
    const arrivals = [
      { revision: 5, at: 1000 },
      { revision: 10, at: 1500 },
      { revision: 11, at: 1900 },
    ];
    const lags: number[] = [];
    new WatchLagMeter(arrivals, { observe: (s) => lags.push(s) }).afterRun(run({ revision: 10 }), 2000);
    assert.deepStrictEqual(lags, [1, 0.5]);
    assert.deepStrictEqual(arrivals, [{ revision: 11, at: 1900 }]);
  });

  it('readiness names the first thing missing', () => {
    const src = { registered: false, watching: false, runs: 0, lastClean: false };
    const sources: ReadinessSources = {
      registered: () => src.registered,
      watching: () => src.watching,
      stats: () => src,
      remoteEndpoints: () => 0,
    };
    const r = new ReadyReporter(sources, recorder());
    assert.deepStrictEqual(r.readiness(), { ok: false, reason: 'host not registered in etcd' });
    src.registered = true;
    assert.deepStrictEqual(r.readiness(), { ok: false, reason: 'no etcd watch running' });
    src.watching = true;
    assert.deepStrictEqual(r.readiness(), { ok: false, reason: 'not reconciled yet' });
    src.runs = 1;
    assert.deepStrictEqual(r.readiness(), { ok: false, reason: 'last reconcile had errors' });
    src.lastClean = true;
    assert.deepStrictEqual(r.readiness(), { ok: true, reason: '' });
  });

  it('the ready line is logged once, at the first run that leaves the agent ready, with the start steps', () => {
    const src = { runs: 1, lastClean: false };
    const log = recorder();
    let t = 100;
    const r = new ReadyReporter(
      { registered: () => true, watching: () => true, stats: () => src, remoteEndpoints: () => 7 },
      log,
      () => t,
    );
    r.mark('started');
    r.afterRun();
    assert.strictEqual(log.lines.length, 0);
    src.lastClean = true;
    t = 250;
    r.afterRun();
    r.afterRun();
    assert.strictEqual(log.lines.length, 1);
    assert.strictEqual(log.lines[0].msg, 'ready');
    assert.deepStrictEqual(
      { ...log.lines[0].fields, cpuMs: 0 },
      { ms: 250, cpuMs: 0, steps: { started: 100, reconciled: 250 }, remoteEndpoints: 7 },
    );
  });
});
