import * as grpc from '@grpc/grpc-js';
import { decodeWatchResponse, encodeWatchCreate } from './wire';
import type { WatchResponse } from './wire';
import { callMetadata, openClient } from './raw';
import type { EtcdTarget } from './raw';

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

  private constructor(
    private readonly client: grpc.Client,
    private readonly call: grpc.ClientDuplexStream<Buffer, WatchResponse>,
    private readonly on: WatchHandlers,
  ) {}

  static async open(
    t: EtcdTarget,
    endpoint: number,
    key: Buffer,
    rangeEnd: Buffer,
    startRevision: number,
    timeoutMs: number,
    on: WatchHandlers,
  ): Promise<PrefixWatch> {
    const client = openClient(t, endpoint);
    const deadline = Date.now() + timeoutMs;
    try {
      const md = await callMetadata(client, t, deadline);
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
      const timer = setTimeout(
        () => fail(new Error('etcd did not confirm the watch in time')),
        Math.max(1, deadline - Date.now()),
      );
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
