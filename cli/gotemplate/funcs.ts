// The functions a template can call: Docker's (json, split, join, title, lower, upper, pad,
// truncate, println) plus Go's builtins that people use (index, len, eq, ne, lt, le, gt, ge, not,
// and, or, print, printf).
import { execError, type Source } from './errors';
import { GoTime, toStr, truthy } from './values';

// `ctx` and `pos` place an error in the template; `args` are the evaluated arguments, the piped
// value last.
export type Fn = (ctx: { src: Source }, pos: number, args: unknown[]) => unknown;

function cmp(ctx: { src: Source }, pos: number, name: string, a: unknown, b: unknown): number {
  const norm = (x: unknown): unknown => (x instanceof GoTime ? x.rfc3339 : x);
  const x = norm(a);
  const y = norm(b);
  if (typeof x !== typeof y || (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean')) {
    throw execError(ctx, pos, name, `error calling ${name}: incompatible types for comparison`);
  }
  return x === y ? 0 : (x as number) < (y as number) ? -1 : 1;
}

function printf(fmt: unknown, args: unknown[]): string {
  let i = 0;
  return (
    toStr(fmt).replace(
      /%([-+ 0#]*)(\d*)(?:\.(\d+))?([svdqtfx%])/g,
      (_m, flags: string, width: string, prec: string | undefined, verb: string) => {
        if (verb === '%') return '%';
        if (i >= args.length) return `%!${verb}(MISSING)`;
        const v = args[i++];
        let s: string;
        if (verb === 'q') s = JSON.stringify(toStr(v));
        else if (verb === 'd') s = typeof v === 'number' ? String(Math.trunc(v)) : `%!d(${typeof v}=${toStr(v)})`;
        else if (verb === 'f')
          s = typeof v === 'number' ? v.toFixed(prec === undefined ? 6 : Number(prec)) : `%!f(${typeof v}=${toStr(v)})`;
        else if (verb === 'x') s = typeof v === 'number' ? v.toString(16) : Buffer.from(toStr(v)).toString('hex');
        else s = toStr(v);
        if (verb === 's' && prec !== undefined) s = s.slice(0, Number(prec));
        const w = Number(width || 0);
        return flags.includes('-') ? s.padEnd(w) : s.padStart(w, flags.includes('0') && verb !== 's' ? '0' : ' ');
      },
    ) + (i < args.length ? `%!(EXTRA ${args.slice(i).map(toStr).join(', ')})` : '')
  );
}

export const FUNCS: Record<string, Fn> = {
  json: (_c, _p, a) => JSON.stringify(a[0]) ?? 'null',
  index: (c, p, a) => {
    let v = a[0];
    for (const k of a.slice(1)) {
      if (Array.isArray(v)) {
        if (typeof k !== 'number' || k < 0 || k >= v.length)
          throw execError(c, p, 'index', `error calling index: index out of range: ${toStr(k)}`);
        v = v[k];
      } else if (v !== null && typeof v === 'object') {
        // A missing key gives the zero value of the map's element type; ours are strings or objects.
        v = (v as Record<string, unknown>)[toStr(k)] ?? '';
      } else {
        throw execError(c, p, 'index', `error calling index: can't index item of type ${typeof v}`);
      }
    }
    return v;
  },
  len: (c, p, a) => {
    const v = a[0];
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (v !== null && typeof v === 'object') return Object.keys(v).length;
    throw execError(c, p, 'len', `error calling len: len of type ${typeof v}`);
  },
  print: (_c, _p, a) => a.map(toStr).join(''),
  println: (_c, _p, a) => `${a.map(toStr).join(' ')}\n`,
  printf: (_c, _p, a) => printf(a[0], a.slice(1)),
  upper: (_c, _p, a) => toStr(a[0]).toUpperCase(),
  lower: (_c, _p, a) => toStr(a[0]).toLowerCase(),
  title: (_c, _p, a) =>
    toStr(a[0]).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, s: string, l: string) => s + l.toUpperCase()),
  split: (_c, _p, a) => toStr(a[0]).split(toStr(a[1])),
  join: (_c, _p, a) => (Array.isArray(a[0]) ? a[0].map(toStr).join(toStr(a[1])) : toStr(a[0])),
  // Docker's pad: the string with `left` spaces before and `right` after.
  pad: (_c, _p, a) => `${' '.repeat(Number(a[1]) || 0)}${toStr(a[0])}${' '.repeat(Number(a[2]) || 0)}`,
  truncate: (_c, _p, a) => {
    const s = toStr(a[0]);
    const n = Number(a[1]);
    return [...s].length > n ? [...s].slice(0, n).join('') : s;
  },
  eq: (c, p, a) => a.slice(1).some((b) => cmp(c, p, 'eq', a[0], b) === 0),
  ne: (c, p, a) => cmp(c, p, 'ne', a[0], a[1]) !== 0,
  lt: (c, p, a) => cmp(c, p, 'lt', a[0], a[1]) < 0,
  le: (c, p, a) => cmp(c, p, 'le', a[0], a[1]) <= 0,
  gt: (c, p, a) => cmp(c, p, 'gt', a[0], a[1]) > 0,
  ge: (c, p, a) => cmp(c, p, 'ge', a[0], a[1]) >= 0,
  not: (_c, _p, a) => !truthy(a[0]),
  and: (_c, _p, a) => a.find((x) => !truthy(x)) ?? a[a.length - 1],
  or: (_c, _p, a) => a.find((x) => truthy(x)) ?? a[a.length - 1],
};
