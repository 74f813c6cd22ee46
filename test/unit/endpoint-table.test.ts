import * as assert from 'assert';
import { EndpointTable } from '../../control/store/endpoint-table';
import { freeCandidates, parseAddress } from '../../control/ipam';
import type { EndpointRecord, SubnetConfig } from '../../control/model';
import { epRecord } from '../helpers/records';

const ep = (n: number, networkId = 'n1', host = 'h1', ipv6 = ''): EndpointRecord =>
  epRecord({ id: `e${n}`, networkId, host, mac: '02:42:00:00:00:01', ipv4: `10.9.${n >> 8}.${n & 255}/16`, ipv6 });
const valueOf = (a: string): bigint => parseAddress(a).value;
const subnet: SubnetConfig = { subnet: '10.9.0.0/16', gateway: '10.9.0.1', auxAddresses: {} };
const taken = (t: EndpointTable) => ({ size: t.addressCount('n1'), has: (a: string) => t.hasAddress('n1', `${a}/16`) });

describe('EndpointTable (the view with per-network indexes)', () => {
  it("keeps each network's addresses and per-host counts through set, replace and delete", () => {
    const t = new EndpointTable();
    t.set('e2', ep(2));
    t.set('e3', ep(3, 'n1', 'h2'));
    t.set('e4', ep(4, 'n2', 'h1'));
    assert.ok(t.hasAddress('n1', '10.9.0.2/16'));
    assert.ok(!t.hasAddress('n2', '10.9.0.2/16'));
    assert.deepStrictEqual(
      [...t.hostsOf('n1')],
      [
        ['h1', 1],
        ['h2', 1],
      ],
    );
    t.set('e2', { ...ep(2), ipv4: '10.9.0.7/16' }); // the same endpoint, another address
    assert.ok(!t.hasAddress('n1', '10.9.0.2/16'));
    assert.ok(t.hasAddress('n1', '10.9.0.7/16'));
    assert.strictEqual(t.hostsOf('n1').get('h1'), 1);
    t.delete('e3');
    assert.deepStrictEqual([...t.hostsOf('n1')], [['h1', 1]]);
    assert.strictEqual(t.addressCount('n1'), 1);
    assert.strictEqual(t.delete('e3'), false);
    t.clear();
    assert.strictEqual(t.addressCount('n1'), 0);
    assert.strictEqual(t.hostsOf('n2').size, 0);
  });

  it("counts MACs and addresses per network, so that one of two holders going leaves the other's", () => {
    const t = new EndpointTable();
    t.set('e2', ep(2));
    t.set('x', { ...ep(2), id: 'x', host: 'h2' }); // the same address and MAC: not from vxnet's IPAM, but possible in a view
    assert.strictEqual(t.macCount('n1', '02:42:00:00:00:01'), 2);
    t.delete('e2');
    assert.ok(t.hasAddress('n1', '10.9.0.2/16'));
    assert.strictEqual(t.macCount('n1', '02:42:00:00:00:01'), 1);
    t.set('x', { ...ep(2), id: 'x', host: 'h2', aliases: ['again'] }); // the same record again
    assert.strictEqual(t.macCount('n1', '02:42:00:00:00:01'), 1);
    assert.strictEqual(t.addressCount('n1'), 1);
    t.delete('x');
    assert.ok(!t.hasAddress('n1', '10.9.0.2/16'));
    assert.strictEqual(t.macCount('n1', '02:42:00:00:00:01'), 0);
  });

  it('a floor is brought down by an address freed below it, not by a record that keeps its address', () => {
    const t = new EndpointTable();
    for (let n = 2; n < 1000; n++) t.set(`e${n}`, ep(n));
    const first = freeCandidates(subnet, taken(t), { limit: 1 })[0];
    assert.strictEqual(first, '10.9.3.232');
    t.setFloor('n1', subnet.subnet, first);
    t.set('e500', { ...ep(500), aliases: ['web'] }); // the watch delivering the same endpoint again
    assert.strictEqual(t.floor('n1', subnet.subnet), valueOf('10.9.3.232'));
    t.delete('e600');
    t.delete('e300');
    const floor = t.floor('n1', subnet.subnet);
    assert.strictEqual(floor, valueOf('10.9.1.44'));
    // Allocation from the floor finds the lowest free address, as a scan from the start would.
    assert.deepStrictEqual(
      freeCandidates(subnet, taken(t), { limit: 1, from: floor }),
      freeCandidates(subnet, taken(t), { limit: 1 }),
    );
  });

  it('forgets the floors after a mass removal or an address freed outside the view', () => {
    const t = new EndpointTable();
    for (let n = 2; n < 600; n++) t.set(`e${n}`, ep(n));
    t.setFloor('n1', subnet.subnet, '10.9.2.88');
    for (let n = 2; n < 600; n++) t.delete(`e${n}`);
    assert.strictEqual(t.floor('n1', subnet.subnet), undefined);
    t.setFloor('n1', subnet.subnet, '10.9.0.5');
    t.forgetFloors('n1');
    assert.strictEqual(t.floor('n1', subnet.subnet), undefined);
  });

  it('an IPv4 address freed does not bring down an IPv6 floor', () => {
    const t = new EndpointTable();
    t.set('e2', ep(2, 'n1', 'h1', 'fd00:9::2/64'));
    t.setFloor('n1', subnet.subnet, '10.9.0.3');
    t.setFloor('n1', 'fd00:9::/64', 'fd00:9::3');
    t.delete('e2');
    assert.strictEqual(t.floor('n1', subnet.subnet), valueOf('10.9.0.2'));
    assert.strictEqual(t.floor('n1', 'fd00:9::/64'), valueOf('fd00:9::2'));
  });

  it('a floor outside the range is ignored: the scan starts at the range', () => {
    const t = new EndpointTable();
    assert.deepStrictEqual(freeCandidates(subnet, taken(t), { limit: 1, from: valueOf('10.8.0.9') }), ['10.9.0.2']);
  });
});
