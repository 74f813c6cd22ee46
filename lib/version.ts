import * as fs from 'fs';
import * as path from 'path';

let cached: string | undefined;

// vxnet's version, from package.json. Both layouts put it two levels up: dist/<dir>/x.js when run
// from dist/, dist/bundle/vxnet.js when bundled; one level up is the source tree (lib/version.ts).
export function version(): string {
  if (cached !== undefined) return cached;
  cached = 'unknown';
  for (const p of [path.join(__dirname, '..', '..', 'package.json'), path.join(__dirname, '..', 'package.json')]) {
    try {
      cached = (JSON.parse(fs.readFileSync(p, 'utf8')) as { version: string }).version;
      break;
    } catch {
      /* next candidate */
    }
  }
  return cached;
}
