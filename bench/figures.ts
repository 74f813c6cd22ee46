import { spawn } from 'child_process';

// What every benchmark section shares: the figures of this run, how they are summarised and printed.

export interface Figure { name: string; unit: string; median: number; p99: number; n: number; reference?: string; refMedian?: number; refP99?: number; ratio?: number; target?: string; met?: boolean }
export const figures: Figure[] = [];

export function stats(xs: number[]): { median: number; p99: number; n: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return { median: q(0.5), p99: q(0.99), n: s.length };
}
export const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;
export const now = (): number => Number(process.hrtime.bigint()) / 1e6;

export function record(f: Figure): void {
  figures.push(f);
  const ref = f.refMedian !== undefined ? ` | ${f.reference}: ${round(f.refMedian)} ${f.unit} (p99 ${round(f.refP99 ?? NaN)}) | ratio ${round(f.ratio ?? NaN, 3)}` : '';
  console.log(`  ${f.name}: median ${round(f.median)} ${f.unit}, p99 ${round(f.p99)}, n ${f.n}${ref}${f.target ? ` | target ${f.target}: ${f.met ? 'met' : 'NOT met'}` : ''}`);
}

// The first ping reply from inside a namespace (`ip netns exec NAME` or a path such as
// /proc/PID/ns/net) to `ip`, on the monotonic clock of now(); NaN if none within 3 s.
export function firstReply(fromNs: string, ip: string): Promise<number> {
  return new Promise((resolve) => {
    const enter = fromNs.startsWith('/') ? ['nsenter', `--net=${fromNs}`] : ['ip', 'netns', 'exec', fromNs];
    const p = spawn(enter[0], [...enter.slice(1), 'ping', '-n', '-D', '-i', '0.005', '-w', '3', ip]);
    let buf = '';
    let done = false;
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /^\[(\d+\.\d+)\] \d+ bytes from/m.exec(buf);
      if (m && !done) {
        done = true;
        // ping's wall-clock stamp, mapped onto our monotonic clock through the current offset.
        resolve(now() - (Date.now() - Number(m[1]) * 1000));
        p.kill('SIGKILL');
      }
    });
    p.on('exit', () => {
      if (!done) resolve(NaN);
    });
  });
}
