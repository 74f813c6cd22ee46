import * as assert from 'assert';
import { keys, parseKey, PREFIX } from '../../control/store/keys';

describe('parsing watched keys', () => {
  it('names what each key is', () => {
    assert.deepStrictEqual(parseKey(keys.network('n1')), { kind: 'network', id: 'n1' });
    assert.deepStrictEqual(parseKey(keys.endpoint('n1', 'e1')), { kind: 'endpoint', networkId: 'n1', id: 'e1' });
    assert.deepStrictEqual(parseKey(keys.host('h1')), { kind: 'host', name: 'h1' });
    assert.deepStrictEqual(parseKey(keys.reconciled('h1')), { kind: 'reconciled', name: 'h1' });
    assert.deepStrictEqual(parseKey(keys.alive('h1')), { kind: 'alive', name: 'h1' });
    assert.deepStrictEqual(parseKey(keys.down('h1')), { kind: 'down', name: 'h1' });
  });

  it('anything else is other: claims, names, deeper or shallower paths, look-alike prefixes', () => {
    for (const k of [
      keys.ipam('n1', '10.0.0.1'),
      keys.name('x'),
      keys.vni(5),
      keys.epName('n1', 'a'),
      keys.dockerNetwork('d'),
      keys.reservation('h', 'n', '10.0.0.2'),
      `${PREFIX}networks/n1/x`,
      `${PREFIX}endpoints/n1`,
      `${PREFIX}endpoints/n1/e1/x`,
      `${PREFIX}hosts/h1/x`,
      `${PREFIX}networksx/n1`,
      `${PREFIX}hostsx/h`,
      `${PREFIX}networks`,
      '/other/networks/n1',
      PREFIX,
    ]) {
      assert.deepStrictEqual(parseKey(k), { kind: 'other' }, k);
    }
  });
});
