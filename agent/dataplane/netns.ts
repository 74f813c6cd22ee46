import * as fs from 'fs';
import { createRtNetlink, RtNetlinkSocket } from 'netlink';
import { invalid, notFound } from '../../control/errors';
import type { NetnsIdentity } from '../../control/model';
import { nativeAddon } from './native';
import type { NativeAddon } from './native';

let homeFd = -1;

function init(): NativeAddon {
  const a = nativeAddon();
  // The thread's own namespace, opened once: the way back after every switch.
  if (homeFd < 0) homeFd = fs.openSync(`/proc/self/task/${a.gettid()}/ns/net`, 'r');
  return a;
}

type Identity = Pick<NetnsIdentity, 'dev' | 'ino'>;

// The identity of whatever is at `nsPath` now (a stat, no open), or undefined when nothing is: the
// cheap look that tells a namespace that ended from one that still lives.
export function pathIdentity(nsPath: string): Identity | undefined {
  try {
    const st = fs.statSync(nsPath, { throwIfNoEntry: false });
    return st ? { dev: st.dev, ino: st.ino } : undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ESRCH') return undefined;
    throw err;
  }
}

// Refuses an open file that is not the namespace the endpoint was connected in: the path was
// looked at before, and may name another namespace by the time it is opened.
export function checkIdentity(fd: number, nsPath: string, expect: Identity | undefined): Identity {
  const st = fs.fstatSync(fd);
  if (expect && (st.dev !== expect.dev || st.ino !== expect.ino))
    throw notFound(`sandbox ${nsPath} now names another network namespace than the one connected`);
  return { dev: st.dev, ino: st.ino };
}

// Runs `fn` synchronously with the main thread inside the network namespace at `nsPath`. A netlink
// socket created in `fn` stays bound to that namespace after we switch back. Nothing asynchronous
// can run in between, so no other socket is ever created in the wrong namespace. `fn` is given the
// identity of the namespace entered; with `expect`, another namespace is refused before entering.
export function withNetns<T>(nsPath: string, fn: (id: Identity) => T, expect?: Identity): T {
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
    const id = checkIdentity(fd, nsPath, expect);
    try {
      a.setns(fd, a.CLONE_NEWNET);
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e.code === 'EINVAL') throw invalid(`sandbox ${nsPath} is not a network namespace`);
      throw invalid(`cannot enter sandbox ${nsPath}: ${e.message}`);
    }
    try {
      return fn(id);
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

const SOCKET_OPTS = { recvBufferSize: 4 << 20, sendBufferSize: 1 << 20 };

export function openRtNetlink(nsPath?: string, expect?: Identity): RtNetlinkSocket {
  return nsPath ? withNetns(nsPath, () => createRtNetlink(SOCKET_OPTS), expect) : createRtNetlink(SOCKET_OPTS);
}

// A socket in the sandbox and the identity of the namespace it was made in (what Connect records).
export function openIdentified(nsPath: string): { sock: RtNetlinkSocket; netns: Identity } {
  return withNetns(nsPath, (netns) => ({ sock: createRtNetlink(SOCKET_OPTS), netns }));
}
