import * as assert from 'assert';
import { BEGIN, END, num, performanceBlock, withBlock } from '../../bench/report';
import type { Results } from '../../bench/report';

describe('bench report: results -> docs/performance.md table (pure)', () => {
  const results: Results = {
    machine: {
      cores: 2,
      cpu: 'AMD EPYC',
      kernel: '6.18.44',
      node: 'v20.20.2',
      smoke: false,
      date: '2026-01-01T00:00:00.000Z',
    },
    figures: [
      {
        name: 'Connect via gRPC',
        unit: 'ms',
        median: 11.94,
        p99: 44.71,
        n: 100,
        reference: 'CNI bridge+host-local ADD',
        refMedian: 33.5,
        refP99: 48.6,
        ratio: 0.3564,
        target: 'p50 <= 0.5x, p99 <= 1x',
        met: true,
      },
      { name: 'etcd requests per Connect (mean of 10)', unit: 'requests', median: 1, p99: NaN, n: 10 },
      {
        name: 'bulk add',
        unit: 'entries/s',
        median: 113123,
        p99: 95238,
        n: 3,
        reference: 'ip -batch | bridge -batch',
        refMedian: 25641,
        refP99: 25000,
        ratio: 4.41,
        target: '>= 3x',
        met: false,
      },
      { name: 'agent RSS (steady)', unit: 'MB', median: 73.84, p99: 73.84, n: 1 },
    ],
  };

  it('writes one row per figure: value, reference, ratio, target and whether it was met', () => {
    const block = performanceBlock(results);
    const lines = block.split('\n');
    assert.strictEqual(lines[0], BEGIN);
    assert.strictEqual(lines[lines.length - 1], END);
    assert.ok(lines.includes('Machine: 2 cores (AMD EPYC), Linux 6.18.44, Node v20.20.2. 1 target not met.'));
    assert.ok(
      lines.includes(
        '| Connect via gRPC | p50 11.9 ms, p99 44.7 ms (n 100) | CNI bridge+host-local ADD: p50 33.5 ms, p99 48.6 ms | 0.36 | p50 <= 0.5x, p99 <= 1x: met |',
      ),
    );
    assert.ok(lines.includes('| etcd requests per Connect (mean of 10) | 1 requests (n 10) |  |  |  |'));
    assert.ok(
      lines.includes(
        '| bulk add | p50 113,123 entries/s, p99 95,238 entries/s (n 3) | ip -batch \\| bridge -batch: p50 25,641 entries/s, p99 25,000 entries/s | 4.4 | >= 3x: not met |',
      ),
    );
    assert.ok(lines.includes('| agent RSS (steady) | 73.8 MB |  |  |  |'));
  });

  it('carries no date: a rerun with the same figures changes nothing', () => {
    const later = { ...results, machine: { ...results.machine, date: '2027-06-01T00:00:00.000Z' } };
    assert.strictEqual(performanceBlock(later), performanceBlock(results));
    assert.ok(!/20\d\d-\d\d-\d\d/.test(performanceBlock(results)));
  });

  it('reads figures back from JSON, where a missing p99 is null', () => {
    const parsed = JSON.parse(JSON.stringify(results)) as Results;
    assert.strictEqual(performanceBlock(parsed), performanceBlock(results));
  });

  it('replaces only the block and keeps the prose around it', () => {
    const doc = `# Performance\n\nprose before\n\n${BEGIN}\nold table\n${END}\n\nprose after\n`;
    const block = performanceBlock(results);
    const out = withBlock(doc, block);
    assert.strictEqual(out, `# Performance\n\nprose before\n\n${block}\n\nprose after\n`);
    assert.strictEqual(withBlock(out, block), out);
  });

  it('refuses a document without the markers rather than overwrite it', () => {
    assert.throws(() => withBlock('# Performance\n\nno block\n', 'x'), /no <!-- bench:begin -->/);
    assert.throws(() => withBlock(`${END}\n${BEGIN}\n`, 'x'), /no <!-- bench:begin -->/);
  });

  it('rounds to whole numbers from 100 up, to three significant digits below, and groups thousands', () => {
    assert.deepStrictEqual(
      [num(0.7), num(0.456), num(11.94), num(99.94), num(431.2), num(1624), num(113123)],
      ['0.7', '0.456', '11.9', '99.9', '431', '1,624', '113,123'],
    );
  });
});
