import * as path from 'path';

export function sandboxPath(arg: string): string {
  return arg.includes('/') ? path.resolve(arg) : `/run/netns/${arg}`;
}

// The endpoint's default name: the namespace's name, or "pid-N" for /proc/N/ns/net.
export function sandboxName(p: string): string {
  const proc = /^\/proc\/(\d+)\/(?:task\/\d+\/)?ns\/net$/.exec(p);
  if (proc) return `pid-${proc[1]}`;
  return path.basename(p);
}

export function nextIfname(present: string[]): string {
  for (let i = 0; ; i++) if (!present.includes(`eth${i}`)) return `eth${i}`;
}
