import * as fs from 'fs';
import * as grpc from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';
import { ReflectionService } from '@grpc/reflection';
import { loadProto, packageDefinition, protoPath } from './proto';
import { ORIGIN_KEY, REASON_KEY, VxError } from './errors';
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
import type { DisconnectResponse } from './generated/vxnet/v1/DisconnectResponse';
import type { DisconnectRequest__Output } from './generated/vxnet/v1/DisconnectRequest';
import type { HealthCheckResponse } from './generated/vxnet/v1/HealthCheckResponse';
import type { SystemServiceHandlers } from './generated/vxnet/v1/SystemService';
import type { WatchRequest__Output } from './generated/vxnet/v1/WatchRequest';
import type { Event } from './generated/vxnet/v1/Event';
import type { ListHostsResponse } from './generated/vxnet/v1/ListHostsResponse';
import type { RemoveHostRequest__Output } from './generated/vxnet/v1/RemoveHostRequest';
import type { RemoveHostResponse } from './generated/vxnet/v1/RemoveHostResponse';
import type { DoctorReport } from './generated/vxnet/v1/DoctorReport';
import type { Logger } from '../lib/log';

// What the API serves; the agent supplies the implementation, the server only adapts it to gRPC.
export interface Api {
  create(req: CreateNetworkRequest__Output): Promise<Network>;
  list(req: ListNetworksRequest__Output): Promise<ListNetworksResponse>;
  inspect(ref: string): Promise<Network>;
  delete(ref: string): Promise<DeleteNetworkResponse>;
  prune(req: PruneNetworksRequest__Output): Promise<PruneNetworksResponse>;
  // `deadline`: ms since the epoch (Infinity: none); a Connect that outlives it is undone.
  connect(req: ConnectRequest__Output, deadline?: number): Promise<ConnectResponse>;
  disconnect(req: DisconnectRequest__Output): Promise<DisconnectResponse | void>;
  health(): Promise<HealthCheckResponse>;
  // Replays recent events (per the request) and then calls `push` for each new one until the
  // returned function is called.
  watch(req: WatchRequest__Output, push: (e: Event) => void): () => void;
  listHosts(): Promise<ListHostsResponse>;
  removeHost(req: RemoveHostRequest__Output): Promise<RemoveHostResponse>;
  doctor(): Promise<DoctorReport>;
}

export interface ServerOptions {
  socket: string;
  socketMode: number;
  socketGroupId?: number;
}

type Cb<T> = grpc.sendUnaryData<T>;

// Marks an error as the agent's answer, so that a client tells it from a connection that failed
// (grpc-js reports both as UNAVAILABLE), and says why where the code does not (etcd away).
function answered(err?: VxError): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(ORIGIN_KEY, 'agent');
  if (err?.reason) md.set(REASON_KEY, err.reason);
  return md;
}

const MALFORMED = Symbol('malformed request');

// Field numbers in `buf` that `type` does not define, walking nested messages.
export function unknownFields(type: protobuf.Type, buf: Uint8Array, path = ''): string[] {
  const r = protobuf.Reader.create(buf);
  const out: string[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    const id = tag >>> 3;
    const wire = tag & 7;
    const f = type.fieldsById[id];
    if (!f) {
      out.push(`${path}#${id}`);
      r.skipType(wire);
    } else if (wire === 2 && !f.map && f.resolvedType instanceof protobuf.Type) {
      out.push(...unknownFields(f.resolvedType, r.bytes(), `${path}${f.name}.`));
    } else {
      r.skipType(wire);
    }
  }
  return out;
}

// grpc-js answers INTERNAL when a request does not decode. A malformed request is the caller's
// error, and so is a field this agent does not know (a typo or a newer client whose meaning would
// be silently dropped): both are marked here and answered INVALID_ARGUMENT by the handler.
function strict(def: grpc.ServiceDefinition, root: protobuf.Root, service: string): grpc.ServiceDefinition {
  root.resolveAll();
  const svc = root.lookupService(service);
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, m] of Object.entries(def)) {
    const method = svc.methods[name] ?? svc.methods[m.originalName ?? ''];
    if (!method) throw new Error(`method ${name} of ${service} not in the proto`);
    const type = root.lookupType(method.requestType);
    out[name] = {
      ...m,
      requestDeserialize: (buf: Buffer): unknown => {
        try {
          const unknown = unknownFields(type, buf);
          if (unknown.length)
            return {
              [MALFORMED]: `request has fields this agent does not know (${unknown.join(', ')}): check the client's vxnet version`,
            };
          return m.requestDeserialize(buf);
        } catch (err) {
          return { [MALFORMED]: `malformed request (not a valid ${type.name} message): ${(err as Error).message}` };
        }
      },
    };
  }
  return out;
}

export class ApiServer {
  private readonly server = new grpc.Server();
  private readonly watchers = new Set<grpc.ServerWritableStream<WatchRequest__Output, Event>>();
  inFlight = 0;

  constructor(
    api: Api,
    private readonly log: Logger,
    private readonly onRequest: (method: string, code: string, seconds?: number) => void = () => undefined,
    // What the agent adds to "etcd is unreachable": what it still knows and serves.
    private readonly explain: (etcdMessage: string) => string = (m) => m,
  ) {
    const proto = loadProto();
    const wrap =
      <Req, Res>(method: string, fn: (req: Req, deadline: number) => Promise<Res>) =>
      (call: grpc.ServerUnaryCall<Req, Res>, cb: Cb<Res>): void => {
        const bad = (call.request as Record<symbol, string> | null)?.[MALFORMED];
        if (bad) {
          this.log.info('request rejected', { method, code: 'INVALID_ARGUMENT', reason: bad });
          this.onRequest(method, 'INVALID_ARGUMENT');
          cb({ code: grpc.status.INVALID_ARGUMENT, details: bad, metadata: answered() });
          return;
        }
        this.inFlight++;
        const deadline = call.getDeadline();
        const started = process.hrtime.bigint();
        const took = (): number => Number(process.hrtime.bigint() - started) / 1e9;
        fn(call.request, deadline instanceof Date ? deadline.getTime() : Number(deadline))
          .then(
            (res) => {
              this.onRequest(method, 'OK', took());
              cb(null, res);
            },
            (err: unknown) => {
              if (err instanceof VxError) {
                const details = err.reason === 'etcd-unavailable' ? this.explain(err.message) : err.message;
                this.log.info('request rejected', { method, code: grpc.status[err.code], reason: details });
                this.onRequest(method, grpc.status[err.code], took());
                cb({ code: err.code, details, metadata: answered(err) });
              } else {
                const e = err as Error;
                this.log.error('request failed', { method, error: e?.stack ?? String(err) });
                this.onRequest(method, 'INTERNAL', took());
                cb({
                  code: grpc.status.INTERNAL,
                  details: `internal error: ${e?.message ?? String(err)}`,
                  metadata: answered(),
                });
              }
            },
          )
          .finally(() => {
            this.inFlight--;
          });
      };
    const networks: NetworkServiceHandlers = {
      Create: wrap('Create', (r: CreateNetworkRequest__Output) => api.create(r)),
      List: wrap('List', (r: ListNetworksRequest__Output) => api.list(r)),
      Inspect: wrap('Inspect', (r: { network: string }) => api.inspect(r.network)),
      Delete: wrap('Delete', (r: { network: string }) => api.delete(r.network)),
      Prune: wrap('Prune', (r: PruneNetworksRequest__Output) => api.prune(r)),
      Connect: wrap('Connect', (r: ConnectRequest__Output, deadline) => api.connect(r, deadline)),
      Disconnect: wrap('Disconnect', async (r: DisconnectRequest__Output) => (await api.disconnect(r)) ?? {}),
    };
    const health: HealthHandlers = {
      Check: wrap('Check', () => api.health()),
    };
    const system: SystemServiceHandlers = {
      Watch: (call: grpc.ServerWritableStream<WatchRequest__Output, Event>) => {
        const bad = (call.request as unknown as Record<symbol, string> | null)?.[MALFORMED];
        if (bad) {
          call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: bad });
          return;
        }
        let stop: (() => void) | undefined;
        try {
          stop = api.watch(call.request, (e) => call.write(e));
          this.onRequest('Watch', 'OK');
        } catch (err) {
          const e = err as VxError;
          this.onRequest('Watch', grpc.status[e.code ?? grpc.status.INTERNAL]);
          call.emit('error', { code: e instanceof VxError ? e.code : grpc.status.INTERNAL, details: e.message });
          return;
        }
        const end = (): void => {
          stop?.();
          stop = undefined;
        };
        call.on('cancelled', end);
        call.on('close', end);
        this.watchers.add(call);
        call.on('close', () => this.watchers.delete(call));
      },
      ListHosts: wrap('ListHosts', () => api.listHosts()),
      RemoveHost: wrap('RemoveHost', (r: RemoveHostRequest__Output) => api.removeHost(r)),
      Doctor: wrap('Doctor', () => api.doctor()),
    };
    const root = protobuf.loadSync(protoPath());
    this.server.addService(strict(proto.vxnet.v1.SystemService.service, root, 'vxnet.v1.SystemService'), system);
    this.server.addService(strict(proto.vxnet.v1.NetworkService.service, root, 'vxnet.v1.NetworkService'), networks);
    this.server.addService(strict(proto.vxnet.v1.Health.service, root, 'vxnet.v1.Health'), health);
    // Server reflection (v1 and v1alpha) for generic gRPC clients: it describes the services above
    // from the same .proto and nothing else, and is served on the same sockets with the same
    // credentials, so it reveals the schema only to whoever may already call the API.
    new ReflectionService(packageDefinition()).addToServer(this.server);
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
      await new Promise<number>((resolve, reject) =>
        this.server.bindAsync(`unix:${opts.socket}`, grpc.ServerCredentials.createInsecure(), (err, port) =>
          err ? reject(err) : resolve(port),
        ),
      );
    } finally {
      process.umask(old);
    }
    fs.chmodSync(opts.socket, opts.socketMode);
    if (opts.socketGroupId !== undefined) fs.chownSync(opts.socket, 0, opts.socketGroupId);
  }

  // Mutual TLS only: a client without a certificate signed by `clientCa` is refused in the handshake.
  async listenTcp(address: string, tls: { cert: Buffer; key: Buffer; clientCa: Buffer }): Promise<number> {
    const creds = grpc.ServerCredentials.createSsl(
      tls.clientCa,
      [{ private_key: tls.key, cert_chain: tls.cert }],
      true,
    );
    return new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port))),
    );
  }

  // Finishes in-flight requests (bounded by the caller's timeout), then closes.
  async stop(): Promise<void> {
    // Event streams never finish by themselves: end them so that shutdown waits only for requests.
    for (const w of this.watchers) w.end();
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }

  forceStop(): void {
    this.server.forceShutdown();
  }
}
