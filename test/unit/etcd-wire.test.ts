import * as assert from 'assert';
import * as path from 'path';
import * as protobuf from 'protobufjs';
import {
  decodeAuthenticateToken,
  decodeRangeResponse,
  decodeWatchResponse,
  encodeAuthenticate,
  encodeRange,
  encodeWatchCreate,
} from '../../control/store/wire';

// The hand-written codec against protobufjs reading etcd's own .proto files (shipped with etcd3).
const protoDir = path.join(path.dirname(require.resolve('etcd3/package.json')), 'proto');
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => path.join(protoDir, path.basename(target));
root.loadSync('rpc.proto', { keepCase: true });
const WatchResponse = root.lookupType('etcdserverpb.WatchResponse');
const WatchRequest = root.lookupType('etcdserverpb.WatchRequest');
const RangeRequest = root.lookupType('etcdserverpb.RangeRequest');
const RangeResponse = root.lookupType('etcdserverpb.RangeResponse');
const AuthenticateRequest = root.lookupType('etcdserverpb.AuthenticateRequest');
const AuthenticateResponse = root.lookupType('etcdserverpb.AuthenticateResponse');

const enc = (t: protobuf.Type, v: Record<string, unknown>): Buffer => Buffer.from(t.encode(t.fromObject(v)).finish());

describe('etcd wire codec (watch, range, authenticate)', () => {
  it('decodes puts, deletes, revisions and an empty value as etcd sends them', () => {
    const buf = enc(WatchResponse, {
      header: {
        cluster_id: '14841639068965178418',
        member_id: '10276657743932975437',
        revision: 9007199254740000,
        raft_term: 7,
      },
      watch_id: 3,
      events: [
        {
          kv: {
            key: Buffer.from('/vxnet/v1/endpoints/n/e1'),
            create_revision: 5,
            mod_revision: 42,
            version: 1,
            value: Buffer.from('{"id":"e1"}'),
            lease: '7587869548375285000',
          },
        },
        {
          type: 1,
          kv: { key: Buffer.from('/vxnet/v1/hosts/h2'), mod_revision: 43 },
          prev_kv: { key: Buffer.from('/vxnet/v1/hosts/h2'), value: Buffer.from('old') },
        },
        { kv: { key: Buffer.from('/vxnet/v1/x'), mod_revision: 44, value: Buffer.alloc(0) } },
      ],
      cancel_reason: '',
      fragment: true, // a field skipped whole: the events after it must still be read
    });
    const r = decodeWatchResponse(buf);
    assert.strictEqual(r.revision, 9007199254740000);
    assert.strictEqual(r.created, false);
    assert.strictEqual(r.canceled, false);
    assert.strictEqual(r.events.length, 3);
    assert.deepStrictEqual(r.events.all(), [
      { deleted: false, key: '/vxnet/v1/endpoints/n/e1', value: '{"id":"e1"}', modRevision: 42 },
      { deleted: true, key: '/vxnet/v1/hosts/h2', value: undefined, modRevision: 43 },
      { deleted: false, key: '/vxnet/v1/x', value: '', modRevision: 44 },
    ]);
    // Read into one object, as the agent does: nothing of the event before stays behind.
    const into = { deleted: false, key: '', value: undefined as string | undefined, modRevision: 0 };
    assert.deepStrictEqual(
      [0, 1, 2, 1].map((i) => ({ ...r.events.read(i, into) })),
      [...r.events.all(), r.events.all()[1]],
    );
  });

  it('decodes created, canceled, compaction and the reason', () => {
    assert.strictEqual(
      decodeWatchResponse(enc(WatchResponse, { header: { revision: 1 }, created: true })).created,
      true,
    );
    const c = decodeWatchResponse(
      enc(WatchResponse, {
        canceled: true,
        compact_revision: 1234,
        cancel_reason: 'mvcc: required revision has been compacted',
      }),
    );
    assert.deepStrictEqual(
      [c.canceled, c.compactRevision, c.cancelReason],
      [true, 1234, 'mvcc: required revision has been compacted'],
    );
  });

  it('refuses a truncated response rather than returning half of it', () => {
    const buf = enc(WatchResponse, {
      events: [{ kv: { key: Buffer.from('/vxnet/v1/k'), value: Buffer.from('v'), mod_revision: 2 } }],
    });
    assert.throws(() => decodeWatchResponse(buf.subarray(0, buf.length - 3)), /truncated/);
  });

  it('encodes a watch of a prefix from a revision as etcd reads it', () => {
    const m = WatchRequest.toObject(
      WatchRequest.decode(encodeWatchCreate(Buffer.from('/vxnet/v1/'), Buffer.from('/vxnet/v10'), 123456789012)),
      { longs: Number, bytes: String },
    );
    assert.deepStrictEqual(m, {
      create_request: {
        key: Buffer.from('/vxnet/v1/').toString('base64'),
        range_end: Buffer.from('/vxnet/v10').toString('base64'),
        start_revision: 123456789012,
      },
    });
  });

  it('encodes a linearizable Range of a prefix and decodes every key, value and revision', () => {
    const m = RangeRequest.toObject(
      RangeRequest.decode(encodeRange(Buffer.from('/vxnet/v1/'), Buffer.from('/vxnet/v10'))),
      { longs: Number, bytes: String, defaults: true },
    );
    assert.deepStrictEqual(
      [m.key, m.range_end, m.limit, m.revision, m.serializable, m.keys_only],
      [Buffer.from('/vxnet/v1/').toString('base64'), Buffer.from('/vxnet/v10').toString('base64'), 0, 0, false, false],
    );
    const kvs: [string, string, number][] = [];
    const r = decodeRangeResponse(
      enc(RangeResponse, {
        header: { cluster_id: '14841639068965178418', revision: 9007199254740000 },
        kvs: [
          {
            key: Buffer.from('/vxnet/v1/networks/n1'),
            create_revision: 3,
            mod_revision: 7,
            version: 2,
            value: Buffer.from('{"id":"n1"}'),
          },
          {
            key: Buffer.from('/vxnet/v1/hosts/h1'),
            mod_revision: 8,
            value: Buffer.alloc(0),
            lease: '7587869548375285000',
          },
          { key: Buffer.from('/vxnet/v1/hosts/h2'), value: Buffer.from('{}') },
        ],
        count: 3,
      }),
      (key, value, modRevision) => kvs.push([key, value, modRevision]),
    );
    assert.strictEqual(r.revision, 9007199254740000);
    assert.strictEqual(r.more, false);
    assert.deepStrictEqual(kvs, [
      ['/vxnet/v1/networks/n1', '{"id":"n1"}', 7],
      ['/vxnet/v1/hosts/h1', '', 8],
      ['/vxnet/v1/hosts/h2', '{}', 0],
    ]);
    assert.strictEqual(
      decodeRangeResponse(enc(RangeResponse, { more: true }), () => assert.fail('no keys')).more,
      true,
    );
    const buf = enc(RangeResponse, { kvs: [{ key: Buffer.from('/vxnet/v1/k'), value: Buffer.from('v') }] });
    assert.throws(() => decodeRangeResponse(buf.subarray(0, buf.length - 2), () => undefined), /truncated/);
  });

  it('encodes Authenticate and reads its token', () => {
    assert.deepStrictEqual(
      AuthenticateRequest.toObject(AuthenticateRequest.decode(encodeAuthenticate('vxnet', 'pä55'))),
      { name: 'vxnet', password: 'pä55' },
    );
    assert.strictEqual(
      decodeAuthenticateToken(enc(AuthenticateResponse, { header: { revision: 3 }, token: 'abc.123' })),
      'abc.123',
    );
  });
});
