import * as grpc from '@grpc/grpc-js';
import { decodeAuthenticateToken, decodeWatchResponse, encodeAuthenticate, encodeWatchCreate } from './wire';
import type { WatchResponse } from './wire';

// Where etcd is and how to reach it (StoreOptions extends it).
export interface EtcdTarget {
  endpoints: string[];
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
  auth?: { username: string; password: string };
}

const identity = (b: Buffer): Buffer => b;

export interface WatchHandlers {
  data(res: WatchResponse): void;
  error(err: Error): void;
}

// One watch of a key range on a gRPC stream of its own, decoded by ./wire (etcd3's watcher decodes
// into protobufjs objects: most of the agent's time in a bulk change). `data` gets every response
// after etcd confirmed the watch, `error` is called once when the stream ends for any reason but
// cancel(): the caller loads again and watches anew, it never resumes a stream. The handlers are
// given up front: etcd sends the events since the start revision right behind its confirmation,
// often in the same read, before a caller awaiting open() could attach a listener.
export class PrefixWatch {
  private closed = false;

  private constructor(private readonly client: grpc.Client, private readonly call: grpc.ClientDuplexStream<Buffer, WatchResponse>, private readonly on: WatchHandlers) {}

  static async open(t: EtcdTarget, endpoint: number, key: Buffer, rangeEnd: Buffer, startRevision: number, timeoutMs: number, on: WatchHandlers): Promise<PrefixWatch> {
    const url = t.endpoints[endpoint % t.endpoints.length];
    const creds = t.tls ? grpc.credentials.createSsl(t.tls.ca, t.tls.key ?? null, t.tls.cert ?? null) : url.startsWith('https://') ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
    // A response carries every change of a revision range: far over gRPC's 4 MiB default in a big cluster.
    const client = new grpc.Client(url.replace(/^https?:\/\//, ''), creds, { 'grpc.max_receive_message_length': 1 << 30, 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1000 });
    const deadline = Date.now() + timeoutMs;
    try {
      const md = new grpc.Metadata();
      if (t.auth) md.set('token', await authenticate(client, t.auth, deadline));
      const call = client.makeBidiStreamRequest('/etcdserverpb.Watch/Watch', identity, decodeWatchResponse, md, {});
      const w = new PrefixWatch(client, call, on);
      await w.start(encodeWatchCreate(key, rangeEnd, startRevision), deadline);
      return w;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  private start(request: Buffer, deadline: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let created = false;
      const fail = (err: Error): void => {
        clearTimeout(timer);
        if (this.closed) return;
        this.cancel();
        if (created) this.on.error(err);
        else reject(err);
      };
      const timer = setTimeout(() => fail(new Error('etcd did not confirm the watch in time')), Math.max(1, deadline - Date.now()));
      this.call.on('data', (res: WatchResponse) => {
        if (this.closed) return;
        if (!created) {
          if (!res.created) return;
          created = true;
          clearTimeout(timer);
          resolve();
          if (!res.events.length && !res.canceled && !res.compactRevision) return;
        }
        this.on.data(res);
      });
      this.call.on('error', (err: Error) => fail(err));
      this.call.on('end', () => fail(new Error('etcd ended the watch stream')));
      this.call.write(request);
    });
  }

  cancel(): void {
    if (this.closed) return;
    this.closed = true;
    this.call.removeAllListeners('data');
    this.call.on('error', () => undefined);
    this.call.cancel();
    this.client.close();
  }
}

function authenticate(client: grpc.Client, auth: { username: string; password: string }, deadline: number): Promise<string> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest('/etcdserverpb.Auth/Authenticate', identity, decodeAuthenticateToken, encodeAuthenticate(auth.username, auth.password), new grpc.Metadata(), { deadline }, (err, token) => {
      if (err || !token) reject(err ?? new Error('etcd gave no token'));
      else resolve(token);
    });
  });
}
