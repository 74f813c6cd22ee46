import type { NetnsIdentity } from '../control/model';

// A sandbox is the network namespace that Connect opened, not the path it was given: a path can
// name another namespace later (a /proc/<pid>/ns/net whose PID was taken by another process, a
// /run/netns/NAME deleted and created again, another namespace bind-mounted over it). The
// identity is what `ip netns identify` and the CNI spec's CHECK compare: the device and inode of
// the namespace's nsfs file.

// same:    the path still names the namespace Connect opened.
// gone:    the path names nothing, or another namespace: the sandbox ended.
// unknown: nothing to compare with (a record written before identities were recorded), or the
//          path was only reachable through the runtime's mount namespace (`hidden`).
export type SandboxFate = 'same' | 'gone' | 'unknown';

// What a stat of the path gives now: undefined when nothing is there.
export type PathIdentity = Pick<NetnsIdentity, 'dev' | 'ino'> | undefined;

export function sandboxFate(recorded: NetnsIdentity | undefined, now: PathIdentity): SandboxFate {
  // A hidden path is not visible to the agent at all, so its absence here says nothing.
  if (!now) return recorded?.hidden ? 'unknown' : 'gone';
  if (!recorded) return 'unknown';
  if (now.dev === recorded.dev && now.ino === recorded.ino) return 'same';
  // What the agent sees under a hidden path is its own mount namespace's file, which may be
  // another namespace than the runtime's under the same name.
  return recorded.hidden ? 'unknown' : 'gone';
}

// Words for the log line of a release.
export function fateReason(recorded: NetnsIdentity | undefined, now: PathIdentity): string {
  if (!now) return 'the sandbox path no longer exists';
  if (recorded && !recorded.hidden)
    return `the sandbox path now names another network namespace (inode ${now.ino}, connected was ${recorded.ino})`;
  return 'the sandbox cannot be identified';
}
