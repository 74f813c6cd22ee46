// A small argument parser in Docker's style: long and short flags, `--flag=value` and
// `--flag value`, repeated flags collected into lists, booleans without values.

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  names: string[];                       // e.g. ['-f', '--filter']
  key: string;                           // where the value goes
  kind: 'bool' | 'string' | 'list';
}

export interface Parsed {
  flags: Record<string, string | boolean | string[]>;
  args: string[];
}

export function parseArgs(argv: string[], specs: FlagSpec[]): Parsed {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) for (const n of s.names) byName.set(n, s);
  const flags: Parsed['flags'] = {};
  for (const s of specs) if (s.kind === 'list') flags[s.key] = [];
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      args.push(a);
      continue;
    }
    let name = a;
    let value: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      name = a.slice(0, eq);
      value = a.slice(eq + 1);
    } else if (!a.startsWith('--') && a.length > 2) {
      // -fVALUE or a bundle of booleans such as -qf? Docker allows -f=VALUE and -fVALUE for one flag.
      name = a.slice(0, 2);
      value = a.slice(2).replace(/^=/, '');
    }
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`unknown flag: ${name}`);
    if (spec.kind === 'bool') {
      if (value !== undefined && value !== 'true' && value !== 'false') throw new UsageError(`flag ${name} takes no value (got "${value}")`);
      flags[spec.key] = value !== 'false';
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: ${name}`);
      value = argv[++i];
    }
    if (spec.kind === 'list') (flags[spec.key] as string[]).push(value);
    else flags[spec.key] = value;
  }
  return { flags, args };
}

// "k=v" pairs (labels, options, aux addresses); a missing "=" keeps the value empty, as Docker does
// for labels, unless `requireValue`.
export function keyValues(list: string[], what: string, requireValue = false): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    const k = eq < 0 ? item : item.slice(0, eq);
    const v = eq < 0 ? '' : item.slice(eq + 1);
    if (!k) throw new UsageError(`invalid ${what} "${item}": the key before "=" is empty`);
    if (requireValue && eq < 0) throw new UsageError(`invalid ${what} "${item}": use key=value`);
    out[k] = v;
  }
  return out;
}

export function str(p: Parsed, key: string): string {
  const v = p.flags[key];
  return typeof v === 'string' ? v : '';
}
export function bool(p: Parsed, key: string): boolean {
  return p.flags[key] === true;
}
export function list(p: Parsed, key: string): string[] {
  const v = p.flags[key];
  return Array.isArray(v) ? v : [];
}
