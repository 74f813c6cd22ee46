// Go prints values by their type: a map as map[k:v], a struct as {v1 v2}, a missing map key as
// <no value>, while a missing struct field is an error. JavaScript objects do not say which they
// are, so callers mark them: goMap() objects read a missing key as <no value>, goStruct() objects
// print as {v1 v2}; unmarked objects print as maps but a missing field is an error. A struct field that Docker
// omits from JSON when empty (`omitempty`) is kept as a non-enumerable property by goStruct(): a
// template can still read it, JSON.stringify leaves it out, as Docker's output does.

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
    if (typeof rec[k] === 'function' || (omitEmpty.includes(k) && isEmpty(rec[k])))
      Object.defineProperty(o, k, { enumerable: false });
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

export function aliasesOf(o: object): Record<string, unknown> | undefined {
  return ALIASES.get(o);
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

// Go's default printing of values (fmt's %v).
export function render(v: unknown): string {
  if (v === undefined || v === null) return '<no value>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof GoTime) return v.toString();
  if (Array.isArray(v)) return `[${v.map(inner).join(' ')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (STRUCTS.has(o))
      return `{${Object.getOwnPropertyNames(o)
        .filter((k) => typeof o[k] !== 'function')
        .map((k) => inner(o[k]))
        .join(' ')}}`;
    return `map[${Object.keys(o)
      .sort()
      .map((k) => `${k}:${inner(o[k])}`)
      .join(' ')}]`;
  }
  return '';
}

// Inside a composite Go prints nil as <nil>, not <no value>.
function inner(v: unknown): string {
  if (v === undefined || v === null) return '<nil>';
  return render(v);
}

export function toStr(v: unknown): string {
  return typeof v === 'string' ? v : render(v);
}

// Go's truth of `if`, `with`, `and`, `or` and `not`: empty values are false, a struct never is.
export function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof GoTime) return true;
  if (v !== null && typeof v === 'object') return STRUCTS.has(v) || Object.keys(v).length > 0;
  return !!v;
}
