// The part of Go's text/template that Docker users write in --format: fields and nested fields,
// methods with arguments (`.Label "k"`), variables (`$`, `{{range $k, $v := .Labels}}`),
// pipelines (`{{.Name | upper}}`), `if`/`else if`/`else`, `range` (with `else`), `with`, trim
// markers (`{{-`, `-}}`) and comments, parsed into a tree that exec.ts runs.
import { lineError, type Source } from './errors';
import { lex, type Tok } from './lex';

export type Arg =
  | { k: 'lit'; v: unknown; pos: number }
  | { k: 'field'; base: string; path: string[]; pos: number; text: string } // base '.' or '$name'
  | { k: 'fn'; name: string; pos: number }
  | { k: 'pipe'; p: Pipeline; pos: number; path: string[]; text: string }; // (pipeline).Field.Sub
export type Command = { args: Arg[]; pos: number };
export type Pipeline = { decl: string[]; cmds: Command[]; pos: number };

export type Node =
  | { t: 'text'; s: string }
  | { t: 'action'; p: Pipeline }
  | { t: 'if' | 'with'; p: Pipeline; then: Node[]; else: Node[] }
  | { t: 'range'; p: Pipeline; body: Node[]; else: Node[] };

function parsePipeline(src: Source, toks: Tok[], pos: number, allowDecl: boolean): Pipeline {
  let i = 0;
  const decl: string[] = [];
  // `$x :=` or `$k, $v :=`
  const declEnd = toks.findIndex((t) => t.s === ':=' || t.s === '=');
  if (declEnd > 0 && toks.slice(0, declEnd).every((t) => t.s.startsWith('$') || t.s === ',')) {
    if (!allowDecl && declEnd > 1) throw lineError(src, toks[0].pos, 'too many declarations in command');
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
        if (depth > 0) throw lineError(src, t.pos, 'unclosed left paren');
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
      if (t.s === ')') throw lineError(src, t.pos, 'unexpected right paren');
      if (t.str !== undefined) args.push({ k: 'lit', v: t.str, pos: t.pos });
      else if (t.s === 'true' || t.s === 'false') args.push({ k: 'lit', v: t.s === 'true', pos: t.pos });
      else if (t.s === 'nil') args.push({ k: 'lit', v: null, pos: t.pos });
      else if (/^-?\d+(\.\d+)?$/.test(t.s)) args.push({ k: 'lit', v: Number(t.s), pos: t.pos });
      else if (t.s === '.') args.push({ k: 'field', base: '.', path: [], pos: t.pos, text: '.' });
      else if (t.s.startsWith('.'))
        args.push({ k: 'field', base: '.', path: t.s.slice(1).split('.'), pos: t.pos, text: t.s });
      else if (t.s.startsWith('$')) {
        const [v, ...path] = t.s.split('.');
        args.push({ k: 'field', base: v, path, pos: t.pos, text: t.s });
      } else if (/^[A-Za-z_]\w*$/.test(t.s)) args.push({ k: 'fn', name: t.s, pos: t.pos });
      else throw lineError(src, t.pos, `unexpected "${t.s}" in command`);
    }
    return args;
  };
  for (;;) {
    const start = toks[i]?.pos ?? pos;
    const args = parseArgs((t) => t.s === '|');
    if (args.length === 0)
      throw lineError(src, start, cmds.length ? 'missing command after |' : 'missing value for command');
    cmds.push({ args, pos: start });
    if (i >= toks.length) break;
    i++; // '|'
  }
  return { decl, cmds, pos };
}

export function parse(src: Source): Node[] {
  const tpl = src.text;
  const re = /\{\{(-\s)?([\s\S]*?)(\s-)?\}\}/g;
  const root: Node[] = [];
  // Each open block: where its nodes go now, and how it may continue ({{else}}, {{end}}).
  type Frame = {
    nodes: Node[];
    node?: Extract<Node, { t: 'if' | 'with' | 'range' }>;
    inElse?: boolean;
    chained?: boolean;
  };
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
      if (!body.endsWith('*/')) throw lineError(src, bodyPos, 'unclosed comment');
      continue;
    }
    const kw = /^(if|range|with|else|end)\b\s*/.exec(body);
    const rest = kw ? body.slice(kw[0].length) : body;
    const restPos = bodyPos + (kw ? kw[0].length : 0);
    const pipeline = (allowDecl: boolean): Pipeline => {
      const toks = lex(src, rest, restPos);
      if (toks.length === 0) throw lineError(src, restPos, `missing value for ${kw ? kw[1] : 'command'}`);
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
        if (!top.node || top.inElse) throw lineError(src, bodyPos, 'unexpected {{else}}');
        top.nodes = top.node.else;
        top.inElse = true;
        const chain = /^(if|with)\b\s*/.exec(rest);
        if (chain) {
          // {{else if x}} is {{else}}{{if x}} whose {{end}} also closes the outer block.
          const toks = lex(src, rest.slice(chain[0].length), restPos + chain[0].length);
          if (toks.length === 0) throw lineError(src, restPos, `missing value for ${chain[1]}`);
          const n = { t: chain[1] as 'if' | 'with', p: parsePipeline(src, toks, restPos, false), then: [], else: [] };
          top.nodes.push(n);
          stack.push({ nodes: n.then, node: n, chained: true });
        } else if (rest) {
          throw lineError(src, restPos, `unexpected "${rest}" in else`);
        }
        break;
      }
      case 'end': {
        if (stack.length === 1) throw lineError(src, bodyPos, 'unexpected {{end}}');
        if (rest) throw lineError(src, restPos, `unexpected "${rest}" in end`);
        while (stack.pop()?.chained) {
          /* the chained blocks of one {{else if}} end together */
        }
        break;
      }
      default:
        cur().push({ t: 'action', p: pipeline(true) });
    }
  }
  if (stack.length > 1) throw lineError(src, tpl.length, 'unexpected EOF');
  let tail = tpl.slice(last);
  const open = tail.indexOf('{{');
  if (open >= 0) throw lineError(src, last + open, 'unclosed action');
  if (trimNext) tail = tail.replace(/^\s+/, '');
  text(tail);
  return root;
}
