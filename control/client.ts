import * as grpc from '@grpc/grpc-js';
import { loadProto } from './proto';
import type { NetworkServiceClient } from './generated/vxnet/v1/NetworkService';
import type { HealthClient } from './generated/vxnet/v1/Health';
import type { CreateNetworkRequest } from './generated/vxnet/v1/CreateNetworkRequest';
import type { Network__Output } from './generated/vxnet/v1/Network';
import type { ListNetworksRequest } from './generated/vxnet/v1/ListNetworksRequest';
import type { ListNetworksResponse__Output } from './generated/vxnet/v1/ListNetworksResponse';
import type { DeleteNetworkResponse__Output } from './generated/vxnet/v1/DeleteNetworkResponse';
import type { PruneNetworksRequest } from './generated/vxnet/v1/PruneNetworksRequest';
import type { PruneNetworksResponse__Output } from './generated/vxnet/v1/PruneNetworksResponse';
import type { ConnectRequest } from './generated/vxnet/v1/ConnectRequest';
import type { ConnectResponse__Output } from './generated/vxnet/v1/ConnectResponse';
import type { DisconnectResponse__Output } from './generated/vxnet/v1/DisconnectResponse';
import type { DisconnectRequest } from './generated/vxnet/v1/DisconnectRequest';
import type { HealthCheckResponse__Output } from './generated/vxnet/v1/HealthCheckResponse';
import type { SystemServiceClient } from './generated/vxnet/v1/SystemService';
import type { RemoveHostRequest } from './generated/vxnet/v1/RemoveHostRequest';
import type { RemoveHostResponse__Output } from './generated/vxnet/v1/RemoveHostResponse';
import type { ListHostsResponse__Output } from './generated/vxnet/v1/ListHostsResponse';
import type { DoctorReport__Output } from './generated/vxnet/v1/DoctorReport';
import type { WatchRequest } from './generated/vxnet/v1/WatchRequest';
import type { Event__Output } from './generated/vxnet/v1/Event';

export interface TlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

// "unix:///run/vxnet/vxnet.sock", "/run/vxnet/vxnet.sock" or "tcp://host:port" -> a gRPC target.
export function grpcTarget(host: string): string {
  if (host.startsWith('unix://')) return `unix:${host.slice('unix://'.length)}`;
  if (host.startsWith('/')) return `unix:${host}`;
  if (host.startsWith('tcp://')) return host.slice('tcp://'.length);
  return host;
}

export const DEFAULT_SOCKET = '/run/vxnet/vxnet.sock';
export const DEFAULT_DEADLINE_MS = 15_000;

type Unary<Req, Res> = (req: Req, opts?: { deadlineMs?: number }) => Promise<Res>;

// A promise-based client over the generated callback API; one per target.
export class VxClient {
  readonly networks: NetworkServiceClient;
  readonly health: HealthClient;
  readonly system: SystemServiceClient;

  // `deadlineMs`: each call's, unless the call names its own.
  constructor(
    host: string,
    tls?: TlsFiles,
    private readonly deadlineMs = DEFAULT_DEADLINE_MS,
  ) {
    const proto = loadProto();
    const creds =
      tls?.ca || tls?.cert
        ? grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null)
        : grpc.credentials.createInsecure();
    const target = grpcTarget(host);
    // grpc-js waits a full second before retrying a socket that was not there yet: too long for a
    // client that polls an agent which is starting (health checks, restarts).
    const options = { 'grpc.initial_reconnect_backoff_ms': 50, 'grpc.max_reconnect_backoff_ms': 1000 };
    this.networks = new proto.vxnet.v1.NetworkService(target, creds, options);
    this.health = new proto.vxnet.v1.Health(target, creds, options);
    this.system = new proto.vxnet.v1.SystemService(target, creds, options);
  }

  private unary<Req, Res>(client: grpc.Client, method: string): Unary<Req, Res> {
    return (req, opts) =>
      new Promise<Res>((resolve, reject) => {
        const deadline = new Date(Date.now() + (opts?.deadlineMs ?? this.deadlineMs));
        const fn = (
          client as unknown as Record<
            string,
            (r: Req, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Res) => void) => void
          >
        )[method];
        fn.call(client, req, new grpc.Metadata(), { deadline }, (err, res) =>
          err ? reject(err) : resolve(res as Res),
        );
      });
  }

  create: Unary<CreateNetworkRequest, Network__Output> = (r, o) =>
    this.unary<CreateNetworkRequest, Network__Output>(this.networks, 'Create')(r, o);
  list: Unary<ListNetworksRequest, ListNetworksResponse__Output> = (r, o) =>
    this.unary<ListNetworksRequest, ListNetworksResponse__Output>(this.networks, 'List')(r, o);
  inspect: Unary<{ network: string }, Network__Output> = (r, o) =>
    this.unary<{ network: string }, Network__Output>(this.networks, 'Inspect')(r, o);
  delete: Unary<{ network: string }, DeleteNetworkResponse__Output> = (r, o) =>
    this.unary<{ network: string }, DeleteNetworkResponse__Output>(this.networks, 'Delete')(r, o);
  prune: Unary<PruneNetworksRequest, PruneNetworksResponse__Output> = (r, o) =>
    this.unary<PruneNetworksRequest, PruneNetworksResponse__Output>(this.networks, 'Prune')(r, o);
  connect: Unary<ConnectRequest, ConnectResponse__Output> = (r, o) =>
    this.unary<ConnectRequest, ConnectResponse__Output>(this.networks, 'Connect')(r, o);
  disconnect: Unary<DisconnectRequest, DisconnectResponse__Output> = (r, o) =>
    this.unary<DisconnectRequest, DisconnectResponse__Output>(this.networks, 'Disconnect')(r, o);
  check: Unary<object, HealthCheckResponse__Output> = (r, o) =>
    this.unary<object, HealthCheckResponse__Output>(this.health, 'Check')(r, o);

  listHosts: Unary<object, ListHostsResponse__Output> = (r, o) =>
    this.unary<object, ListHostsResponse__Output>(this.system, 'ListHosts')(r, o);
  removeHost: Unary<RemoveHostRequest, RemoveHostResponse__Output> = (r, o) =>
    this.unary<RemoveHostRequest, RemoveHostResponse__Output>(this.system, 'RemoveHost')(r, o);
  doctor: Unary<object, DoctorReport__Output> = (r, o) =>
    this.unary<object, DoctorReport__Output>(this.system, 'Doctor')(r, o);

  // A stream of events until `cancel()` or an error; `onEnd` gets the error (undefined on cancel).
  watch(
    req: WatchRequest,
    onEvent: (e: Event__Output) => void,
    onEnd: (err?: grpc.ServiceError) => void,
  ): { cancel: () => void } {
    const call = this.system.watch(req);
    call.on('data', onEvent);
    call.on('error', (err: grpc.ServiceError) => onEnd(err.code === grpc.status.CANCELLED ? undefined : err));
    call.on('end', () => onEnd());
    return { cancel: () => call.cancel() };
  }

  close(): void {
    this.networks.close();
    this.health.close();
    this.system.close();
  }
}
