import * as assert from 'assert';
import * as fs from 'fs';
import { useCluster } from '../helpers/cluster';
import { ReflectionClient } from '../helpers/reflection';
import { protoPath } from '../../control/proto';

describe('gRPC server reflection on the agent API', function () {
  this.timeout(30000);
  const cluster = useCluster({ hosts: 1 });
  let r: ReflectionClient;

  before(async () => {
    await cluster().agents[0].client.create({ name: 'refl', ipamConfig: [{ subnet: '10.81.0.0/24' }] });
    r = new ReflectionClient(cluster().agents[0].socket);
  });
  after(() => r?.close());

  it('lists the API services and nothing else', async () => {
    assert.deepStrictEqual(await r.services(), [
      'vxnet.v1.Health',
      'vxnet.v1.NetworkService',
      'vxnet.v1.SystemService',
    ]);
  });

  it('a client that knows only reflection calls NetworkService.List', async () => {
    const res = (await r.call('vxnet.v1.NetworkService', 'List', {})) as { networks: { name: string; id: string }[] };
    const net = res.networks.find((n) => n.name === 'refl');
    assert.ok(net, JSON.stringify(res));
    assert.match(net.id, /^[0-9a-f]{64}$/);
  });

  it('describes exactly the methods of the .proto, with the options other languages need', async () => {
    const { root, files } = await r.rootFor('vxnet.v1.NetworkService');
    const methods = Object.keys(root.lookupService('vxnet.v1.NetworkService').methods).sort();
    const text = fs.readFileSync(protoPath(), 'utf8');
    const block = /service NetworkService \{([^}]*)\}/.exec(text)![1];
    const declared = [...block.matchAll(/rpc (\w+)\(/g)].map((m) => m[1]).sort();
    assert.deepStrictEqual(methods, declared);
    const opts = files.find((f) => f.package === 'vxnet.v1')?.options as Record<string, unknown> | undefined;
    assert.ok(opts, 'no file options');
    assert.match(String(opts.goPackage ?? opts.go_package), /;vxnetv1$/);
    assert.strictEqual(opts.javaPackage ?? opts.java_package, 'dev.vxnet.api.v1');
  });

  it('bad requests get NOT_FOUND and never read a file: an unknown symbol, a path outside', async () => {
    for (const req of [
      { fileContainingSymbol: 'vxnet.v1.NoSuchService' },
      { fileByFilename: '/etc/passwd' },
      { fileByFilename: '../../package.json' },
      { fileContainingExtension: { containingType: 'vxnet.v1.Network', extensionNumber: 999 } },
    ]) {
      const a = await r.ask(req);
      assert.strictEqual(a.errorResponse?.errorCode, 5, `${JSON.stringify(req)}: ${JSON.stringify(a)}`);
      assert.strictEqual(a.fileDescriptorResponse, undefined);
    }
  });
});
