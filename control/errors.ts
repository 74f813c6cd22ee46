import { status } from '@grpc/grpc-js';

// Why, where one code covers failures a caller handles differently (a network's name taken, which
// Docker's driver binds to, against its subnet or VXLAN id clashing, which it reports; etcd not
// answering, which the agent answers from its view where it can, against any other refusal).
export type Reason = 'name-taken' | 'subnet-overlap' | 'vni-taken' | 'etcd-unavailable';

// One error type for everything the API can refuse. Callers match on `code` (a gRPC status) and
// `reason`, never on message text; the message is for a person and says what to change.
export class VxError extends Error {
  constructor(
    readonly code: status,
    message: string,
    readonly reason?: Reason,
  ) {
    super(message);
    this.name = 'VxError';
  }
}

export const invalid = (msg: string): VxError => new VxError(status.INVALID_ARGUMENT, msg);
export const exists = (msg: string, reason?: Reason): VxError => new VxError(status.ALREADY_EXISTS, msg, reason);
export const notFound = (msg: string): VxError => new VxError(status.NOT_FOUND, msg);
export const precondition = (msg: string): VxError => new VxError(status.FAILED_PRECONDITION, msg);
export const exhausted = (msg: string): VxError => new VxError(status.RESOURCE_EXHAUSTED, msg);
export const unavailable = (msg: string): VxError => new VxError(status.UNAVAILABLE, msg);
export const etcdUnavailable = (msg: string): VxError => new VxError(status.UNAVAILABLE, msg, 'etcd-unavailable');
export const internal = (msg: string): VxError => new VxError(status.INTERNAL, msg);

// gRPC metadata on every error the agent sends: grpc-js reports a connection that failed and the
// agent's own UNAVAILABLE (etcd away) with the same code, and a client must tell them apart.
export const ORIGIN_KEY = 'vxnet-origin';
export const REASON_KEY = 'vxnet-reason';
