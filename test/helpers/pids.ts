import { execFileSync } from 'child_process';

// Starts a process in a network namespace of its own with the PID `pid` (free again, its holder
// ended): the kernel hands out the PID after ns_last_pid next, so setting it just below and forking
// at once takes it unless another fork on the machine came first; tried a bounded number of times.
// Returns whether it got the PID; the process is the caller's to kill.
export function takePid(pid: number, tries = 50): boolean {
  for (let i = 0; i < tries; i++) {
    const out = execFileSync(
      'sh',
      [
        '-c',
        `echo ${pid - 1} > /proc/sys/kernel/ns_last_pid; unshare --net sleep 1000 </dev/null >/dev/null 2>&1 & echo $!`,
      ],
      { encoding: 'utf8', timeout: 5000 },
    ).trim();
    const got = Number(out);
    if (got === pid) return true;
    killPid(got);
  }
  return false;
}

export function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* ended already */
  }
}
