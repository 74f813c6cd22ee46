import * as assert from 'assert';
import type { Etcd3 } from 'etcd3';
import { startEtcd, EtcdCluster } from '../helpers/etcd';
import { Store } from '../../control/store/store';
import type { WatchedKey, WatchResponse } from '../../control/store/wire';

// The agent's own watch stream (control/store/watch.ts) against a real etcd: what a reload relies on.
describe('etcd watch stream (real etcd)', function () {
  this.timeout(60000);
  let etcd: EtcdCluster;
  let kv: Etcd3;
  let store: Store;

  before(async () => {
    etcd = await startEtcd(1);
    kv = etcd.client();
    store = new Store({ endpoints: etcd.unixUrls, callTimeoutMs: 3000 });
  });
  after(async () => {
    store?.close();
    kv?.close();
    await etcd?.stop();
  });

  const collect = (): {
    got: WatchedKey[];
    revisions: number[];
    errors: Error[];
    on: { data: (r: WatchResponse) => void; error: (e: Error) => void };
  } => {
    const got: WatchedKey[] = [];
    const revisions: number[] = [];
    const errors: Error[] = [];
    return {
      got,
      revisions,
      errors,
      on: { data: (r) => (got.push(...r.events.all()), revisions.push(r.revision)), error: (e) => errors.push(e) },
    };
  };
  const until = async (what: string, ok: () => boolean, ms = 10000): Promise<void> => {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('delivers every event since the start revision, in order, including those etcd sends right behind its confirmation', async () => {
    const first = Number((await kv.put('/w1/start').value('x').exec()).header.revision);
    // etcd allows 128 operations per transaction.
    for (let i = 0; i < 2000; i += 100) {
      await kv.kv.txn({
        compare: [],
        success: Array.from({ length: 100 }, (_, j) => ({
          request_put: { key: Buffer.from(`/w1/k${i + j}`), value: Buffer.from(`v${i + j}`) },
        })),
        failure: [],
      });
    }
    await kv.delete().key('/w1/k7').exec();
    const c = collect();
    const w = await store.watchPrefix('/w1/', first + 1, c.on);
    try {
      await until('2001 events', () => c.got.length >= 2001);
      assert.strictEqual(c.got.length, 2001);
      assert.deepStrictEqual(
        c.got.slice(0, 2000).map((e) => [e.key, e.value?.toString()]),
        Array.from({ length: 2000 }, (_, i) => [`/w1/k${i}`, `v${i}`]),
      );
      assert.deepStrictEqual([c.got[2000].key, c.got[2000].deleted, c.got[2000].value], ['/w1/k7', true, undefined]);
      // Live changes after the history, and a revision in every response.
      await kv.put('/w1/late').value('y').exec();
      await until('the live event', () => c.got.length === 2002);
      assert.strictEqual(c.got[2001].key, '/w1/late');
      assert.ok(c.revisions.every((r) => r > first));
      assert.deepStrictEqual(c.errors, []);
    } finally {
      w.cancel();
    }
  });

  it('after cancel, nothing more: no event, no error', async () => {
    const c = collect();
    const w = await store.watchPrefix('/w2/', 1, c.on);
    w.cancel();
    await kv.put('/w2/a').value('1').exec();
    await new Promise((r) => setTimeout(r, 300));
    assert.deepStrictEqual([c.got.length, c.errors.length], [0, 0]);
  });

  it('reports compaction of the start revision (the agent then loads again)', async () => {
    await kv.put('/w3/a').value('1').exec();
    const rev = Number((await kv.put('/w3/a').value('2').exec()).header.revision);
    await kv.kv.compact({ revision: rev });
    const compacted: number[] = [];
    const w = await store.watchPrefix('/w3/', rev - 1, {
      data: (r) => compacted.push(r.compactRevision),
      error: () => undefined,
    });
    try {
      await until('the compaction notice', () => compacted.some((x) => x > 0));
    } finally {
      w.cancel();
    }
  });

  it('an etcd that goes away ends the watch with one error', async () => {
    const c = collect();
    const w = await store.watchPrefix('/w4/', 0, c.on); // 0: from now on
    try {
      await etcd.stopMember(0);
      await until('the error', () => c.errors.length > 0);
      await new Promise((r) => setTimeout(r, 300));
      assert.strictEqual(c.errors.length, 1);
    } finally {
      w.cancel();
      await etcd.startMember(0);
    }
    // And a new one works once etcd is back.
    const d = collect();
    const from = Number((await kv.put('/w4/a').value('1').exec()).header.revision);
    const w2 = await store.watchPrefix('/w4/', from + 1, d.on);
    await kv.put('/w4/b').value('1').exec();
    await until('an event after the restart', () => d.got.length === 1);
    w2.cancel();
  });
});
