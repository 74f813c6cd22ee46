import * as grpc from '@grpc/grpc-js';
import { decodeAuthenticateToken, encodeAuthenticate, encodeRange } from './wire';

// Where etcd is and how to reach it (StoreOptions extends it).
export interface EtcdTarget {
  endpoints: string[];
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
  auth?: { username: string; password: string };
}

const identity = (b: Buffer): Buffer => b;

// A channel of its own to one member, for the calls the agent makes by hand (./wire): its watch and
// its loads of the whole view, where etcd3's decoding cost more than the work done with the data.
export function openClient(t: EtcdTarget, endpoint: number): grpc.Client {
  const url = t.endpoints[endpoint % t.endpoints.length];
  const creds = t.tls
    ? grpc.credentials.createSsl(t.tls.ca, t.tls.key ?? null, t.tls.cert ?? null)
    : url.startsWith('https://')
      ? grpc.credentials.createSsl()
      : grpc.credentials.createInsecure();
  // A response carries every change of a revision range: far over gRPC's 4 MiB default in a big
  // cluster. And HTTP/2's default 64 KiB flow-control window made etcd wait for a window update
  // every 64 KiB of it (grpc-js does not grow the window as Go's gRPC does).
  return new grpc.Client(url.replace(/^https?:\/\//, ''), creds, {
    'grpc.max_receive_message_length': 1 << 30,
    'grpc-node.flow_control_window': 1 << 24,
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 1000,
  });
}

// The metadata of an authenticated call: a fresh token per call site, as tokens expire.
export async function callMetadata(client: grpc.Client, t: EtcdTarget, deadline: number): Promise<grpc.Metadata> {
  const md = new grpc.Metadata();
  if (t.auth)
    md.set(
      'token',
      await unary(
        client,
        '/etcdserverpb.Auth/Authenticate',
        encodeAuthenticate(t.auth.username, t.auth.password),
        decodeAuthenticateToken,
        new grpc.Metadata(),
        deadline,
      ),
    );
  return md;
}

export function unary<T>(
  client: grpc.Client,
  method: string,
  request: Buffer,
  decode: (b: Buffer) => T,
  md: grpc.Metadata,
  deadline: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(method, identity, decode, request, md, { deadline }, (err, res) => {
      if (err || res === undefined) reject(err ?? new Error(`etcd answered ${method} with nothing`));
      else resolve(res);
    });
  });
}

// Every key of [key, rangeEnd) at the latest revision, on a channel opened for it and closed after:
// the RangeResponse as etcd sent it, for ./wire's decodeRangeResponse.
export async function rangeAll(
  t: EtcdTarget,
  endpoint: number,
  key: Buffer,
  rangeEnd: Buffer,
  timeoutMs: number,
): Promise<Buffer> {
  const client = openClient(t, endpoint);
  const deadline = Date.now() + timeoutMs;
  try {
    return await unary(
      client,
      '/etcdserverpb.KV/Range',
      encodeRange(key, rangeEnd),
      identity,
      await callMetadata(client, t, deadline),
      deadline,
    );
  } finally {
    client.close();
  }
}
