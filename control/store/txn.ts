import type * as RPC from 'etcd3/lib/rpc';
import { prefixEnd } from './keys';

// The requests and compares that the store's transactions are made of, as etcd's wire types: every
// claim (a name, an address, a VNI) is a key written only if absent, in the transaction that needs it.
const enc = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
export const put = (key: string, value: unknown, lease?: string): RPC.IRequestOp => ({
  request_put: { key: Buffer.from(key), value: enc(value), ...(lease ? { lease } : {}) },
});
export const del = (key: string): RPC.IRequestOp => ({ request_delete_range: { key: Buffer.from(key) } });
export const delPrefix = (prefix: string): RPC.IRequestOp => ({
  request_delete_range: { key: Buffer.from(prefix), range_end: prefixEnd(prefix) },
});
export const valueIs = (key: string, value: unknown): RPC.ICompare => ({
  key: Buffer.from(key),
  target: 'Value',
  result: 'Equal',
  value: enc(value),
});
export const absent = (key: string): RPC.ICompare => ({
  key: Buffer.from(key),
  target: 'Version',
  result: 'Equal',
  version: 0,
});
export const present = (key: string): RPC.ICompare => ({
  key: Buffer.from(key),
  target: 'Version',
  result: 'Greater',
  version: 0,
});
// A range compare holds for every key in the range, and trivially for an empty one (etcd compares an
// empty range as one zero-valued key): "no key under prefix" and "nothing under prefix changed since".
export const noneUnder = (prefix: string): RPC.ICompare => ({
  key: Buffer.from(prefix),
  range_end: prefixEnd(prefix),
  target: 'Version',
  result: 'Equal',
  version: 0,
});
export const unchangedSince = (prefix: string, revision: number): RPC.ICompare => ({
  key: Buffer.from(prefix),
  range_end: prefixEnd(prefix),
  target: 'Mod',
  result: 'Less',
  mod_revision: revision + 1,
});

export function decode<T>(kv: RPC.IKeyValue): T {
  return parse<T>(kv.value);
}

function parse<T>(value: Buffer | string): T {
  return JSON.parse(typeof value === 'string' ? value : value.toString()) as T;
}
