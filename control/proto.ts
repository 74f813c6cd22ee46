import * as fs from 'fs';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './generated/vxnet';

// Loaded at run time with the same options that generated control/generated (proto-loader-gen-types):
// the TypeScript types come from the .proto, so messages are typed without a second source of truth.
export const LOADER_OPTIONS: protoLoader.Options = {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

// dist/control/proto.js and control/proto.ts both sit two levels below the checkout's root.
export function protoPath(): string {
  const fromDist = path.resolve(__dirname, '..', '..', 'proto', 'vxnet', 'v1', 'vxnet.proto');
  const fromSrc = path.resolve(__dirname, '..', 'proto', 'vxnet', 'v1', 'vxnet.proto');
  return fs.existsSync(fromDist) ? fromDist : fromSrc;
}

let definition: protoLoader.PackageDefinition | undefined;
export function packageDefinition(): protoLoader.PackageDefinition {
  return (definition ??= protoLoader.loadSync(protoPath(), LOADER_OPTIONS));
}

let cached: ProtoGrpcType | undefined;
export function loadProto(): ProtoGrpcType {
  return (cached ??= grpc.loadPackageDefinition(packageDefinition()) as unknown as ProtoGrpcType);
}
