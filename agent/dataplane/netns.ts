import * as fs from 'fs';
import * as path from 'path';
import { createRtNetlink, RtNetlinkSocket } from 'netlink';
import { invalid, notFound } from '../../control/errors';

interface NativeAddon {
  setns(fd: number, nstype: number): void;
  gettid(): number;
  CLONE_NEWNET: number;
}

// native/build/Release/vxnet_native.node, from dist/agent/dataplane or agent/dataplane.
function loadAddon(): NativeAddon {
  const candidates = [
    path.resolve(__dirname, '..', '..', '..', 'native', 'build', 'Release', 'vxnet_native.node'),
    path.resolve(__dirname, '..', '..', 'native', 'build', 'Release', 'vxnet_native.node'),
  ];
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a native addon is loaded by path
  for (const c of candidates) if (fs.existsSync(c)) return require(c) as NativeAddon;
  throw new Error(`native addon vxnet_native.node not built (looked in ${candidates.join(', ')}): run npm run build`);
}

let addon: NativeAddon | undefined;
let homeFd = -1;

function init(): NativeAddon {
  if (!addon) {
    addon = loadAddon();
    // The thread's own namespace, opened once: the way back after every switch.
    homeFd = fs.openSync(`/proc/self/task/${addon.gettid()}/ns/net`, 'r');
  }
  return addon;
}

// Runs `fn` synchronously with the main thread inside the network namespace at `nsPath`. A netlink
// socket created in `fn` stays bound to that namespace after we switch back. Nothing asynchronous
// can run in between, so no other socket is ever created in the wrong namespace.
export function withNetns<T>(nsPath: string, fn: () => T): T {
  const a = init();
  let fd: number;
  try {
    fd = fs.openSync(nsPath, 'r');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw notFound(`sandbox ${nsPath} does not exist`);
    throw invalid(`cannot open sandbox ${nsPath}: ${e.message}`);
  }
  try {
    try {
      a.setns(fd, a.CLONE_NEWNET);
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e.code === 'EINVAL') throw invalid(`sandbox ${nsPath} is not a network namespace`);
      throw invalid(`cannot enter sandbox ${nsPath}: ${e.message}`);
    }
    try {
      return fn();
    } finally {
      try {
        a.setns(homeFd, a.CLONE_NEWNET);
      } catch (err) {
        // Staying in the sandbox would send all further I/O of the agent there: stop instead.
        process.stderr.write(`fatal: cannot return to the agent's network namespace: ${(err as Error).message}\n`);
        process.abort();
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

// Throws NOT_FOUND / INVALID_ARGUMENT unless `nsPath` is a network namespace.
export function checkNetns(nsPath: string): void {
  withNetns(nsPath, () => undefined);
}

export function openRtNetlink(nsPath?: string): RtNetlinkSocket {
  const opts = { recvBufferSize: 4 << 20, sendBufferSize: 1 << 20 };
  return nsPath ? withNetns(nsPath, () => createRtNetlink(opts)) : createRtNetlink(opts);
}
