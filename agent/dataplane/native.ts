import * as fs from 'fs';
import * as path from 'path';

// native/setns.cc, memory.cc and announce.cc: what Node has no binding for.
export interface NativeAddon {
  setns(fd: number, nstype: number): void;
  gettid(): number;
  trimMemory(): boolean;
  reduceHeap(): void;
  sendFrames(ifindex: number, frames: Buffer, frameLength: number): number;
  CLONE_NEWNET: number;
}

let addon: NativeAddon | undefined;

// native/build/Release/vxnet_native.node, from dist/agent/dataplane or agent/dataplane.
export function nativeAddon(): NativeAddon {
  if (addon) return addon;
  const candidates = [
    path.resolve(__dirname, '..', '..', '..', 'native', 'build', 'Release', 'vxnet_native.node'),
    path.resolve(__dirname, '..', '..', 'native', 'build', 'Release', 'vxnet_native.node'),
  ];
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a native addon is loaded by path
  for (const c of candidates) if (fs.existsSync(c)) return (addon = require(c) as NativeAddon);
  throw new Error(`native addon vxnet_native.node not built (looked in ${candidates.join(', ')}): run npm run build`);
}
