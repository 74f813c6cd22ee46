// The part of Go's text/template that Docker users write in --format: fields and nested fields,
// methods with arguments (`.Label "k"`), variables (`$`, `{{range $k, $v := .Labels}}`),
// pipelines (`{{.Name | upper}}`), `if`/`else if`/`else`, `range` (with `else`), `with`, trim
// markers (`{{-`, `-}}`), comments, and Docker's template functions (json, split, join, title,
// lower, upper, pad, truncate, println) plus Go's builtins that people use (index, len, eq, ne,
// lt, le, gt, ge, not, and, or, print, printf). Also the `table` prefix with Docker's tabwriter.
//
// Go prints values by their type: a map as map[k:v], a struct as {v1 v2}, a missing map key as
// <no value>, while a missing struct field is an error. JavaScript objects do not say which they
// are, so callers mark them: goMap() objects read a missing key as <no value>, goStruct() objects
// print as {v1 v2}; unmarked objects print as maps but a missing field is an error. A struct field that Docker
// omits from JSON when empty (`omitempty`) is kept as a non-enumerable property by goStruct(): a
// template can still read it, JSON.stringify leaves it out, as Docker's output does.

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

const MAPS = new WeakSet<object>();
const STRUCTS = new WeakSet<object>();

export function goMap<T extends object>(o: T): T {
  MAPS.add(o);
  return o;
}

export function isGoMap(o: unknown): boolean {
  return typeof o === 'object' && o !== null && MAPS.has(o);
}

// Hides empty `omitEmpty` fields and all methods from JSON, keeping field order for printing.
export function goStruct<T extends object>(o: T, omitEmpty: readonly string[] = []): T {
  const rec = o as Record<string, unknown>;
  for (const k of Object.keys(rec)) {
    if (typeof rec[k] === 'function' || (omitEmpty.includes(k) && isEmpty(rec[k]))) Object.defineProperty(o, k, { enumerable: false });
  }
  STRUCTS.add(o);
  return o;
}

// Other names for a struct's fields (Docker's Go field names where the JSON names differ, such as
// ID for Id): readable by templates, neither printed nor in JSON.
const ALIASES = new WeakMap<object, Record<string, unknown>>();

export function goAlias<T extends object>(o: T, name: string, value: unknown): T {
  ALIASES.set(o, { ...ALIASES.get(o), [name]: value });
  return o;
}

// A time.Time: JSON as RFC 3339 (what the API gives), printed as Go's time.String() does, which is
// what `docker network inspect -f '{{.Created}}'` shows.
export class GoTime {
  constructor(readonly rfc3339: string) {}
  toJSON(): string {
    return this.rfc3339;
  }
  toString(): string {
    return goTimeString(this.rfc3339);
  }
}

// "2024-01-15T10:20:30.1234Z" -> "2024-01-15 10:20:30.1234 +0000 UTC" (zone offset kept as given).
export function goTimeString(rfc3339: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|z|[+-]\d{2}:?\d{2})$/.exec(rfc3339);
  if (!m) return rfc3339;
  const frac = (m[3] ?? '').replace(/0+$/, '').replace(/^\.$/, '');
  const zone = m[4].toUpperCase() === 'Z' ? '+0000 UTC' : `${m[4].replace(':', '')} ${m[4].replace(':', '')}`;
  return `${m[1]} ${m[2]}${frac} ${zone}`;
}

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === false || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object' && !(v instanceof GoTime)) return Object.keys(v).length === 0;
  return false;
}

// ---- parsing ----

type Arg =
  | { k: 'lit'; v: unknown; pos: number }
  | { k: 'field'; base: string; path: string[]; pos: number; text: string } // base '.' or '$name'
  | { k: 'fn'; name: string; pos: number }
  | { k: 'pipe'; p: Pipeline; pos: number; path: string[]; text: string }; // (pipeline).Field.Sub
type Command = { args: Arg[]; pos: number };
type Pipeline = { decl: string[]; cmds: Command[]; pos: number };

type Node =
  | { t: 'text'; s: string }
  | { t: 'action'; p: Pipeline }
  | { t: 'if' | 'with'; p: Pipeline; then: Node[]; else: Node[] }
  | { t: 'range'; p: Pipeline; body: Node[]; else: Node[] };

interface Source { text: string }

function where(src: Source, pos: number): string {
  const before = src.text.slice(0, pos);
  const line = before.split('\n').length;
  return `${line}:${pos - (before.lastIndexOf('\n') + 1)}`;
}

function parseError(src: Source, pos: number, msg: string): TemplateError {
  return new TemplateError(`template: :${where(src, pos).split(':')[0]}: ${msg}`);
}

type Tok = { s: string; pos: number; str?: string };

function lex(src: Source, body: string, base: number): Tok[] {
  const out: Tok[] = [];
  const re = /\s+|"((?:[^"\\]|\\.)*)"|`([^`]*)`|'((?:[^'\\]|\\.)*)'|(:=|[|(),=])|([^\s"`'|(),=]+)/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < body.length) {
    const at = re.lastIndex;
    m = re.exec(body);
    if (!m) throw parseError(src, base + at, `unexpected "${body[at]}" in command`);
    if (/^\s/.test(m[0])) continue;
    const pos = base + m.index;
    if (m[1] !== undefined) out.push({ s: m[0], pos, str: unescape(m[1]) });
    else if (m[2] !== undefined) out.push({ s: m[0], pos, str: m[2] });
    else if (m[3] !== undefined) out.push({ s: m[0], pos, str: unescape(m[3]) });
    else out.push({ s: m[0], pos });
  }
  return out;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, (_m, c: string) => ({ n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'" } as Record<string, string>)[c] ?? `\\${c}`);
}

function parsePipeline(src: Source, toks: Tok[], pos: number, allowDecl: boolean): Pipeline {
  let i = 0;
  const decl: string[] = [];
  // `$x :=` or `$k, $v :=`
  const declEnd = toks.findIndex((t) => t.s === ':=' || t.s === '=');
  if (declEnd > 0 && toks.slice(0, declEnd).every((t) => t.s.startsWith('$') || t.s === ',')) {
    if (!allowDecl && declEnd > 1) throw parseError(src, toks[0].pos, 'too many declarations in command');
    for (const t of toks.slice(0, declEnd)) if (t.s !== ',') decl.push(t.s);
    i = declEnd + 1;
  }
  const cmds: Command[] = [];
  const parseArgs = (end: (t: Tok) => boolean): Arg[] => {
    const args: Arg[] = [];
    while (i < toks.length && !end(toks[i])) {
      const t = toks[i++];
      if (t.s === '(') {
        const start = i;
        let depth = 1;
        while (i < toks.length && depth > 0) {
          if (toks[i].s === '(') depth++;
          else if (toks[i].s === ')') depth--;
          i++;
        }
        if (depth > 0) throw parseError(src, t.pos, 'unclosed left paren');
        const p = parsePipeline(src, toks.slice(start, i - 1), t.pos, false);
        const close = toks[i - 1];
        const next = toks[i] as Tok | undefined;
        // "(index .X 0).Name": a field chain written right after the parenthesis applies to its value.
        if (next && next.pos === close.pos + 1 && /^\.[A-Za-z_]/.test(next.s)) {
          i++;
          args.push({ k: 'pipe', p, pos: t.pos, path: next.s.slice(1).split('.'), text: next.s });
        } else {
          args.push({ k: 'pipe', p, pos: t.pos, path: [], text: '' });
        }
        continue;
      }
      if (t.s === ')') throw parseError(src, t.pos, 'unexpected right paren');
      if (t.str !== undefined) args.push({ k: 'lit', v: t.str, pos: t.pos });
      else if (t.s === 'true' || t.s === 'false') args.push({ k: 'lit', v: t.s === 'true', pos: t.pos });
      else if (t.s === 'nil') args.push({ k: 'lit', v: null, pos: t.pos });
      else if (/^-?\d+(\.\d+)?$/.test(t.s)) args.push({ k: 'lit', v: Number(t.s), pos: t.pos });
      else if (t.s === '.') args.push({ k: 'field', base: '.', path: [], pos: t.pos, text: '.' });
      else if (t.s.startsWith('.')) args.push({ k: 'field', base: '.', path: t.s.slice(1).split('.'), pos: t.pos, text: t.s });
      else if (t.s.startsWith('$')) {
        const [v, ...path] = t.s.split('.');
        args.push({ k: 'field', base: v, path, pos: t.pos, text: t.s });
      } else if (/^[A-Za-z_]\w*$/.test(t.s)) args.push({ k: 'fn', name: t.s, pos: t.pos });
      else throw parseError(src, t.pos, `unexpected "${t.s}" in command`);
    }
    return args;
  };
  for (;;) {
    const start = toks[i]?.pos ?? pos;
    const args = parseArgs((t) => t.s === '|');
    if (args.length === 0) throw parseError(src, start, cmds.length ? 'missing command after |' : 'missing value for command');
    cmds.push({ args, pos: start });
    if (i >= toks.length) break;
    i++; // '|'
  }
  return { decl, cmds, pos };
}

function parse(src: Source): Node[] {
  const tpl = src.text;
  const re = /\{\{(-\s)?([\s\S]*?)(\s-)?\}\}/g;
  const root: Node[] = [];
  // Each open block: where its nodes go now, and how it may continue ({{else}}, {{end}}).
  type Frame = { nodes: Node[]; node?: Extract<Node, { t: 'if' | 'with' | 'range' }>; inElse?: boolean; chained?: boolean };
  const stack: Frame[] = [{ nodes: root }];
  const cur = (): Node[] => stack[stack.length - 1].nodes;
  let last = 0;
  let trimNext = false;
  let m: RegExpExecArray | null;
  const text = (s: string): void => {
    if (s) cur().push({ t: 'text', s });
  };
  while ((m = re.exec(tpl))) {
    let before = tpl.slice(last, m.index);
    if (trimNext) before = before.replace(/^\s+/, '');
    if (m[1]) before = before.replace(/\s+$/, '');
    text(before);
    last = re.lastIndex;
    trimNext = !!m[3];
    const bodyStart = m.index + 2 + (m[1] ? m[1].length : 0);
    const raw = m[2];
    const lead = raw.length - raw.trimStart().length;
    const body = raw.trim();
    const bodyPos = bodyStart + lead;
    if (body.startsWith('/*')) {
      if (!body.endsWith('*/')) throw parseError(src, bodyPos, 'unclosed comment');
      continue;
    }
    const kw = /^(if|range|with|else|end)\b\s*/.exec(body);
    const rest = kw ? body.slice(kw[0].length) : body;
    const restPos = bodyPos + (kw ? kw[0].length : 0);
    const pipeline = (allowDecl: boolean): Pipeline => {
      const toks = lex(src, rest, restPos);
      if (toks.length === 0) throw parseError(src, restPos, `missing value for ${kw ? kw[1] : 'command'}`);
      return parsePipeline(src, toks, restPos, allowDecl);
    };
    switch (kw?.[1]) {
      case 'if':
      case 'with': {
        const n = { t: kw[1], p: pipeline(false), then: [], else: [] };
        cur().push(n);
        stack.push({ nodes: n.then, node: n });
        break;
      }
      case 'range': {
        const n = { t: 'range' as const, p: pipeline(true), body: [], else: [] };
        cur().push(n);
        stack.push({ nodes: n.body, node: n });
        break;
      }
      case 'else': {
        const top = stack[stack.length - 1];
        if (!top.node || top.inElse) throw parseError(src, bodyPos, 'unexpected {{else}}');
        top.nodes = top.node.else;
        top.inElse = true;
        const chain = /^(if|with)\b\s*/.exec(rest);
        if (chain) {
          // {{else if x}} is {{else}}{{if x}} whose {{end}} also closes the outer block.
          const toks = lex(src, rest.slice(chain[0].length), restPos + chain[0].length);
          if (toks.length === 0) throw parseError(src, restPos, `missing value for ${chain[1]}`);
          const n = { t: chain[1] as 'if' | 'with', p: parsePipeline(src, toks, restPos, false), then: [], else: [] };
          top.nodes.push(n);
          stack.push({ nodes: n.then, node: n, chained: true });
        } else if (rest) {
          throw parseError(src, restPos, `unexpected "${rest}" in else`);
        }
        break;
      }
      case 'end': {
        if (stack.length === 1) throw parseError(src, bodyPos, 'unexpected {{end}}');
        if (rest) throw parseError(src, restPos, `unexpected "${rest}" in end`);
        while (stack.pop()?.chained) {
          /* the chained blocks of one {{else if}} end together */
        }
        break;
      }
      default:
        cur().push({ t: 'action', p: pipeline(true) });
    }
  }
  if (stack.length > 1) throw parseError(src, tpl.length, 'unexpected EOF');
  let tail = tpl.slice(last);
  const open = tail.indexOf('{{');
  if (open >= 0) throw parseError(src, last + open, 'unclosed action');
  if (trimNext) tail = tail.replace(/^\s+/, '');
  text(tail);
  return root;
}

// ---- execution ----

type Vars = { name: string; value: unknown }[];
interface Ctx { src: Source; vars: Vars }

function execError(ctx: Ctx, pos: number, at: string, msg: string): TemplateError {
  return new TemplateError(`template: :${where(ctx.src, pos)}: executing "" at <${at}>: ${msg}`);
}

function lookup(ctx: Ctx, a: Extract<Arg, { k: 'field' }>, dot: unknown): unknown {
  let v: unknown;
  if (a.base === '.') v = dot;
  else {
    const found = [...ctx.vars].reverse().find((x) => x.name === a.base);
    if (!found) throw new TemplateError(`template: :${where(ctx.src, a.pos).split(':')[0]}: undefined variable "${a.base}"`);
    v = found.value;
  }
  return walk(ctx, v, a.path, a.pos, a.text);
}

function walk(ctx: Ctx, start: unknown, path: string[], pos: number, text: string): unknown {
  let v = start;
  for (const name of path) {
    if (v !== null && typeof v === 'object' && isGoMap(v)) {
      v = (v as Record<string, unknown>)[name];
      continue;
    }
    if (v === null || v === undefined) throw execError(ctx, pos, text, `nil pointer evaluating ${name}`);
    if (typeof v === 'object') {
      const alias = ALIASES.get(v);
      if (alias && name in alias && !(name in v)) {
        v = alias[name];
        continue;
      }
    }
    if (typeof v !== 'object' || !(name in v)) throw execError(ctx, pos, text, `can't evaluate field ${name}`);
    const next: unknown = (v as Record<string, unknown>)[name];
    v = typeof next === 'function' ? (next as (...x: unknown[]) => unknown).bind(v) : next;
  }
  return v;
}

type Fn = (ctx: Ctx, pos: number, args: unknown[]) => unknown;

function toStr(v: unknown): string {
  return typeof v === 'string' ? v : render(v);
}

function cmp(ctx: Ctx, pos: number, name: string, a: unknown, b: unknown): number {
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
  return toStr(fmt).replace(/%([-+ 0#]*)(\d*)(?:\.(\d+))?([svdqtfx%])/g, (_m, flags: string, width: string, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    if (i >= args.length) return `%!${verb}(MISSING)`;
    const v = args[i++];
    let s: string;
    if (verb === 'q') s = JSON.stringify(toStr(v));
    else if (verb === 'd') s = typeof v === 'number' ? String(Math.trunc(v)) : `%!d(${typeof v}=${toStr(v)})`;
    else if (verb === 'f') s = typeof v === 'number' ? v.toFixed(prec === undefined ? 6 : Number(prec)) : `%!f(${typeof v}=${toStr(v)})`;
    else if (verb === 'x') s = typeof v === 'number' ? v.toString(16) : Buffer.from(toStr(v)).toString('hex');
    else s = toStr(v);
    if (verb === 's' && prec !== undefined) s = s.slice(0, Number(prec));
    const w = Number(width || 0);
    return flags.includes('-') ? s.padEnd(w) : s.padStart(w, flags.includes('0') && verb !== 's' ? '0' : ' ');
  }) + (i < args.length ? `%!(EXTRA ${args.slice(i).map(toStr).join(', ')})` : '');
}

const FUNCS: Record<string, Fn> = {
  json: (_c, _p, a) => JSON.stringify(a[0]) ?? 'null',
  index: (c, p, a) => {
    let v = a[0];
    for (const k of a.slice(1)) {
      if (Array.isArray(v)) {
        if (typeof k !== 'number' || k < 0 || k >= v.length) throw execError(c, p, 'index', `error calling index: index out of range: ${toStr(k)}`);
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
  title: (_c, _p, a) => toStr(a[0]).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, s: string, l: string) => s + l.toUpperCase()),
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

function evalArg(ctx: Ctx, a: Arg, dot: unknown): unknown {
  switch (a.k) {
    case 'lit':
      return a.v;
    case 'field': {
      const v = lookup(ctx, a, dot);
      // A method used as an argument is called without arguments, as Go does.
      return typeof v === 'function' ? (v as () => unknown)() : v;
    }
    case 'pipe': {
      const v = walk(ctx, evalPipeline(ctx, a.p, dot), a.path, a.pos, a.text);
      return typeof v === 'function' ? (v as () => unknown)() : v;
    }
    case 'fn':
      if (!(a.name in FUNCS)) throw new TemplateError(`template: :${where(ctx.src, a.pos).split(':')[0]}: function "${a.name}" not defined`);
      return FUNCS[a.name](ctx, a.pos, []);
  }
}

function evalCommand(ctx: Ctx, c: Command, dot: unknown, piped: unknown[]): unknown {
  const [head, ...rest] = c.args;
  if (head.k === 'fn') {
    const fn = FUNCS[head.name];
    if (!fn) throw new TemplateError(`template: :${where(ctx.src, head.pos).split(':')[0]}: function "${head.name}" not defined`);
    return fn(ctx, head.pos, [...rest.map((r) => evalArg(ctx, r, dot)), ...piped]);
  }
  if (head.k === 'field') {
    const v = lookup(ctx, head, dot);
    if (typeof v === 'function') return (v as (...x: unknown[]) => unknown)(...rest.map((r) => evalArg(ctx, r, dot)), ...piped);
    if (rest.length || piped.length) throw execError(ctx, head.pos, head.text, `can't give argument to non-function ${head.text}`);
    return v;
  }
  if (rest.length || piped.length) throw execError(ctx, head.pos, toStr(evalArg(ctx, head, dot)), `can't give argument to non-function ${toStr(evalArg(ctx, head, dot))}`);
  return evalArg(ctx, head, dot);
}

function evalPipeline(ctx: Ctx, p: Pipeline, dot: unknown): unknown {
  let v: unknown;
  p.cmds.forEach((c, i) => {
    v = evalCommand(ctx, c, dot, i === 0 ? [] : [v]);
  });
  if (p.decl.length === 1) ctx.vars.push({ name: p.decl[0], value: v });
  return v;
}

// Go's default printing of values (fmt's %v).
export function render(v: unknown): string {
  if (v === undefined || v === null) return '<no value>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof GoTime) return v.toString();
  if (Array.isArray(v)) return `[${v.map(inner).join(' ')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (STRUCTS.has(o)) return `{${Object.getOwnPropertyNames(o).filter((k) => typeof o[k] !== 'function').map((k) => inner(o[k])).join(' ')}}`;
    return `map[${Object.keys(o).sort().map((k) => `${k}:${inner(o[k])}`).join(' ')}]`;
  }
  return '';
}

// Inside a composite Go prints nil as <nil>, not <no value>.
function inner(v: unknown): string {
  if (v === undefined || v === null) return '<nil>';
  return render(v);
}

function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof GoTime) return true;
  if (v !== null && typeof v === 'object') return STRUCTS.has(v) || Object.keys(v).length > 0;
  return !!v;
}

function exec(ctx: Ctx, nodes: Node[], dot: unknown): string {
  let out = '';
  for (const n of nodes) {
    const mark = ctx.vars.length;
    switch (n.t) {
      case 'text':
        out += n.s;
        break;
      case 'action': {
        const v = evalPipeline(ctx, n.p, dot);
        if (n.p.decl.length === 0) out += render(v);
        continue; // a {{$x := ...}} stays visible to the rest of this block
      }
      case 'if': {
        const v = evalPipeline(ctx, n.p, dot);
        out += exec(ctx, truthy(v) ? n.then : n.else, dot);
        break;
      }
      case 'with': {
        const v = evalPipeline(ctx, n.p, dot);
        out += truthy(v) ? exec(ctx, n.then, v) : exec(ctx, n.else, dot);
        break;
      }
      case 'range': {
        const decl = n.p.decl;
        const v = evalPipeline(ctx, { ...n.p, decl: [] }, dot);
        let entries: [unknown, unknown][];
        if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
        else if (v !== null && typeof v === 'object' && !(v instanceof GoTime)) {
          const o = v as Record<string, unknown>;
          entries = Object.keys(o).sort().map((k) => [k, o[k]]);
        } else if (v === null || v === undefined) entries = [];
        else {
          const first = n.p.cmds[0].args[0];
          throw execError(ctx, n.p.pos, first.k === 'field' ? first.text : 'range', `range can't iterate over ${render(v)}`);
        }
        if (entries.length === 0) {
          out += exec(ctx, n.else, dot);
          break;
        }
        for (const [k, item] of entries) {
          const m = ctx.vars.length;
          if (decl.length === 1) ctx.vars.push({ name: decl[0], value: item });
          else if (decl.length === 2) ctx.vars.push({ name: decl[0], value: k }, { name: decl[1], value: item });
          out += exec(ctx, n.body, item);
          ctx.vars.length = m;
        }
        break;
      }
    }
    ctx.vars.length = mark;
  }
  return out;
}

// Docker replaces the two-character sequences \t and \n in --format before parsing, so that
// shells need no $'...' quoting.
export function compile(tpl: string): (dot: unknown) => string {
  const src = { text: tpl.replace(/\\t/g, '\t').replace(/\\n/g, '\n') };
  const nodes = parse(src);
  return (dot) => exec({ src, vars: [{ name: '$', value: dot }] }, nodes, dot);
}

// Docker's tabwriter (minimum cell width 10, padding 3); the text after a row's last tab is no cell
// and so is not padded.
export function tabulate(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.slice(0, -1).forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(Math.max(10, widths[i] + 3)))).join('').trimEnd()).join('\n');
}

export function isTableFormat(tpl: string): boolean {
  return tpl.startsWith('table');
}

// Docker's header for {{.Label "com.example.team-name"}}: "team name".
export function labelHeader(name: string): string {
  return (name.split('.').pop() ?? '').replace(/[-_]/g, ' ');
}

// Renders a list (`ls`): `table ...` gives a header row from `headers` (field -> header; other
// fields upper-cased) and aligned columns; a plain template prints one line per row, as Docker
// does even when the template prints nothing.
export function formatRows(tpl: string, rows: unknown[], headers: Record<string, string>): string {
  if (!isTableFormat(tpl)) {
    const t = compile(tpl.trim());
    return rows.map((r) => `${t(r)}\n`).join('');
  }
  const body = tpl.slice('table'.length).trim();
  const t = compile(body);
  let header: string;
  try {
    header = t(headerDot(headers));
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    // A header context has no nested values ({{.IPAM.Driver}}, ranges): name each action by its first field.
    header = body.replace(/\\t/g, '\t').replace(/\{\{-?\s*(?:\w+\s+)?\.([A-Za-z0-9_]+)(?:\s+"([^"]*)")?[^}]*\}\}/g, (_m, f: string, arg?: string) => (f === 'Label' && arg !== undefined ? labelHeader(arg) : (headers[f] ?? f.toUpperCase())));
  }
  const lines = [header, ...rows.map((r) => t(r))].join('\n').split('\n');
  return `${tabulate(lines.map((l) => l.split('\t')))}\n`;
}

// The header row is the template run on a context whose fields are their own headers, as in Docker.
function headerDot(headers: Record<string, string>): unknown {
  const label = (k: unknown): string => labelHeader(toStr(k));
  return new Proxy(
    {},
    {
      has: () => true,
      get: (_t, k) => (k === 'Label' ? label : typeof k === 'string' ? headers[k] ?? k.toUpperCase() : undefined),
      getOwnPropertyDescriptor: (_t, k) => ({ configurable: true, enumerable: true, value: typeof k === 'string' ? headers[k] ?? k.toUpperCase() : undefined }),
      ownKeys: () => Object.keys(headers),
    },
  );
}
