import * as assert from 'assert';
import { chartable, sectionChart, slug, targetRatio } from '../../bench/chart';
import { performanceBlock } from '../../bench/report';
import type { Figure } from '../../bench/figures';

const fig = (over: Partial<Figure>): Figure => ({ name: 'f', unit: 'ms', median: 1, p99: 2, n: 10, ...over });

describe('bench charts: a section as an SVG of vxnet against its references (pure)', () => {
  it('reads the ratio a target asks for, and which way is better', () => {
    assert.deepStrictEqual(targetRatio('p50 <= 0.5x, p99 <= 1x'), { ratio: 0.5, lowerIsBetter: true });
    assert.deepStrictEqual(targetRatio('>= 3x'), { ratio: 3, lowerIsBetter: false });
    assert.deepStrictEqual(targetRatio('>= 95%'), { ratio: 0.95, lowerIsBetter: false });
    assert.deepStrictEqual(targetRatio('p50 <= reference p50'), { ratio: 1, lowerIsBetter: true });
    assert.strictEqual(targetRatio('p99 < 50 ms'), undefined);
    assert.strictEqual(targetRatio(undefined), undefined);
  });

  it('draws one bar per figure with a reference, a target mark where there is one, and escapes the text', () => {
    const figs = [
      fig({
        name: 'Connect <gRPC> & co',
        reference: 'CNI ADD',
        refMedian: 2,
        ratio: 0.5,
        target: '<= 0.4x',
        met: false,
      }),
      fig({ name: 'bulk add', unit: 'entries/s', reference: 'C sender', refMedian: 10, ratio: 0.3 }),
      fig({ name: 'no reference' }),
      fig({ name: 'ratio unknown', reference: 'x', ratio: NaN }),
    ];
    assert.strictEqual(chartable(figs).length, 2);
    const svg = sectionChart('Connect & attach', figs);
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\n$/);
    assert.match(svg, /Connect &lt;gRPC&gt; &amp; co/);
    assert.doesNotMatch(svg, /no reference|ratio unknown/);
    assert.strictEqual((svg.match(/height="18"/g) ?? []).length, 2, 'one bar per chartable figure');
    assert.strictEqual((svg.match(/height="26"/g) ?? []).length, 1, 'one target mark');
    assert.match(svg, /fill="#c8553d"/, 'a missed target in red');
    assert.strictEqual(slug('Scale, memory and restart'), 'scale-memory-and-restart');
  });

  it('the performance block embeds one chart per section that has one', () => {
    const block = performanceBlock({
      machine: { cores: 2, kernel: 'k', node: 'v20' },
      figures: [
        fig({ name: 'a', section: 'Bulk programming', reference: 'ip -batch', refMedian: 1, ratio: 2 }),
        fig({ name: 'b', section: 'Data plane' }),
      ],
    });
    assert.match(block, /!\[Bulk programming: vxnet against its references\]\(charts\/bulk-programming\.svg\)/);
    assert.doesNotMatch(block, /data-plane\.svg/);
  });
});
