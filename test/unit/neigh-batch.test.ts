import * as assert from 'assert';
import { hex } from '../helpers/records';
import { encodeEntry } from '../../agent/dataplane/batch';
import { putIPv6 } from '../../agent/dataplane/nl';

// The bytes the kernel gets for one FDB or neighbor entry (rtnetlink's ndmsg + NDA_DST + NDA_LLADDR),
// written by hand from include/uapi/linux/neighbour.h so that the encoder is checked against the
// layout, not against itself.

describe('FDB and neighbor messages encoded straight from their text', () => {
  it('an FDB add: AF_BRIDGE, permanent, NTF_SELF, create|replace, the VTEP as NDA_DST', () => {
    const b = Buffer.alloc(64, 0xee); // garbage around it: padding must still be zero
    const len = encodeEntry(b, 0, 'fdb', 'add', 7, '02:43:0A:bc:00:ff', '192.168.231.99', 0x01020304, 0x55, false);
    assert.strictEqual(len, 48);
    assert.deepStrictEqual(
      b.subarray(0, 48),
      hex(`
      30000000 1c00 0105 04030201 55000000
      07 000000 07000000 8000 02 00
      0800 0100 c0a8e763
      0a00 0200 02430abc00ff 0000`),
    );
  });

  it('a neighbor delete over IPv6 with the ACK flag: AF_INET6, no state, no create flags', () => {
    const b = Buffer.alloc(64);
    const len = encodeEntry(b, 0, 'neigh', 'del', 300, '02:00:00:00:00:01', 'fd00::1:2', 9, 1, true);
    assert.strictEqual(len, 60);
    assert.deepStrictEqual(
      b.subarray(0, 60),
      hex(`
      3c000000 1d00 0500 09000000 01000000
      0a 000000 2c010000 0000 00 00
      1400 0100 fd000000000000000000000000010002
      0a00 0200 020000000001 0000`),
    );
  });

  it('refuses what is not a MAC or an address (0: nothing to send)', () => {
    const b = Buffer.alloc(64);
    for (const [mac, addr] of [
      ['02:43:0a:bc:00', '10.0.0.1'],
      ['02:43:0a:bc:00:fg', '10.0.0.1'],
      ['02-43-0a-bc-00-ff', '10.0.0.1'],
      ['02:43:0a:bc:00:ff', '10.0.0'],
      ['02:43:0a:bc:00:ff', '10.0.0.256'],
      ['02:43:0a:bc:00:ff', '10.0..1'],
      ['02:43:0a:bc:00:ff', 'fd00::1::2'],
      ['02:43:0a:bc:00:ff', '1:2:3:4:5:6:7'],
    ]) {
      assert.strictEqual(encodeEntry(b, 0, 'neigh', 'add', 1, mac, addr, 1, 1, false), 0, `${mac} ${addr}`);
    }
  });

  it('IPv6 in every notation inet_ntop writes', () => {
    const b = Buffer.alloc(16);
    for (const [text, bytes] of [
      ['::', '00'.repeat(16)],
      ['::1', '00'.repeat(15) + '01'],
      ['fe80::', 'fe80' + '00'.repeat(14)],
      ['2001:db8:0:1:2:3:4:5', '20010db8000000010002000300040005'],
    ]) {
      assert.ok(putIPv6(b, 0, text), text);
      assert.strictEqual(b.toString('hex'), bytes, text);
    }
  });
});
