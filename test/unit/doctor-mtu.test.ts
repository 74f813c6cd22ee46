import * as assert from 'assert';
import { mtuCheck } from '../../agent/doctor';
import { overlayMtu } from '../../control/model';

describe('doctor: the MTU check (pure)', () => {
  it('an IPv4 VTEP leaves the underlay MTU minus 50', () => {
    assert.deepStrictEqual(mtuCheck([{ name: 'blue', mtu: 0 }], 1500, '192.168.1.10'), {
      ok: true,
      detail: 'underlay MTU 1500, overlay 1450',
    });
  });

  it('an IPv6 VTEP leaves the underlay MTU minus 70, the same as the devices get', () => {
    const r = mtuCheck([{ name: 'blue', mtu: 0 }], 1500, 'fd00::10');
    assert.deepStrictEqual(r, { ok: true, detail: 'underlay MTU 1500, overlay 1430' });
    assert.strictEqual(overlayMtu({ mtu: 0 }, 1500, true), 1430);
  });

  it('on an IPv6 VTEP, a network asking for an MTU between underlay - 70 and underlay - 50 is reported', () => {
    const nets = [
      { name: 'fits', mtu: 1400 },
      { name: 'big', mtu: 1440 },
    ];
    assert.deepStrictEqual(mtuCheck(nets, 1500, '192.168.1.10'), {
      ok: true,
      detail: 'underlay MTU 1500, overlay 1450',
    });
    assert.deepStrictEqual(mtuCheck(nets, 1500, 'fd00::10'), {
      ok: false,
      detail: "networks big ask for an MTU above the underlay's 1500 - 70: lowered to 1430",
    });
  });

  it('on an IPv4 VTEP, a network above underlay - 50 is reported with what it gets', () => {
    assert.deepStrictEqual(
      mtuCheck(
        [
          { name: 'jumbo', mtu: 9000 },
          { name: 'x', mtu: 1451 },
        ],
        1500,
        '10.0.0.1',
      ),
      { ok: false, detail: "networks jumbo, x ask for an MTU above the underlay's 1500 - 50: lowered to 1450" },
    );
  });
});
