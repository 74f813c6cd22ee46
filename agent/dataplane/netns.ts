import * as fs from 'fs';
import { createRtNetlink, RtNetlinkSocket } from 'netlink';
import { invalid, notFound } from '../../control/errors';
import { nativeAddon } from './native';
import type { NativeAddon } from './native';

let homeFd = -1;

function init(): NativeAddon {
  const a = nativeAddon();
  // The thread's own namespace, opened once: the way back after every switch.
  if (homeFd < 0) homeFd = fs.openSync(`/proc/self/task/${a.gettid()}/ns/net`, 'r');
  return a;
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
