// The subset of Go templates that Docker users write in --format: fields and nested fields,
// `json`, `index`, `.Label "k"`, `range ... end`, `if ... else ... end`, string literals, and the
// `table` prefix with Docker's tabwriter layout.

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

type Node =
  | { t: 'text'; s: string }
  | { t: 'expr'; e: string; pos: number }
  | { t: 'range'; e: string; pos: number; body: Node[] }
  | { t: 'if'; e: string; pos: number; then: Node[]; else: Node[] };

function parse(tpl: string): Node[] {
  const re = /\{\{-?\s*(.*?)\s*-?\}\}/gs;
  const root: Node[] = [];
  const stack: { nodes: Node[]; node?: Node; inElse?: boolean }[] = [{ nodes: root }];
  let last = 0;
  let m: RegExpExecArray | null;
  const cur = (): Node[] => stack[stack.length - 1].nodes;
  while ((m = re.exec(tpl))) {
    if (m.index > last) cur().push({ t: 'text', s: tpl.slice(last, m.index) });
    last = re.lastIndex;
    const body = m[1];
    const pos = m.index + 2;
    if (body.startsWith('range ')) {
      const n: Node = { t: 'range', e: body.slice(6).trim(), pos, body: [] };
      cur().push(n);
      stack.push({ nodes: n.body, node: n });
    } else if (body.startsWith('if ')) {
      const n: Node = { t: 'if', e: body.slice(3).trim(), pos, then: [], else: [] };
      cur().push(n);
      stack.push({ nodes: n.then, node: n });
    } else if (body === 'else') {
      const top = stack[stack.length - 1];
      if (top.node?.t !== 'if' || top.inElse) throw new TemplateError(`template: :1:${pos}: unexpected {{else}}`);
      top.nodes = top.node.else;
      top.inElse = true;
    } else if (body === 'end') {
      if (stack.length === 1) throw new TemplateError(`template: :1:${pos}: unexpected {{end}}`);
      stack.pop();
    } else {
      cur().push({ t: 'expr', e: body, pos });
    }
  }
  if (stack.length > 1) throw new TemplateError('template: :1: unexpected EOF (missing {{end}})');
  if (last < tpl.length) root.push({ t: 'text', s: tpl.slice(last) });
  return root;
}

function tokens(e: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(e))) out.push(m[1] !== undefined ? `"${m[1]}` : m[2]);
  return out;
}

function unquote(tok: string): string {
  return tok.slice(1).replace(/\\n/g, '\n').replace(/\\t/g, '\t').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
}

function field(dot: unknown, path: string, pos: number): unknown {
  if (path === '.') return dot;
  let v = dot;
  for (const name of path.split('.').slice(1)) {
    if (v === null || typeof v !== 'object' || !(name in (v as Record<string, unknown>))) {
      throw new TemplateError(`template: :1:${pos}: executing "" at <${path}>: can't evaluate field ${name}`);
    }
    v = (v as Record<string, unknown>)[name];
  }
  return v;
}

function evaluate(e: string, dot: unknown, pos: number): unknown {
  const toks = tokens(e);
  if (toks.length === 0) throw new TemplateError(`template: :1:${pos}: missing value for command`);
  const arg = (tok: string): unknown => (tok.startsWith('"') ? unquote(tok) : tok.startsWith('.') ? field(dot, tok, pos) : tok === 'true' ? true : tok === 'false' ? false : /^\d+$/.test(tok) ? Number(tok) : (() => { throw new TemplateError(`template: :1:${pos}: function "${tok}" not defined`); })());
  const [head, ...rest] = toks;
  switch (head) {
    case 'json':
      return JSON.stringify(rest.length ? arg(rest[0]) : dot);
    case 'index': {
      let v = arg(rest[0]);
      for (const k of rest.slice(1)) v = v === null || typeof v !== 'object' ? undefined : (v as Record<string, unknown>)[String(arg(k))];
      return v ?? '';
    }
    case 'len': {
      const v = arg(rest[0]);
      return Array.isArray(v) ? v.length : v && typeof v === 'object' ? Object.keys(v).length : render(v ?? '').length;
    }
    case 'println':
      return rest.map((r) => render(arg(r))).join(' ') + '\n';
    case 'upper':
      return render(arg(rest[0])).toUpperCase();
    case 'lower':
      return render(arg(rest[0])).toLowerCase();
    case 'join': {
      const v = arg(rest[0]);
      return Array.isArray(v) ? v.map(render).join(String(arg(rest[1]))) : render(v);
    }
    default: {
      const v = arg(head);
      if (typeof v === 'function') return (v as (...a: unknown[]) => unknown)(...rest.map(arg));
      if (rest.length) throw new TemplateError(`template: :1:${pos}: can't give arguments to non-function ${head}`);
      return v;
    }
  }
}

// Go's default printing of values: maps as map[k:v], lists as [a b].
export function render(v: unknown): string {
  if (v === undefined || v === null) return '<no value>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `[${v.map(render).join(' ')}]`;
  if (typeof v === 'object') return `map[${Object.keys(v).sort().map((k) => `${k}:${render((v as Record<string, unknown>)[k])}`).join(' ')}]`;
  return '';
}

function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v && typeof v === 'object') return Object.keys(v).length > 0;
  return !!v;
}

function exec(nodes: Node[], dot: unknown): string {
  let out = '';
  for (const n of nodes) {
    if (n.t === 'text') out += n.s;
    else if (n.t === 'expr') out += render(evaluate(n.e, dot, n.pos));
    else if (n.t === 'if') out += exec(truthy(evaluate(n.e, dot, n.pos)) ? n.then : n.else, dot);
    else {
      const v = evaluate(n.e, dot, n.pos);
      const items = Array.isArray(v) ? v : v && typeof v === 'object' ? Object.keys(v).sort().map((k) => (v as Record<string, unknown>)[k]) : [];
      for (const item of items) out += exec(n.body, item);
    }
  }
  return out;
}

export function compile(tpl: string): (dot: unknown) => string {
  const nodes = parse(tpl.replace(/\\t/g, '\t').replace(/\\n/g, '\n'));
  return (dot) => exec(nodes, dot);
}

// Docker's tabwriter: minimum cell width 10, padding 3, the last column not padded.
export function tabulate(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(Math.max(10, widths[i] + 3)))).join('').trimEnd()).join('\n');
}

// Renders rows for `ls`: `table ...` gives a header row from `headers` (by field name); a plain
// template prints one line per row.
export function formatRows(tpl: string, rows: unknown[], headers: Record<string, string>): string {
  const isTable = tpl.startsWith('table');
  const body = isTable ? tpl.slice(5).trim() : tpl;
  const t = compile(body);
  const lines = rows.map((r) => t(r));
  if (!isTable) return lines.map((l) => l + (l.endsWith('\n') ? '' : '\n')).join('');
  const header = body.replace(/\{\{\s*\.([A-Za-z0-9]+)(?:\s+"([^"]*)")?\s*\}\}/g, (_m, f: string, arg?: string) => (arg ? arg.toUpperCase() : (headers[f] ?? f.toUpperCase())));
  const cells = [header, ...lines].map((l) => l.replace(/\\t/g, '\t').split('\t'));
  return tabulate(cells) + '\n';
}
