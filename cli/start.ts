// Starts the one-file build (dist/bundle/vxnet.js) with a V8 code cache made for it at build time
// (scripts/bundle.sh): V8 then skips compiling the ~1 MB source and every function that ran while
// the cache was made. An agent reaches its start ~35 ms sooner on this machine (255 ms after node
// began, against 290), a CLI command ~25 ms. Without a usable cache it compiles as
// `node dist/bundle/vxnet.js` would.
//
// One cache per way bin/vxnet runs node: V8 refuses a cache made under other flags, and the agent
// runs with its own (bin/vxnet). The build makes `agent.cache` under the agent's flags and
// `cli.cache` under none; the first argument picks one as bin/vxnet picks the flags.
import * as fs from 'fs';
import Module from 'module';
import * as path from 'path';
import * as vm from 'vm';

const BUNDLE = path.join(__dirname, '..', 'bundle', 'vxnet.js');

// The cache file: the bundle's size and modification time, then V8's data. V8 itself checks only
// the source's length, and a cache of another build of the same length would run that build's
// code; the build writes both files together (and install.sh copies them with their times). A
// SHA-1 of the source would be surer, and took 6 ms of the 35 that the cache saves.
function cachePath(kind: string): string {
  return path.join(path.dirname(BUNDLE), `${kind}.cache`);
}

function run(): void {
  const source = fs.readFileSync(BUNDLE, 'utf8');
  const st = fs.statSync(BUNDLE);
  const stamp = Buffer.alloc(16);
  stamp.writeDoubleLE(st.size, 0);
  stamp.writeDoubleLE(st.mtimeMs, 8);
  const kind = process.argv[2] === 'agent' ? 'agent' : 'cli';
  const make = process.env.VXNET_MAKE_CODE_CACHE === '1';
  let cachedData: Buffer | undefined;
  if (!make) {
    try {
      const file = fs.readFileSync(cachePath(kind));
      if (file.subarray(0, 16).equals(stamp)) cachedData = file.subarray(16);
    } catch {
      /* no cache: compile */
    }
  }
  const script = new vm.Script(Module.wrap(source), { filename: BUNDLE, ...(cachedData ? { cachedData } : {}) });
  if (make) {
    // At exit: the cache then holds every function compiled so far, not only the top level.
    process.once('exit', () => fs.writeFileSync(cachePath(kind), Buffer.concat([stamp, script.createCachedData()])));
  }
  // As Node's loader runs a main module: its own require (resolving from the bundle's directory,
  // where `netlink` is found), require.main set, __dirname the bundle's (etcd3 reads dist/proto).
  const mod = new Module(BUNDLE, undefined);
  mod.filename = BUNDLE;
  const req = Module.createRequire(BUNDLE);
  req.main = mod;
  process.argv[1] = BUNDLE;
  const wrapper = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: Module,
    filename: string,
    dirname: string,
  ) => void;
  wrapper.call(mod.exports, mod.exports, req, mod, BUNDLE, path.dirname(BUNDLE));
}

run();
