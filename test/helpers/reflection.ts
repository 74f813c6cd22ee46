import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as protobuf from 'protobufjs';
import * as descriptor from 'protobufjs/ext/descriptor';

// A gRPC client that knows nothing of vxnet: only the server reflection protocol (v1), as grpcurl,
// Postman or an orchestrator's generic client would. Every answer on one stream, one at a time.
const REFLECTION_PROTO = path.join(
  path.dirname(require.resolve('@grpc/reflection/package.json')),
  'build/proto/grpc/reflection/v1/reflection.proto',
);

interface ReflectionAnswer {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

type Stream = grpc.ClientDuplexStream<Record<string, unknown>, ReflectionAnswer>;

export class ReflectionClient {
  private readonly client: grpc.Client & { ServerReflectionInfo(): Stream };
  private readonly target: string;

  constructor(socket: string) {
    this.target = `unix://${socket}`;
    const def = protoLoader.loadSync(REFLECTION_PROTO, { keepCase: false, longs: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
    };
    this.client = new pkg.grpc.reflection.v1.ServerReflection(
      this.target,
      grpc.credentials.createInsecure(),
    ) as unknown as ReflectionClient['client'];
  }

  // One request on a fresh stream, its one answer.
  ask(req: Record<string, unknown>, timeoutMs = 5000): Promise<ReflectionAnswer> {
    return new Promise((resolve, reject) => {
      const call = this.client.ServerReflectionInfo();
      const t = setTimeout(() => {
        call.cancel();
        reject(new Error(`no reflection answer within ${timeoutMs} ms`));
      }, timeoutMs);
      call.once('data', (a: ReflectionAnswer) => {
        clearTimeout(t);
        call.end();
        resolve(a);
      });
      call.once('error', (err: Error) => {
        clearTimeout(t);
        reject(err);
      });
      call.write(req);
    });
  }

  async services(): Promise<string[]> {
    const a = await this.ask({ listServices: '*' });
    return (a.listServicesResponse?.service ?? []).map((s) => s.name).sort();
  }

  // The file descriptors that define `symbol` (and what they import), as protobufjs types.
  async rootFor(symbol: string): Promise<{ root: protobuf.Root; files: descriptor.IFileDescriptorProto[] }> {
    const a = await this.ask({ fileContainingSymbol: symbol });
    if (a.errorResponse) throw new Error(`reflection: ${a.errorResponse.errorMessage} (${a.errorResponse.errorCode})`);
    const files = (a.fileDescriptorResponse?.fileDescriptorProto ?? []).map(
      (b) => descriptor.FileDescriptorProto.decode(b) as unknown as descriptor.IFileDescriptorProto,
    );
    const root = (
      protobuf.Root as unknown as { fromDescriptor(d: descriptor.IFileDescriptorSet): protobuf.Root }
    ).fromDescriptor({ file: files });
    return { root, files };
  }

  // A unary call described by reflection alone: the method's types come from the descriptors.
  async call(service: string, method: string, request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { root } = await this.rootFor(service);
    const m = root.lookupService(service).methods[method];
    if (!m) throw new Error(`${service} has no method ${method}`);
    const reqType = root.lookupType(m.requestType);
    const resType = root.lookupType(m.responseType);
    const generic = new grpc.Client(this.target, grpc.credentials.createInsecure());
    try {
      return await new Promise((resolve, reject) =>
        generic.makeUnaryRequest(
          `/${service}/${method}`,
          (r: Record<string, unknown>) => Buffer.from(reqType.encode(reqType.fromObject(r)).finish()),
          (b: Buffer) => resType.toObject(resType.decode(b), { defaults: true, longs: String, enums: String }),
          request,
          { deadline: Date.now() + 5000 },
          (err, res) => (err ? reject(err) : resolve(res!)),
        ),
      );
    } finally {
      generic.close();
    }
  }

  close(): void {
    this.client.close();
  }
}
