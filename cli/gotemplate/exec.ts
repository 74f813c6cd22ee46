// Runs a parsed template on a value ("dot") the way Go's text/template executes one: fields and
// methods looked up on dot or a variable, pipelines, and the blocks' scoping of variables.
import { execError, lineError, type Source } from './errors';
import { FUNCS } from './funcs';
import type { Arg, Command, Node, Pipeline } from './parse';
import { aliasesOf, GoTime, isGoMap, render, toStr, truthy } from './values';

// Variables in scope, innermost last; each block cuts it back to its length at entry.
type Vars = { name: string; value: unknown }[];
interface Ctx {
  src: Source;
  vars: Vars;
}

function lookup(ctx: Ctx, a: Extract<Arg, { k: 'field' }>, dot: unknown): unknown {
  let v: unknown;
  if (a.base === '.') v = dot;
  else {
    const found = [...ctx.vars].reverse().find((x) => x.name === a.base);
    if (!found) throw lineError(ctx.src, a.pos, `undefined variable "${a.base}"`);
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
      const alias = aliasesOf(v);
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
      if (!(a.name in FUNCS)) throw lineError(ctx.src, a.pos, `function "${a.name}" not defined`);
      return FUNCS[a.name](ctx, a.pos, []);
  }
}

function evalCommand(ctx: Ctx, c: Command, dot: unknown, piped: unknown[]): unknown {
  const [head, ...rest] = c.args;
  if (head.k === 'fn') {
    const fn = FUNCS[head.name];
    if (!fn) throw lineError(ctx.src, head.pos, `function "${head.name}" not defined`);
    return fn(ctx, head.pos, [...rest.map((r) => evalArg(ctx, r, dot)), ...piped]);
  }
  if (head.k === 'field') {
    const v = lookup(ctx, head, dot);
    if (typeof v === 'function')
      return (v as (...x: unknown[]) => unknown)(...rest.map((r) => evalArg(ctx, r, dot)), ...piped);
    if (rest.length || piped.length)
      throw execError(ctx, head.pos, head.text, `can't give argument to non-function ${head.text}`);
    return v;
  }
  if (rest.length || piped.length)
    throw execError(
      ctx,
      head.pos,
      toStr(evalArg(ctx, head, dot)),
      `can't give argument to non-function ${toStr(evalArg(ctx, head, dot))}`,
    );
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
          entries = Object.keys(o)
            .sort()
            .map((k) => [k, o[k]]);
        } else if (v === null || v === undefined) entries = [];
        else {
          const first = n.p.cmds[0].args[0];
          throw execError(
            ctx,
            n.p.pos,
            first.k === 'field' ? first.text : 'range',
            `range can't iterate over ${render(v)}`,
          );
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

// `$` is dot at the template's start, as in Go.
export function execute(src: Source, nodes: Node[], dot: unknown): string {
  return exec({ src, vars: [{ name: '$', value: dot }] }, nodes, dot);
}
