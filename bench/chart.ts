import type { Figure } from './figures';

// One SVG per bench section: each figure that has a reference drawn as the ratio vxnet/reference on
// a shared axis, the reference at 1 and the target (when it is a ratio) as a mark, so that a reader
// sees at a glance where vxnet stands. Pure: figures in, SVG text out; bench/run.ts writes the files.

const ROW = 34;
const LEFT = 330;
const WIDTH = 760;
const PLOT = WIDTH - LEFT - 90;

// A target such as "p50 <= 0.5x", ">= 3x", ">= 95%", "p50 <= reference p50": the ratio it asks
// for and whether a lower ratio is the better one; undefined when it is not about the ratio.
export function targetRatio(target: string | undefined): { ratio: number; lowerIsBetter: boolean } | undefined {
  if (!target) return undefined;
  const m = /(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*(x|%)/.exec(target);
  if (m) return { ratio: Number(m[2]) / (m[3] === '%' ? 100 : 1), lowerIsBetter: m[1].startsWith('<') };
  if (/<=\s*reference/.test(target)) return { ratio: 1, lowerIsBetter: true };
  return undefined;
}

export const slug = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const fmt = (x: number): string => (Math.abs(x) >= 100 ? String(Math.round(x)) : String(Number(x.toPrecision(3))));

// The figures a chart can show: a reference measured in the same run and a ratio.
export function chartable(figures: readonly Figure[]): Figure[] {
  return figures.filter((f) => f.reference && typeof f.ratio === 'number' && Number.isFinite(f.ratio) && f.ratio > 0);
}

export function sectionChart(title: string, figures: readonly Figure[]): string {
  const rows = chartable(figures);
  const max = Math.max(2, ...rows.map((f) => f.ratio ?? 0), ...rows.map((f) => targetRatio(f.target)?.ratio ?? 0));
  const x = (r: number): number => LEFT + (Math.min(r, max) / max) * PLOT;
  const height = 48 + rows.length * ROW + 24;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<text x="10" y="36" fill="#555">vxnet / reference, measured in the same run (1 = the reference; | = the target)</text>`,
  ];
  rows.forEach((f, i) => {
    const y = 48 + i * ROW;
    const t = targetRatio(f.target);
    const good = f.met ?? (t ? (t.lowerIsBetter ? (f.ratio ?? 0) <= t.ratio : (f.ratio ?? 0) >= t.ratio) : undefined);
    const colour = good === undefined ? '#6b8fb5' : good ? '#3a9a5b' : '#c8553d';
    const r = f.ratio ?? 0;
    out.push(
      `<text x="10" y="${y + 13}">${esc(f.name.length > 52 ? `${f.name.slice(0, 51)}…` : f.name)}</text>`,
      `<text x="10" y="${y + 27}" fill="#555" font-size="10">${esc(`${fmt(f.median)} ${f.unit} vs ${fmt(f.refMedian ?? NaN)} ${f.unit}: ${f.reference ?? ''}`).slice(0, 90)}</text>`,
      `<rect x="${LEFT}" y="${y + 4}" width="${Math.max(1, x(r) - LEFT).toFixed(1)}" height="18" fill="${colour}"/>`,
      `<text x="${(x(r) + 4).toFixed(1)}" y="${y + 17}">${fmt(r)}×</text>`,
    );
    if (t) out.push(`<rect x="${(x(t.ratio) - 1).toFixed(1)}" y="${y}" width="2" height="26" fill="#222"/>`);
  });
  const base = 48 + rows.length * ROW;
  out.push(
    `<line x1="${x(1).toFixed(1)}" y1="44" x2="${x(1).toFixed(1)}" y2="${base}" stroke="#888" stroke-dasharray="4 3"/>`,
    `<text x="${x(1).toFixed(1)}" y="${base + 16}" text-anchor="middle" fill="#555">1</text>`,
    `<text x="${x(max).toFixed(1)}" y="${base + 16}" text-anchor="middle" fill="#555">${fmt(max)}</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}
