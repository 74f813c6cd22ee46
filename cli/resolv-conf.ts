import * as fs from 'fs';

// /etc/netns/NAME/resolv.conf: what `ip netns exec NAME` bind-mounts over /etc/resolv.conf. Written
// for a sandbox named under /run/netns (not a path: a /proc/PID namespace belongs to a runtime that
// writes its own), and only over a file vxnet wrote: one made by hand is left alone. A sandbox on
// several networks keeps the first one's resolver (it answers for all of the sandbox's networks);
// a disconnect that leaves others rewrites it for one of those.
const MARK = '# vxnet: the resolver of the network this namespace is connected to';

export interface Dns {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function resolvConfText(d: Dns): string {
  return [
    MARK,
    ...d.nameservers.map((n) => `nameserver ${n}`),
    ...(d.search.length ? [`search ${d.search.join(' ')}`] : []),
    ...(d.options.length ? [`options ${d.options.join(' ')}`] : []),
    '',
  ].join('\n');
}

function fileOf(sandbox: string, root: string): string | undefined {
  if (sandbox.includes('/') || !/^[A-Za-z0-9_.-]+$/.test(sandbox) || sandbox.startsWith('.')) return undefined;
  return `${root}/${sandbox}/resolv.conf`;
}

function ours(file: string): boolean | undefined {
  try {
    return fs.readFileSync(file, 'utf8').startsWith(MARK);
  } catch {
    return undefined; // absent
  }
}

export function writeNetnsResolvConf(sandbox: string, d: Dns, o: { replace: boolean }, root = '/etc/netns'): void {
  const file = fileOf(sandbox, root);
  const mine = file && ours(file);
  if (!file || !d.nameservers.length || mine === false || (mine && !o.replace)) return;
  fs.mkdirSync(`${root}/${sandbox}`, { recursive: true });
  fs.writeFileSync(`${file}.tmp`, resolvConfText(d));
  fs.renameSync(`${file}.tmp`, file);
}

export function removeNetnsResolvConf(sandbox: string, root = '/etc/netns'): void {
  const file = fileOf(sandbox, root);
  if (!file || !ours(file)) return;
  fs.rmSync(file, { force: true });
  try {
    fs.rmdirSync(`${root}/${sandbox}`); // only when empty: other files there are not vxnet's
  } catch {
    // not empty, or gone
  }
}
