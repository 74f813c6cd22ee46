import * as assert from 'assert';
import { needsForwarding, tableInput, tableScript } from '../../agent/nft-table';
import { netRecord } from '../helpers/records';

describe('nftables table (pure)', () => {
  const a = netRecord('a', 4096, '10.1.0.0/24');
  const b = netRecord('b', 4097, '10.2.0.0/24', {
    ipv6: [{ subnet: 'fd00:2::/64', gateway: 'fd00:2::1', auxAddresses: {} }],
  });
  const none = netRecord('c', 4098, '10.3.0.0/24', { options: { egress: 'none' } });
  const internal = netRecord('d', 4099, '10.4.0.0/24', { internal: true });
  const all = [a, b, none, internal];

  it('masquerades the served networks with egress, to destinations outside every vxnet network', () => {
    const s = tableScript(tableInput(all, [4096, 4097, 4098, 4099]));
    assert.match(
      s,
      /set overlay4 \{ type ipv4_addr; flags interval; auto-merge; elements = \{ 10\.1\.0\.0\/24, 10\.2\.0\.0\/24, 10\.3\.0\.0\/24, 10\.4\.0\.0\/24 \} \}/,
    );
    assert.match(s, /set overlay6 \{[^}]*elements = \{ fd00:2::\/64 \} \}/);
    assert.match(s, /set egress4 \{[^}]*elements = \{ 10\.1\.0\.0\/24, 10\.2\.0\.0\/24 \} \}/);
    assert.match(s, /set egress6 \{[^}]*elements = \{ fd00:2::\/64 \} \}/);
    assert.match(s, /ip saddr @egress4 ip daddr != @overlay4 masquerade fully-random/);
    assert.match(s, /ip6 saddr @egress6 ip6 daddr != @overlay6 masquerade fully-random/);
  });

  it('a network not served here is in the overlay set only; egress=none and internal never masquerade', () => {
    const s = tableScript(tableInput(all, [4098, 4099]));
    assert.match(s, /set egress4 \{ type ipv4_addr; flags interval; auto-merge; \}/);
    assert.match(s, /set overlay4 \{[^}]*10\.1\.0\.0\/24/);
    assert.deepStrictEqual(needsForwarding(tableInput(all, [4098, 4099])), { v4: false, v6: false });
    assert.deepStrictEqual(needsForwarding(tableInput(all, [4097])), { v4: true, v6: true });
    assert.deepStrictEqual(needsForwarding(tableInput(all, [4096])), { v4: true, v6: false });
  });

  it('one transaction that replaces the table whether or not it exists, the same for the same view', () => {
    const s = tableScript(tableInput(all, [4096]));
    const lines = s.split('\n');
    assert.deepStrictEqual(lines.slice(0, 3), ['table inet vxnet {}', 'delete table inet vxnet', 'table inet vxnet {']);
    assert.strictEqual(tableScript(tableInput([...all].reverse(), [4096])), s);
  });
});
