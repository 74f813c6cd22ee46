import * as assert from 'assert';
import { batch, forwardRules, plan, RULE_PREF } from '../../agent/isolation';

describe('isolation between networks (pure)', () => {
  const nets = [{ vni: 4097, subnets: ['10.2.0.0/24', 'fd00:2::/64'] }, { vni: 4096, subnets: ['10.1.0.0/24'] }];

  it('one rule per local network, prohibit routes for the other networks\' subnets of the family', () => {
    assert.deepStrictEqual(plan(nets, false), {
      rules: ['vxbr-4096 100004096', 'vxbr-4097 100004097'],
      routes: ['100004096 10.2.0.0/24', '100004097 10.1.0.0/24'],
    });
    assert.deepStrictEqual(plan(nets, true), { rules: ['vxbr-4096 100004096'], routes: ['100004096 fd00:2::/64'] });
  });

  it('a network alone on a host, or alone in a family, gets no rule: nothing to keep it from', () => {
    assert.deepStrictEqual(plan([{ vni: 5000, subnets: ['10.5.0.0/24'] }], false), { rules: [], routes: [] });
    assert.deepStrictEqual(plan([{ vni: 5000, subnets: ['10.5.0.0/24'] }, { vni: 5001, subnets: ['10.6.0.0/24'] }], true), { rules: [], routes: [] });
  });

  it('changes add before they remove, and touch nothing that is right already', () => {
    const have = plan([nets[1], { vni: 4098, subnets: ['10.3.0.0/24'] }], false);
    assert.deepStrictEqual(batch(have, plan(nets, false)), [
      `rule add pref ${RULE_PREF} iif vxbr-4097 table 100004097`,
      'route replace prohibit 10.2.0.0/24 table 100004096',
      'route replace prohibit 10.1.0.0/24 table 100004097',
      'route del prohibit 10.3.0.0/24 table 100004096',
      'route del prohibit 10.1.0.0/24 table 100004098',
      `rule del pref ${RULE_PREF} iif vxbr-4098 table 100004098`,
    ]);
    assert.deepStrictEqual(batch(plan(nets, false), plan(nets, false)), []);
    const twice = plan(nets, false);
    twice.rules.push(twice.rules[0]);
    assert.deepStrictEqual(batch(twice, plan(nets, false)), [`rule del pref ${RULE_PREF} iif vxbr-4096 table 100004096`]);
  });

  it('Docker\'s FORWARD chain gets one accept per bridge, in and out the same bridge', () => {
    assert.deepStrictEqual(forwardRules([4097, 4096]), [
      '-A FORWARD -i vxbr-4096 -o vxbr-4096 -m comment --comment "vxnet: bridged traffic within one network" -j ACCEPT',
      '-A FORWARD -i vxbr-4097 -o vxbr-4097 -m comment --comment "vxnet: bridged traffic within one network" -j ACCEPT',
    ]);
  });
});
