import * as assert from 'assert';
import * as path from 'path';
import * as protobuf from 'protobufjs';
import { decodeWatchResponse } from '../../control/store/wire';
import { applyChange, UnreadableChange, ViewBatch } from '../../control/store/view-change';
import type { ViewChange } from '../../control/store/view-change';
import type { ClusterView } from '../../control/store/store';
import { keys } from '../../control/store/keys';
import { epRecord, hostRecord, netRecord, snapshot } from '../helpers/records';
import type { EndpointRecord } from '../../control/model';

const protoDir = path.join(path.dirname(require.resolve('etcd3/package.json')), 'proto');
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => path.join(protoDir, path.basename(target));
root.loadSync('rpc.proto', { keepCase: true });
const WatchResponse = root.lookupType('etcdserverpb.WatchResponse');

type Ev = { key: string; value?: string; rev: number; deleted?: boolean };
const batch = (events: Ev[]): ViewBatch =>
  new ViewBatch(
    decodeWatchResponse(
      Buffer.from(
        WatchResponse.encode(
          WatchResponse.fromObject({
            header: { revision: 99 },
            events: events.map((e) => ({
              ...(e.deleted ? { type: 1 } : {}),
              kv: {
                key: Buffer.from(e.key),
                ...(e.value !== undefined ? { value: Buffer.from(e.value) } : {}),
                mod_revision: e.rev,
              },
            })),
          }),
        ).finish(),
      ),
    ),
  );
const emptyView = (): ClusterView => snapshot([], [], [], 0);

const ep: EndpointRecord = epRecord({
  id: 'e1',
  networkId: 'n1',
  name: 'c1',
  host: 'h2',
  mac: '02:00:00:00:00:01',
  ipv4: '10.1.0.2/24',
});

// The watch as the agent's view receives it: keys and wire decoded in the store, one change at a time.
describe('view changes from a watch response (control/store/view-change)', () => {
  it('decodes each kind, applies it and says what the view held before', () => {
    const net = netRecord('n1', 100, '10.1.0.0/24');
    const b = batch([
      { key: keys.network('n1'), value: JSON.stringify(net), rev: 2 },
      { key: keys.endpoint('n1', 'e1'), value: JSON.stringify(ep), rev: 3 },
      { key: keys.host('h2'), value: JSON.stringify(hostRecord('h2', '192.168.0.2')), rev: 4 },
      { key: keys.reconciled('h2'), value: JSON.stringify({ revision: 3 }), rev: 5 },
      { key: keys.name('blue'), value: JSON.stringify('n1'), rev: 6 },
      { key: keys.endpoint('n1', 'e1'), rev: 7, deleted: true },
    ]);
    assert.strictEqual(b.revision, 99);
    const view = emptyView();
    const got: unknown[] = [];
    let first: ViewChange | undefined;
    for (let i = 0; i < b.length; i++) {
      const c = b.read(i);
      first ??= c;
      assert.strictEqual(c, first, 'one reused object');
      applyChange(view, c);
      got.push([
        c.kind,
        c.id,
        c.deleted,
        c.revision,
        c.changed,
        c.record === undefined ? undefined : c.kind,
        c.previous === undefined ? undefined : c.kind,
      ]);
    }
    assert.deepStrictEqual(got, [
      ['network', 'n1', false, 2, true, 'network', undefined],
      ['endpoint', 'e1', false, 3, true, 'endpoint', undefined],
      ['host', 'h2', false, 4, true, 'host', undefined],
      ['reconciled', 'h2', false, 5, false, 'reconciled', undefined],
      ['other', '', false, 6, false, undefined, undefined],
      ['endpoint', 'e1', true, 7, true, undefined, 'endpoint'],
    ]);
    assert.deepStrictEqual(
      [view.networks.get('n1'), view.endpoints.size, view.hosts.has('h2'), view.reconciled.get('h2')],
      [net, 0, true, 3],
    );
  });

  it('a record that is not one vxnet wrote: UnreadableChange naming its key', () => {
    const b = batch([{ key: keys.endpoint('n1', 'e9'), value: 'not json', rev: 2 }]);
    assert.throws(
      () => b.read(0),
      (e: unknown) => e instanceof UnreadableChange && e.key === keys.endpoint('n1', 'e9'),
    );
  });
});
