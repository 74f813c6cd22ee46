import * as assert from 'assert';
import { TableFollower } from '../../agent/observers/table';
import type { NftTable } from '../../agent/dataplane/nft';
import { netRecord, quietLog } from '../helpers/fakes';
import { snapshot } from '../helpers/records';

// A kernel table as text: what was written is what is listed, until another hand changes it.
class FakeTable {
  listing: string | undefined;
  writes = 0;
  onChange: ((t: string) => void) | undefined;
  write(script: string): Promise<void> {
    this.writes++;
    this.listing = script.split('\n').slice(2).join('\n');
    return Promise.resolve();
  }
  read(): Promise<string | undefined> {
    return Promise.resolve(this.listing);
  }
  watch(cb: (t: string) => void): void {
    this.onChange = cb;
  }
  stop(): void {}
}

describe('nftables table follower (fake table)', () => {
  const net = netRecord('n', 4096, '10.1.0.0/24');
  const view = snapshot([net]);
  const setup = (): { t: FakeTable; f: TableFollower } => {
    const t = new FakeTable();
    const f = new TableFollower(t as unknown as NftTable, () => view, quietLog, 'manual');
    f.start();
    return { t, f };
  };
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 10));

  it('writes once for a view, again only when what the table should hold changes', async () => {
    const { t, f } = setup();
    f.afterRun({ vnis: [4096], full: false });
    f.afterRun({ vnis: [4096], full: false });
    await settle();
    assert.strictEqual(t.writes, 1);
    f.afterRun({ vnis: [], full: false });
    await settle();
    assert.strictEqual(t.writes, 2);
  });

  it('a full run or a monitor event rewrites a table changed by another hand, and only then', async () => {
    const { t, f } = setup();
    f.afterRun({ vnis: [4096], full: false });
    await settle();
    f.afterRun({ vnis: [4096], full: true });
    t.onChange!('inet vxnet'); // our own write's event
    await settle();
    assert.strictEqual(t.writes, 1);
    t.listing = undefined;
    t.onChange!('inet vxnet');
    await settle();
    assert.strictEqual(t.writes, 2);
    assert.strictEqual(f.repairs, 1);
    t.listing = `${t.listing ?? ''}# foreign rule\n`;
    f.afterRun({ vnis: [4096], full: true });
    await settle();
    assert.strictEqual(t.writes, 3);
    assert.ok((await f.check()).ok);
    t.listing = 'table inet vxnet {}';
    assert.match((await f.check()).detail, /changed by another hand/);
  });

  it('events of other tables go to the foreign handler, not to a rewrite', async () => {
    const seen: string[] = [];
    const t = new FakeTable();
    const f = new TableFollower(
      t as unknown as NftTable,
      () => view,
      quietLog,
      'manual',
      (x) => seen.push(x),
    );
    f.start();
    t.onChange!('ip filter');
    await settle();
    assert.deepStrictEqual(seen, ['ip filter']);
    assert.strictEqual(t.writes, 0);
  });
});
