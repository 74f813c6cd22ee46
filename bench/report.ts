import type { Figure } from './figures';
import { chartable, slug } from './chart';

// The figures table of docs/performance.md, written from a full run's results so that the page
// never carries numbers by hand. Pure: results in, markdown out; bench/run.ts does the file I/O.

export const BEGIN = '<!-- bench:begin -->';
export const END = '<!-- bench:end -->';

export interface Machine {
  cores: number;
  cpu?: string;
  kernel: string;
  node: string;
  smoke?: boolean;
  date?: string;
}
export interface Results {
  machine: Machine;
  figures: Figure[];
}

// JSON has no NaN: a figure without a p99 (a mean, a single reading) comes back from results.json
// as null.
const known = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

// Whole numbers from 100 up, three significant digits below, thousands grouped: enough to compare
// runs, few enough to read.
export function num(x: number): string {
  const shown = Math.abs(x) >= 100 ? Math.round(x) : Number(x.toPrecision(3));
  return shown.toLocaleString('en-US', { maximumFractionDigits: 6 });
}

function value(median: number, p99: number | null | undefined, unit: string, n?: number): string {
  const count = n !== undefined && n > 1 ? ` (n ${n})` : '';
  if (known(p99) && (n === undefined || n > 1)) return `p50 ${num(median)} ${unit}, p99 ${num(p99)} ${unit}${count}`;
  return `${num(median)} ${unit}${count}`;
}

function row(f: Figure): string {
  const reference =
    f.reference !== undefined && known(f.refMedian) ? `${f.reference}: ${value(f.refMedian, f.refP99, f.unit)}` : '';
  const ratio = known(f.ratio) ? Number(f.ratio.toPrecision(2)).toString() : '';
  const target = f.target ? `${f.target}: ${f.met ? 'met' : 'not met'}` : '';
  const cells = [f.name, value(f.median, f.p99, f.unit, f.n), reference, ratio, target].map((c) =>
    c.replace(/\|/g, '\\|'),
  );
  return `| ${cells.join(' | ')} |`;
}

// The block between the markers, markers included.
export function performanceBlock(r: Results): string {
  const m = r.machine;
  const missed = r.figures.filter((f) => f.target && !f.met).length;
  return [
    BEGIN,
    '<!-- Written by `npm run bench` (bench/report.ts) from bench/results.json: edit the generator, not this block. -->',
    '',
    `Machine: ${m.cores} cores${m.cpu ? ` (${m.cpu})` : ''}, Linux ${m.kernel}, Node ${m.node}. ${missed === 0 ? 'Every target met.' : `${missed} target${missed > 1 ? 's' : ''} not met.`}`,
    '',
    '| figure | vxnet | reference (same run) | ratio | target |',
    '|---|---|---|---|---|',
    ...r.figures.map(row),
    ...charts(r.figures),
    END,
  ].join('\n');
}

// The charts bench/run.ts writes into docs/charts/, one per section with a reference to draw.
function charts(figs: readonly Figure[]): string[] {
  const names = [...new Set(figs.map((f) => f.section).filter((s): s is string => !!s))];
  const lines = names
    .filter((n) => chartable(figs.filter((f) => f.section === n)).length > 0)
    .map((n) => `![${n}: vxnet against its references](charts/${slug(n)}.svg)`);
  return lines.length ? ['', ...lines] : [];
}

// The document with its block replaced; a document without both markers is refused rather than
// guessed at, so that hand-written prose is never overwritten.
export function withBlock(doc: string, block: string): string {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`no ${BEGIN} ... ${END} block to replace`);
  return doc.slice(0, start) + block + doc.slice(end + END.length);
}
