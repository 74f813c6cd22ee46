import { status } from '@grpc/grpc-js';
import type { Metadata } from '@grpc/grpc-js';
import { ORIGIN_KEY, REASON_KEY } from '../control/errors';

// How a call to the agent failed, from grpc-js's error: the one place in the CLI that reads its
// text, because grpc-js says why a connection failed only in words.
export type CallFailure =
  | { kind: 'no-permission' } // the socket's mode or group keeps this user out
  | { kind: 'not-running' } // no socket, or nobody listening
  | { kind: 'unreachable'; cause: string } // any other connection failure, and why
  | { kind: 'timeout'; details: string }
  | { kind: 'answer'; details: string; reason?: string }; // the agent answered with an error

interface GrpcError {
  code: number;
  details: string;
  metadata?: Metadata;
}
const UNAVAILABLE: number = status.UNAVAILABLE;
const DEADLINE_EXCEEDED: number = status.DEADLINE_EXCEEDED;
function isGrpcError(e: unknown): e is GrpcError {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as { code?: unknown }).code === 'number' &&
    typeof (e as { details?: unknown }).details === 'string'
  );
}

// undefined: not an error of a gRPC call.
export function callFailure(err: unknown): CallFailure | undefined {
  if (!isGrpcError(err)) return undefined;
  // Marked by the agent: its answer, whatever the code and the words (etcd's "connect ECONNREFUSED"
  // is not a failure to reach the agent).
  if (err.metadata?.get(ORIGIN_KEY).length) {
    const reason = err.metadata.get(REASON_KEY)[0];
    return { kind: 'answer', details: err.details, ...(reason ? { reason: String(reason) } : {}) };
  }
  if (err.code === UNAVAILABLE && /No connection established|connect|ENOENT|ECONNREFUSED|EACCES/i.test(err.details)) {
    if (/EACCES/.test(err.details)) return { kind: 'no-permission' };
    if (/ENOENT|ECONNREFUSED/.test(err.details)) return { kind: 'not-running' };
    const cause = /Last error: (?:Error: )?(.*?)(?:\.? Resolution note:.*)?$/s.exec(err.details)?.[1] ?? err.details;
    return { kind: 'unreachable', cause };
  }
  if (err.code === DEADLINE_EXCEEDED) return { kind: 'timeout', details: err.details };
  return { kind: 'answer', details: err.details };
}
