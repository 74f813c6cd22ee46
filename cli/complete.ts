// `vxnet __complete WORD... CURRENT`: the candidates for the last word (which may be empty), one a
// line as `candidate<TAB>description`; the shells filter them by what is typed. Everything comes
// from the command table (./commands); live values come through `LiveSource`, which has read-only
// calls only, so that pressing Tab can never change anything.
import type { FlagSpec } from './args';
import { COMMANDS, Command, find, flagsOf, GLOBAL_FLAGS, Live, Values } from './commands';

export interface LiveSource {
  values(kind: Live): Promise<string[]>;
}

export interface Candidate {
  value: string;
  description?: string;
}

const valueFlag = (f: FlagSpec): boolean => f.kind !== 'bool';

function flagCandidates(flags: readonly FlagSpec[]): Candidate[] {
  return flags.flatMap((f) => f.names.map((n) => ({ value: n })));
}

function commandCandidates(list: readonly Command[]): Candidate[] {
  return list.filter((c) => !c.hidden).map((c) => ({ value: c.name, description: c.summary }));
}

async function valueCandidates(v: Values | undefined, current: string, live: LiveSource): Promise<Candidate[]> {
  if (!v) return [];
  if ('words' in v) return v.words.map((w) => ({ value: w }));
  if ('live' in v) return (await live.values(v.live)).map((w) => ({ value: w }));
  // A filter: its keys first, then the chosen key's values after `key=`.
  const eq = current.indexOf('=');
  if (eq < 0) return Object.keys(v.filter).map((k) => ({ value: `${k}=` }));
  const key = current.slice(0, eq);
  if (!(key in v.filter)) return [];
  return (await valueCandidates(v.filter[key], current.slice(eq + 1), live)).map((c) => ({
    value: `${key}=${c.value}`,
  }));
}

// Where a flag that takes a value is given as `--flag=value`, `-fvalue` is not told apart: a short
// flag's bundled value is rare in completion and Docker's completion ignores it too.
function splitFlag(word: string): { name: string; value?: string } {
  const eq = word.startsWith('--') ? word.indexOf('=') : -1;
  return eq > 0 ? { name: word.slice(0, eq), value: word.slice(eq + 1) } : { name: word };
}

export async function complete(words: string[], live: LiveSource): Promise<Candidate[]> {
  const current = words.length ? words[words.length - 1] : '';
  const before = words.slice(0, -1);
  let i = 0;
  // Global flags and their values.
  for (; i < before.length; i++) {
    const f = GLOBAL_FLAGS.find((g) => g.names.includes(splitFlag(before[i]).name));
    if (!f) break;
    if (valueFlag(f) && splitFlag(before[i]).value === undefined) i++;
  }
  if (i >= before.length) {
    if (i > before.length) return []; // the value of a global flag: a path or an address
    return current.startsWith('-') ? flagCandidates(GLOBAL_FLAGS) : commandCandidates(COMMANDS);
  }
  // The command and its subcommands.
  let cmd = find(COMMANDS, before[i++]);
  if (!cmd || cmd.hidden) return [];
  while (cmd.subcommands) {
    if (i >= before.length) return current.startsWith('-') ? [] : commandCandidates(cmd.subcommands);
    const sub = find(cmd.subcommands, before[i++]);
    if (!sub) return [];
    cmd = sub;
  }
  // The leaf's flags and arguments.
  const flags = flagsOf(cmd);
  let positional = 0;
  let flagsEnded = false;
  for (; i < before.length; i++) {
    const w = before[i];
    if (flagsEnded || !w.startsWith('-') || w === '-') {
      positional++;
      continue;
    }
    if (w === '--') {
      flagsEnded = true;
      continue;
    }
    const { name, value } = splitFlag(w);
    const f = flags.find((s) => s.names.includes(name));
    if (f && valueFlag(f) && value === undefined) {
      if (i === before.length - 1) return valueCandidates(cmd.flagValues?.[f.key], current, live);
      i++;
    }
  }
  if (!flagsEnded && current.startsWith('--') && current.includes('=')) {
    const { name, value } = splitFlag(current);
    const f = flags.find((s) => s.names.includes(name));
    if (!f || !valueFlag(f)) return [];
    const vals = await valueCandidates(cmd.flagValues?.[f.key], value ?? '', live);
    return vals.map((c) => ({ value: `${name}=${c.value}` }));
  }
  if (!flagsEnded && current.startsWith('-')) return flagCandidates(flags);
  const args = cmd.args ?? [];
  const spec = positional < args.length ? args[positional] : cmd.repeat ? args[args.length - 1] : undefined;
  return valueCandidates(spec, current, live);
}
