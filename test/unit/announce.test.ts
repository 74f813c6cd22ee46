import * as assert from 'assert';
import { arpAnnouncements, FRAME } from '../../agent/dataplane/announce';

describe('announcing remote addresses to local containers', () => {
  it('one gratuitous ARP reply per IPv4 entry, to everyone, sender and target the entry itself', () => {
    const b = arpAnnouncements([
      { ip: '10.0.0.7', mac: '02:43:0a:00:00:07' },
      { ip: 'fd00::7', mac: '02:43:0a:00:00:08' },
      { ip: '10.0.0.9', mac: '02:43:0a:00:00:09' },
    ]);
    assert.strictEqual(b.length, 2 * FRAME);
    assert.strictEqual(
      b.subarray(0, FRAME).toString('hex'),
      [
        'ffffffffffff',
        '02430a000007',
        '0806', // Ethernet: broadcast, from the endpoint, ARP
        '0001',
        '0800',
        '06',
        '04',
        '0002', // Ethernet/IPv4, a reply
        '02430a000007',
        '0a000007', // sender: the endpoint
        'ffffffffffff',
        '0a000007', // target: the same address (gratuitous)
      ].join(''),
    );
    assert.strictEqual(b.subarray(FRAME + 28, FRAME + 32).toString('hex'), '0a000009');
  });

  it('skips what it cannot encode', () => {
    assert.strictEqual(
      arpAnnouncements([
        { ip: '10.0.0', mac: '02:43:0a:00:00:07' },
        { ip: '10.0.0.1', mac: 'nope' },
      ]).length,
      0,
    );
  });
});
