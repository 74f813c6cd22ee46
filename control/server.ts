import * as fs from 'fs';
import * as grpc from '@grpc/grpc-js';
import { loadProto } from './proto';
import { VxError } from './errors';
import type { NetworkServiceHandlers } from './generated/vxnet/v1/NetworkService';
import type { HealthHandlers } from './generated/vxnet/v1/Health';
import type { CreateNetworkRequest__Output } from './generated/vxnet/v1/CreateNetworkRequest';
import type { Network } from './generated/vxnet/v1/Network';
import type { ListNetworksRequest__Output } from './generated/vxnet/v1/ListNetworksRequest';
import type { ListNetworksResponse } from './generated/vxnet/v1/ListNetworksResponse';
import type { DeleteNetworkResponse } from './generated/vxnet/v1/DeleteNetworkResponse';
import type { PruneNetworksRequest__Output } from './generated/vxnet/v1/PruneNetworksRequest';
import type { PruneNetworksResponse } from './generated/vxnet/v1/PruneNetworksResponse';
import type { ConnectRequest__Output } from './generated/vxnet/v1/ConnectRequest';
import type { ConnectResponse } from './generated/vxnet/v1/ConnectResponse';
import type { DisconnectRequest__Output } from './generated/vxnet/v1/DisconnectRequest';
import type { HealthCheckResponse } from './generated/vxnet/v1/HealthCheckResponse';
import type { Logger } from '../agent/log';

// What the API serves; the agent supplies the implementation, the server only adapts it to gRPC.
export interface Api {
  create(req: CreateNetworkRequest__Output): Promise<Network>;
  list(req: ListNetworksRequest__Output): Promise<ListNetworksResponse>;
  inspect(ref: string): Promise<Network>;
  delete(ref: string): Promise<DeleteNetworkResponse>;
  prune(req: PruneNetworksRequest__Output): Promise<PruneNetworksResponse>;
  connect(req: ConnectRequest__Output): Promise<ConnectResponse>;
  disconnect(req: DisconnectRequest__Output): Promise<void>;
  health(): Promise<HealthCheckResponse>;
}

export interface ServerOptions {
  socket: string;
  socketMode: number;
  socketGroupId?: number;
}

type Cb<T> = grpc.sendUnaryData<T>;

export class ApiServer {
  private readonly server = new grpc.Server();
  inFlight = 0;

  constructor(api: Api, private readonly log: Logger) {
    const proto = loadProto();
    const wrap = <Req, Res>(method: string, fn: (req: Req) => Promise<Res>) => (call: grpc.ServerUnaryCall<Req, Res>, cb: Cb<Res>): void => {
      this.inFlight++;
      fn(call.request).then(
        (res) => cb(null, res),
        (err: unknown) => {
          if (err instanceof VxError) {
            this.log.info('request rejected', { method, code: grpc.status[err.code], reason: err.message });
            cb({ code: err.code, details: err.message });
          } else {
            const e = err as Error;
            this.log.error('request failed', { method, error: e?.stack ?? String(err) });
            cb({ code: grpc.status.INTERNAL, details: `internal error: ${e?.message ?? String(err)}` });
          }
        },
      ).finally(() => {
        this.inFlight--;
      });
    };
    const networks: NetworkServiceHandlers = {
      Create: wrap('Create', (r: CreateNetworkRequest__Output) => api.create(r)),
      List: wrap('List', (r: ListNetworksRequest__Output) => api.list(r)),
      Inspect: wrap('Inspect', (r: { network: string }) => api.inspect(r.network)),
      Delete: wrap('Delete', (r: { network: string }) => api.delete(r.network)),
      Prune: wrap('Prune', (r: PruneNetworksRequest__Output) => api.prune(r)),
      Connect: wrap('Connect', (r: ConnectRequest__Output) => api.connect(r)),
      Disconnect: wrap('Disconnect', async (r: DisconnectRequest__Output) => {
        await api.disconnect(r);
        return {};
      }),
    };
    const health: HealthHandlers = {
      Check: wrap('Check', () => api.health()),
    };
    this.server.addService(proto.vxnet.v1.NetworkService.service, networks);
    this.server.addService(proto.vxnet.v1.Health.service, health);
  }

  async listenUnix(opts: ServerOptions): Promise<void> {
    // A socket file left by a killed agent would make bind fail; nobody else owns this path.
    try {
      if (fs.lstatSync(opts.socket).isSocket()) fs.unlinkSync(opts.socket);
    } catch {
      /* not there */
    }
    // Bind under a tight umask so the socket is never reachable with looser permissions, then chmod.
    const old = process.umask(0o177);
    try {
      await new Promise<number>((resolve, reject) => this.server.bindAsync(`unix:${opts.socket}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
    } finally {
      process.umask(old);
    }
    fs.chmodSync(opts.socket, opts.socketMode);
    if (opts.socketGroupId !== undefined) fs.chownSync(opts.socket, 0, opts.socketGroupId);
  }

  // Mutual TLS only: a client without a certificate signed by `clientCa` is refused in the handshake.
  async listenTcp(address: string, tls: { cert: Buffer; key: Buffer; clientCa: Buffer }): Promise<number> {
    const creds = grpc.ServerCredentials.createSsl(tls.clientCa, [{ private_key: tls.key, cert_chain: tls.cert }], true);
    return new Promise<number>((resolve, reject) => this.server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port))));
  }

  // Finishes in-flight requests (bounded by the caller's timeout), then closes.
  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }

  forceStop(): void {
    this.server.forceShutdown();
  }
}
