import * as assert from 'assert';
import { hex } from '../helpers/records';
import { visitEntry } from '../../agent/dataplane/dump';
import { attrAt, ipText, macText } from '../../agent/dataplane/nl';
import type { EntryVisitor } from '../../agent/dataplane/dump';

// Dump payloads (ndmsg + attributes) written by hand from include/uapi/linux/neighbour.h, as the
// kernel sends them for `bridge fdb show` and `ip neigh show`.

// The payloads as a dump's receive holds them: one buffer, each after a 16-byte message header
// (filled with 0xee here: visitEntry must read only between the bounds it is given).
function each(payloads: Buffer[], kind: 'fdb' | 'neigh', fn: EntryVisitor): void {
  const parts = payloads.flatMap((p) => [Buffer.alloc(16, 0xee), p]);
  const buf = Buffer.concat([...parts, Buffer.alloc(16, 0xee)]);
  let off = 0;
  for (const p of payloads) {
    visitEntry(buf, off + 16, off + 16 + p.length, kind, fn);
    off += 16 + p.length;
  }
}

describe('FDB and neighbor entries read from raw dump messages', () => {
  const fdbSelf = hex(`07 000000 07000000 8000 02 00  0800 0100 c0a8e763  0a00 0200 02430abc00ff 0000`);
  const fdbLearned = hex(`07 000000 07000000 0200 00 00  0800 0100 c0a8e764  0a00 0200 02430abc0100 0000`);
  const fdbNoDst = hex(`07 000000 07000000 8000 02 00  0a00 0200 02430abc0200 0000`);
  // A bridge's entries on its port 9 (NDA_MASTER 11): static (NUD_NOARP), and the port's own (local).
  const fdbStatic = hex(`07 000000 09000000 4000 00 00  0a00 0200 02420a4d0002 0000  0800 0900 0b000000`);
  const fdbLocal = hex(`07 000000 09000000 8000 00 00  0a00 0200 2e73caebd8be 0000  0800 0900 0b000000`);
  const neigh4 = hex(
    `02 000000 2c010000 8000 00 00  0800 0100 0a4d0003  0a00 0200 02420a4d0003 0000  0800 0400 00000000`,
  );
  const neigh6 = hex(
    `0a 000000 2c010000 8000 00 00  1400 0100 fd000000000000000000000000010002  0a00 0200 020000000001 0000`,
  );
  const neighStale = hex(`02 000000 2c010000 0400 00 00  0800 0100 0a4d0004  0a00 0200 02420a4d0004 0000`);

  it("takes our FDB entries (NTF_SELF with a destination, a bridge's static ones) and nothing else", () => {
    const got: string[] = [];
    each([fdbSelf, fdbLearned, fdbNoDst, fdbStatic, fdbLocal, hex('07 00')], 'fdb', (i, mac, dst) =>
      got.push(`${i} ${mac} ${dst || '(static)'}`),
    );
    assert.deepStrictEqual(got, ['7 02:43:0a:bc:00:ff 192.168.231.99', '9 02:42:0a:4d:00:02 (static)']);
  });

  it('takes permanent neighbor entries of both families, whatever attributes follow', () => {
    const got: string[] = [];
    each([neigh4, neigh6, neighStale], 'neigh', (i, mac, ip) => got.push(`${i} ${ip} ${mac}`));
    assert.deepStrictEqual(got, ['300 10.77.0.3 02:42:0a:4d:00:03', '300 fd00::1:2 02:00:00:00:00:01']);
  });

  it('finds attributes and stops at a malformed one', () => {
    assert.strictEqual(attrAt(neigh4, 12, 4), 32); // after ndmsg (12), NDA_DST (8) and NDA_LLADDR (10, padded to 12)
    assert.strictEqual(attrAt(neigh4, 12, 9), -1);
    assert.strictEqual(attrAt(neigh4, 12, 2, 32), 20);
    assert.strictEqual(attrAt(neigh4, 12, 4, 32), -1); // past the end it is given
    assert.strictEqual(attrAt(hex('000000000000000000000000 0200 0100'), 12, 1), -1);
    assert.strictEqual(attrAt(hex('000000000000000000000000 0800 0100 0a'), 12, 1), -1);
  });

  it('writes addresses as inet_ntop does', () => {
    const v6 = (s: string): string => ipText(hex(s), 0, 16);
    assert.strictEqual(v6('fd000000000000000000000000010002'), 'fd00::1:2');
    assert.strictEqual(v6('00000000000000000000000000000001'), '::1');
    assert.strictEqual(v6('20010db8000000010000000000000000'), '2001:db8:0:1::');
    assert.strictEqual(v6('20010db8000100010001000100010001'), '2001:db8:1:1:1:1:1:1');
    assert.strictEqual(ipText(hex('0a000001'), 0, 4), '10.0.0.1');
    assert.strictEqual(macText(hex('0002430abc00ff'), 1, 6), '02:43:0a:bc:00:ff');
  });
});
