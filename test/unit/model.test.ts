import * as assert from 'assert';
import { addressesOf, plainAddressesOf } from '../../control/model';

describe("model: an endpoint record's addresses", () => {
  it('lists IPv4 first, with and without the prefix, and skips a family the endpoint lacks', () => {
    assert.deepStrictEqual(addressesOf({ ipv4: '10.0.0.2/24', ipv6: 'fd00::2/64' }), ['10.0.0.2/24', 'fd00::2/64']);
    assert.deepStrictEqual(plainAddressesOf({ ipv4: '10.0.0.2/24', ipv6: 'fd00::2/64' }), ['10.0.0.2', 'fd00::2']);
    assert.deepStrictEqual(addressesOf({ ipv4: '', ipv6: 'fd00::2/64' }), ['fd00::2/64']);
    assert.deepStrictEqual(plainAddressesOf({ ipv4: '10.0.0.2/24', ipv6: '' }), ['10.0.0.2']);
  });
});
