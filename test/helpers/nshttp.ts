import { execFileSync } from 'child_process';

// An HTTP GET from inside a network namespace: the agents' metrics and the test's Prometheus listen
// on addresses only that namespace reaches. A Node process per call keeps the test process in its
// own namespace.
export function nsGet(ns: string, url: string): { status: number; body: string } {
  const js = `require('http').get(${JSON.stringify(url)},r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>{process.stdout.write(JSON.stringify({status:r.statusCode,body:b}))})}).on('error',e=>{process.stdout.write(JSON.stringify({status:0,body:e.message}))})`;
  const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', js], {
    encoding: 'utf8',
    timeout: 10000,
  });
  return JSON.parse(out) as { status: number; body: string };
}
