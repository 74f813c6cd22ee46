import {
  GRPCGenericError,
  EtcdError,
  ClientRuntimeError,
  EtcdPermissionDeniedError,
  EtcdAuthenticationFailedError,
} from 'etcd3';
import { BrokenCircuitError } from 'cockatiel';
import { status } from '@grpc/grpc-js';
import { VxError, etcdUnavailable, unavailable, internal } from '../errors';

// The one place where the text of etcd's, etcd3's and grpc-js's messages is read: elsewhere a
// failure is told apart by its type. OpenSSL, grpc-js and etcd say what went wrong only in words.

// etcd refused the user name or password (or the user's permissions).
export class EtcdAuthError extends VxError {}

// The TLS handshake with etcd failed: `untrusted`, etcd's certificate is not signed by the CA we
// trust; `client-cert`, etcd refused our client certificate (or our lack of one); `plaintext`, one
// side speaks TLS and the other does not.
export type TlsProblem = 'untrusted' | 'client-cert' | 'plaintext';
export class EtcdTlsError extends VxError {
  constructor(
    code: status,
    message: string,
    readonly kind: TlsProblem,
  ) {
    super(code, message);
  }
}

// In this order: a message can name more than one (an alert follows a failed verification).
const TABLE: [RegExp, (e: VxError) => VxError][] = [
  [
    /authentication failed|invalid user ID or password|user name is empty|permission denied/i,
    (e) => new EtcdAuthError(e.code, e.message),
  ],
  [
    /certificate verify failed|unable to verify|unable to get local issuer|self[- ]signed|unknown ca|CERT_|Hostname\/IP does not match/i,
    (e) => new EtcdTlsError(e.code, e.message, 'untrusted'),
  ],
  [
    /certificate required|bad certificate|handshake failure|alert/i,
    (e) => new EtcdTlsError(e.code, e.message, 'client-cert'),
  ],
  [
    /wrong version number|packet length too long|http2: server sent GOAWAY|Protocol error/i,
    (e) => new EtcdTlsError(e.code, e.message, 'plaintext'),
  ],
];

// grpc-js spreads a connection failure over lines and appends a "Resolution note".
export function oneLine(message: string): string {
  return message
    .replace(/\s*Resolution note:\s*/, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function classified(e: VxError): VxError {
  const text = oneLine(e.message);
  for (const [pattern, make] of TABLE) if (pattern.test(text)) return make(e);
  return e;
}

const AWAY = new Set<number>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.CANCELLED]);

// Maps etcd client failures to UNAVAILABLE with a message an operator can act on (an EtcdAuthError
// or EtcdTlsError when it is one of those); our own errors pass.
export function storeError(err: unknown): VxError {
  if (err instanceof VxError) return err;
  if (err instanceof EtcdPermissionDeniedError || err instanceof EtcdAuthenticationFailedError) {
    return classified(unavailable(`etcd refused the request: ${err.message}`));
  }
  if (err instanceof BrokenCircuitError)
    return etcdUnavailable('etcd is unreachable (recent requests failed; retrying shortly)');
  if (err instanceof GRPCGenericError || err instanceof EtcdError || err instanceof ClientRuntimeError) {
    return classified(etcdUnavailable(`etcd is unreachable or not answering: ${err.message}`));
  }
  // A call made by hand on grpc-js (./raw): unreachable or slow, or refused (auth, permissions).
  const g = err as { code?: unknown; details?: unknown };
  if (typeof g?.code === 'number' && typeof g.details === 'string') {
    const away = AWAY.has(g.code);
    return classified(
      away
        ? etcdUnavailable(`etcd is unreachable or not answering: ${g.details}`)
        : unavailable(`etcd refused the request (${status[g.code] ?? g.code}): ${g.details}`),
    );
  }
  const e = err as Error;
  return classified(internal(`etcd request failed: ${e?.message ?? String(err)}`));
}

// A request that never reached etcd: an open breaker refused it, or the member refused the
// connection. Sending it again (to another member, or a moment later) cannot apply it twice.
export function neverSent(err: unknown): boolean {
  return (
    err instanceof BrokenCircuitError ||
    (err instanceof Error && /No connection established|ECONNREFUSED|ENOENT/.test(err.message))
  );
}
