import { ChildProcessWithoutNullStreams, spawn } from 'child_process';
import * as path from 'path';
import { ROOT } from '../test/helpers/agent';

const FIRSTREPLY = path.join(ROOT, 'native/build/Release/vxnet-firstreply');

// What every benchmark section shares: the figures of this run, how they are summarised and printed.

export interface Figure {
  name: string;
  unit: string;
  median: number;
  p99: number;
  n: number;
  reference?: string;
  refMedian?: number;
  refP99?: number;
  ratio?: number;
  target?: string;
  met?: boolean;
  section?: string; // the bench section it belongs to: one chart each
}
export const figures: Figure[] = [];

let currentSection = '';
// Figures recorded from now on belong to `name` (bench/run.ts names each section).
export function beginSection(name: string): void {
  currentSection = name;
}

export function stats(xs: number[]): { median: number; p99: number; n: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return { median: q(0.5), p99: q(0.99), n: s.length };
}
export const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;
export const now = (): number => Number(process.hrtime.bigint()) / 1e6;

export function record(f: Figure): void {
  if (currentSection && !f.section) f.section = currentSection;
  figures.push(f);
  const ref =
    f.refMedian !== undefined
      ? ` | ${f.reference}: ${round(f.refMedian)} ${f.unit} (p99 ${round(f.refP99 ?? NaN)}) | ratio ${round(f.ratio ?? NaN, 3)}`
      : '';
  console.log(
    `  ${f.name}: median ${round(f.median)} ${f.unit}, p99 ${round(f.p99)}, n ${f.n}${ref}${f.target ? ` | target ${f.target}: ${f.met ? 'met' : 'NOT met'}` : ''}`,
  );
}

// A pinger started ahead inside a namespace (a name for `ip netns exec`, or a path such as
// /proc/PID/ns/net) by native/first-reply.c: `first(ip)` sends echo requests
// every 5 ms from the moment it is called and resolves with the time of the first reply (NaN after
// 3 s). Started ahead so that the figure is the network's: spawning `ip netns exec ... ping` from
// the bench's Node process after each Connect took 10-20 ms on this machine, a third of the target.
export class Pinger {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly waiting: ((line: string) => void)[] = [];
  private buf = '';
  readonly ready: Promise<void>;

  constructor(ns: string) {
    const enter = ns.startsWith('/') ? ['nsenter', `--net=${ns}`] : ['ip', 'netns', 'exec', ns];
    this.proc = spawn(enter[0], [...enter.slice(1), FIRSTREPLY]);
    this.proc.stderr.on('data', (d: Buffer) => process.stderr.write(d));
    this.proc.stdout.on('data', (d: Buffer) => {
      const lines = (this.buf + d.toString()).split('\n');
      this.buf = lines.pop() ?? '';
      for (const line of lines) this.waiting.shift()?.(line);
    });
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${FIRSTREPLY} did not start within 5 s`)), 5000);
      this.waiting.push((line) => {
        clearTimeout(timer);
        if (line === 'ready') resolve();
        else reject(new Error(`${FIRSTREPLY} did not start: ${line}`));
      });
    });
    // A pinger gone answers every call still waiting as if no reply came, so that no figure hangs.
    this.proc.on('exit', (code) => {
      for (const w of this.waiting.splice(0)) w(`exited (${code})`);
    });
  }

  first(ip: string): Promise<number> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return Promise.resolve(NaN);
    return new Promise((resolve) => {
      this.waiting.push((line) => resolve(/^\d/.test(line) ? Number(line) * 1000 : NaN)); // CLOCK_MONOTONIC, as now()
      this.proc.stdin.write(`${ip}\n`);
    });
  }

  close(): void {
    this.proc.kill();
  }
}
