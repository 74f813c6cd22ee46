import * as assert from 'assert';
import { MemoryTrim } from '../../agent/memory';
import { createLogger } from '../../lib/log';

describe('giving memory back after a burst', () => {
  const log = createLogger({ level: 'error' });
  const setup = (): { t: MemoryTrim; add: (n: number) => void; runs: () => number } => {
    let seen = 0;
    let runs = 0;
    const t = new MemoryTrim(
      () => seen,
      log,
      20,
      () => runs++,
    );
    return { t, add: (n) => (seen += n), runs: () => runs };
  };
  const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  it('once after a burst, even one that arrived before the first reconcile (a restart with many)', async () => {
    const { t, add, runs } = setup();
    add(10000);
    t.afterRun();
    t.afterRun(); // the burst goes on: still one, after the last run
    await pause(60);
    assert.strictEqual(runs(), 1);
    t.afterRun(); // nothing new
    await pause(60);
    assert.strictEqual(runs(), 1);
    t.stop();
  });

  it('never for a trickle spread over more than the window', async () => {
    const { t, add, runs } = setup();
    const start = Date.now();
    for (let i = 0; i < 30; i++) {
      add(50);
      t.afterRun(start + i * 1000); // 50 a second: 1,500 in all, never 1,000 within 10 s
    }
    await pause(60);
    assert.strictEqual(runs(), 0);
    t.stop();
  });
});
