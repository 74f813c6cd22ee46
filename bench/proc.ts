// Child processes timed, and the measured agent's memory and CPU read from /proc.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { now } from './figures';

export function timeCmd(
  cmd: string,
  args: string[],
  input?: string,
  env?: NodeJS.ProcessEnv,
): { ms: number; out: string; code: number | null } {
  const t0 = now();
  const r = spawnSync(cmd, args, { input, env: env ?? process.env, encoding: 'utf8', timeout: 60000 });
  return { ms: now() - t0, out: `${r.stdout}${r.stderr}`, code: r.status };
}

export function procStats(pid: number): { rssMb: number; peakMb: number; anonMb: number; cpuS: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const anon = Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  const peak = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const tick = 100;
  return { rssMb: rss, peakMb: peak, anonMb: anon, cpuS: (Number(stat[11]) + Number(stat[12])) / tick };
}
