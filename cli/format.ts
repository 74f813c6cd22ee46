// Docker's --format: a Go text/template (gotemplate/) with Docker's \t and \n escapes, and the
// `table` prefix with Docker's tabwriter. The names the CLI uses are exported from here.
import { TemplateError, type Source } from './gotemplate/errors';
import { execute } from './gotemplate/exec';
import { parse } from './gotemplate/parse';
import { toStr } from './gotemplate/values';

export { TemplateError } from './gotemplate/errors';
export { goAlias, goMap, goStruct, GoTime, goTimeString, isGoMap, render } from './gotemplate/values';

// Docker replaces the two-character sequences \t and \n in --format before parsing, so that
// shells need no $'...' quoting.
export function compile(tpl: string): (dot: unknown) => string {
  const src: Source = { text: tpl.replace(/\\t/g, '\t').replace(/\\n/g, '\n') };
  const nodes = parse(src);
  return (dot) => execute(src, nodes, dot);
}

// Docker's tabwriter (minimum cell width 10, padding 3); the text after a row's last tab is no cell
// and so is not padded.
export function tabulate(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.slice(0, -1).forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(Math.max(10, widths[i] + 3))))
        .join('')
        .trimEnd(),
    )
    .join('\n');
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
    header = body
      .replace(/\\t/g, '\t')
      .replace(/\{\{-?\s*(?:\w+\s+)?\.([A-Za-z0-9_]+)(?:\s+"([^"]*)")?[^}]*\}\}/g, (_m, f: string, arg?: string) =>
        f === 'Label' && arg !== undefined ? labelHeader(arg) : (headers[f] ?? f.toUpperCase()),
      );
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
      get: (_t, k) => (k === 'Label' ? label : typeof k === 'string' ? (headers[k] ?? k.toUpperCase()) : undefined),
      getOwnPropertyDescriptor: (_t, k) => ({
        configurable: true,
        enumerable: true,
        value: typeof k === 'string' ? (headers[k] ?? k.toUpperCase()) : undefined,
      }),
      ownKeys: () => Object.keys(headers),
    },
  );
}
