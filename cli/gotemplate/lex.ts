// The words of one action's body: strings (Go's three quotings), the punctuation that pipelines
// and declarations use, and everything else as one word for the parser to classify.
import { lineError, type Source } from './errors';

// `str` is a string literal's value, unescaped; `pos` counts from the template's start.
export type Tok = { s: string; pos: number; str?: string };

export function lex(src: Source, body: string, base: number): Tok[] {
  const out: Tok[] = [];
  const re = /\s+|"((?:[^"\\]|\\.)*)"|`([^`]*)`|'((?:[^'\\]|\\.)*)'|(:=|[|(),=])|([^\s"`'|(),=]+)/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < body.length) {
    const at = re.lastIndex;
    m = re.exec(body);
    if (!m) throw lineError(src, base + at, `unexpected "${body[at]}" in command`);
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
  return s.replace(
    /\\(.)/g,
    (_m, c: string) =>
      (({ n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'" }) as Record<string, string>)[c] ?? `\\${c}`,
  );
}
