// A small argument parser that behaves like the one behind the Docker CLI (spf13/pflag): long and
// short flags, `--flag=value`, `--flag value`, `-fvalue`, `-f=value`, bundled short booleans
// (`-qf`), flags before and after arguments, `--` to end flags, repeated flags collected into lists.

// A command line that cannot be run. Docker exits 125 for flag errors and 1 for a wrong number of
// arguments or values it refuses; `command` names the command for the "See '... --help'." hint
// that follows flag and argument errors.
export class UsageError extends Error {
  command?: string;
  constructor(
    message: string,
    readonly exitCode = 125,
    readonly hint = true,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  names: string[]; // e.g. ['-f', '--filter']
  key: string; // where the value goes
  kind: 'bool' | 'string' | 'list';
}

export interface Parsed {
  flags: Record<string, string | boolean | string[]>;
  args: string[];
}

// As Go's strconv.ParseBool, which pflag uses for --flag=value on booleans.
function parseBool(name: string, v: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  throw new UsageError(`invalid argument "${v}" for "${name}" flag: strconv.ParseBool: parsing "${v}": invalid syntax`);
}

export function parseArgs(argv: string[], specs: FlagSpec[]): Parsed {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) for (const n of s.names) byName.set(n, s);
  const flags: Parsed['flags'] = {};
  for (const s of specs) if (s.kind === 'list') flags[s.key] = [];
  const args: string[] = [];
  const set = (spec: FlagSpec, value: string): void => {
    if (spec.kind === 'list') (flags[spec.key] as string[]).push(value);
    else flags[spec.key] = value;
  };
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
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(0, eq) : a;
      const spec = byName.get(name);
      if (!spec || name === '--') throw new UsageError(`unknown flag: ${name}`);
      if (spec.kind === 'bool') {
        flags[spec.key] = eq > 0 ? parseBool(name, a.slice(eq + 1)) : true;
      } else if (eq > 0) {
        set(spec, a.slice(eq + 1));
      } else {
        if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: ${name}`);
        set(spec, argv[++i]);
      }
      continue;
    }
    // Short flags: booleans may be bundled; the first flag that takes a value takes the rest of
    // the word (without a leading "=") or else the next word.
    for (let j = 1; j < a.length; j++) {
      const c = a[j];
      const spec = byName.get(`-${c}`);
      if (!spec) throw new UsageError(`unknown shorthand flag: '${c}' in ${a}`);
      const rest = a.slice(j + 1);
      if (spec.kind === 'bool') {
        if (rest.startsWith('=')) {
          flags[spec.key] = parseBool(`-${c}`, rest.slice(1));
          break;
        }
        flags[spec.key] = true;
        continue;
      }
      if (rest) set(spec, rest.replace(/^=/, ''));
      else if (i + 1 < argv.length) set(spec, argv[++i]);
      else throw new UsageError(`flag needs an argument: '${c}' in -${c}`);
      break;
    }
  }
  return { flags, args };
}

// Docker's positional-argument checks: a wrong count exits 1, not 125.
export function exactArgs(p: Parsed, n: number, command: string): void {
  if (p.args.length !== n) throw new UsageError(`"${command}" requires exactly ${n} argument${n === 1 ? '' : 's'}.`, 1);
}
export function minArgs(p: Parsed, n: number, command: string): void {
  if (p.args.length < n) throw new UsageError(`"${command}" requires at least ${n} argument${n === 1 ? '' : 's'}.`, 1);
}
export function noArgs(p: Parsed, command: string): void {
  if (p.args.length) throw new UsageError(`"${command}" accepts no arguments.`, 1);
}

// "k=v" pairs (labels, options, aux addresses), split at the first "="; a missing "=" keeps the
// value empty, as Docker does for labels and options, unless `requireValue`. The last of a
// repeated key wins.
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
