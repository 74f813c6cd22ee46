#!/usr/bin/env bash
# npm run build:bundle: dist/bundle/vxnet.js, the CLI and the agent in one file (esbuild), which
# bin/vxnet runs when it is there. Node resolved and read ~480 files to start the agent; one file
# takes ~100 ms off every start (an agent's restart is ready that much sooner). dist/cli/main.js and
# the rest of dist/ stay as they are: the tests import them, and bin/vxnet falls back to them.
#
# Left outside the bundle: the netlink package, which finds its native binding next to its own
# files. etcd3 reads its .proto files from `__dirname/../proto` at load: from dist/bundle that is
# dist/proto, where they are copied. @grpc/reflection reads the reflection service's .proto files
# from `__dirname/../../proto/grpc/reflection`: from dist/bundle that is the checkout's (and the
# installed package's) proto/grpc/, where they are copied (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist/bundle dist/proto
# Whitespace and syntax minified, names kept (stack traces still name functions): V8 holds the
# source of the whole file, 2.6 MB as written and 1.6 MB so, which kept the agent's memory 2 MB above
# the unbundled one's; minified it is 1 MB below.
node_modules/.bin/esbuild dist/cli/main.js --bundle --platform=node --target=node20 --external:netlink \
  --minify-whitespace --minify-syntax --outfile=dist/bundle/vxnet.js --log-level=error
mkdir -p dist/proto
cp node_modules/etcd3/proto/*.proto dist/proto/
rm -rf proto/grpc
cp -a node_modules/@grpc/reflection/build/proto/grpc proto/grpc
# V8's code caches of the bundle (cli/start.ts), made by running it the two ways bin/vxnet runs it,
# each under its own node flags (V8 refuses a cache made under others): the agent's path as far as
# its usage text (every module it loads is compiled by then), and a CLI command's.
rm -f dist/bundle/*.cache
VXNET_MAKE_CODE_CACHE=1 bin/vxnet agent --help >/dev/null
VXNET_MAKE_CODE_CACHE=1 bin/vxnet network connect --help >/dev/null
