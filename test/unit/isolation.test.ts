import * as assert from 'assert';
import { batch, forwardRules, plan, prohibitRoutesOf, rulesOf, RULE_PREF } from '../../agent/isolation';

describe('isolation between networks (pure)', () => {
  const nets = [
    { vni: 4097, subnets: ['10.2.0.0/24', 'fd00:2::/64'] },
    { vni: 4096, subnets: ['10.1.0.0/24'] },
  ];

  it("one rule per local network, prohibit routes for the other networks' subnets of the family", () => {
    assert.deepStrictEqual(plan(nets, false), {
      rules: ['vxbr-4096 100004096', 'vxbr-4097 100004097'],
      routes: ['100004096 10.2.0.0/24', '100004097 10.1.0.0/24'],
    });
    assert.deepStrictEqual(plan(nets, true), { rules: ['vxbr-4096 100004096'], routes: ['100004096 fd00:2::/64'] });
  });

  it('a network alone on a host, or alone in a family, gets no rule: nothing to keep it from', () => {
    assert.deepStrictEqual(plan([{ vni: 5000, subnets: ['10.5.0.0/24'] }], false), { rules: [], routes: [] });
    assert.deepStrictEqual(
      plan(
        [
          { vni: 5000, subnets: ['10.5.0.0/24'] },
          { vni: 5001, subnets: ['10.6.0.0/24'] },
        ],
        true,
      ),
      { rules: [], routes: [] },
    );
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
    assert.deepStrictEqual(batch(twice, plan(nets, false)), [
      `rule del pref ${RULE_PREF} iif vxbr-4096 table 100004096`,
    ]);
  });

  it("Docker's FORWARD chain gets one accept per bridge, in and out the same bridge", () => {
    assert.deepStrictEqual(forwardRules([{ vni: 4097 }, { vni: 4096, egress: 'none' }]), [
      '-A FORWARD -i vxbr-4096 -o vxbr-4096 -m comment --comment "vxnet: bridged traffic within one network" -j ACCEPT',
      '-A FORWARD -i vxbr-4097 -o vxbr-4097 -m comment --comment "vxnet: bridged traffic within one network" -j ACCEPT',
    ]);
  });

  it("a network with egress also gets its way out and the replies back through Docker's FORWARD policy", () => {
    assert.deepStrictEqual(forwardRules([{ vni: 4096, egress: 'masquerade' }]), [
      '-A FORWARD -i vxbr-4096 -o vxbr-4096 -m comment --comment "vxnet: bridged traffic within one network" -j ACCEPT',
      '-A FORWARD -i vxbr-4096 ! -o vxbr-4096 -m comment --comment "vxnet: egress" -j ACCEPT',
      '-A FORWARD -o vxbr-4096 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "vxnet: egress replies" -j ACCEPT',
    ]);
  });

  it('a network without egress is prohibited every destination beyond the host, also when alone', () => {
    const none = [{ vni: 4096, subnets: ['10.1.0.0/24'], egress: 'none' as const }];
    assert.deepStrictEqual(plan(none, false), { rules: ['vxbr-4096 100004096'], routes: ['100004096 0.0.0.0/0'] });
    assert.deepStrictEqual(plan(none, true), { rules: ['vxbr-4096 100004096'], routes: ['100004096 ::/0'] });
    assert.deepStrictEqual(plan([...none, { vni: 4097, subnets: ['10.2.0.0/24'], egress: 'masquerade' }], false), {
      rules: ['vxbr-4096 100004096', 'vxbr-4097 100004097'],
      routes: ['100004096 10.2.0.0/24', '100004096 0.0.0.0/0', '100004097 10.1.0.0/24'],
    });
    assert.deepStrictEqual(batch({ rules: [], routes: [] }, plan(none, false)), [
      `rule add pref ${RULE_PREF} iif vxbr-4096 table 100004096`,
      'route replace prohibit 0.0.0.0/0 table 100004096',
    ]);
  });

  // Payloads as this machine's kernel answered RTM_GETRULE and RTM_GETROUTE dumps in a namespace
  // holding `rule add pref 4789 iif vxbr-4096 table 100004096` and prohibit routes in that table
  // (beside the default rules of tables local, main and default).
  const hex = (s: string): Buffer => Buffer.from(s, 'hex');
  it('reads our rules and prohibit routes from netlink dumps, and nothing else', () => {
    const rules = [
      '02000000ff0000010000000008000f00ff00000008000e00ffffffff0500150002000000',
      '02000000fc0000010000000008000f0000f1f50508000e00ffffffff05001500000000000e000300767862722d3430393600000008000600b5120000',
      '02000000fe0000010000000008000f00fe00000008000e00ffffffff050015000200000008000600fe7f0000',
    ].map(hex);
    assert.deepStrictEqual(rulesOf(rules), ['vxbr-4096 100004096']);
    const routes = [
      '02180000fc0300080000000008000f0000f1f505080001000a020000',
      '0a400000fc0300080000000008000f0000f1f50514000100fd0000020000000000000000000000000800060000040000080004000100000024000c0000000000000000000000000000000000000000000000000000000000000000000500140000000000',
      '02180000fe0300010000000008000f00fe000000080001000a020000', // a unicast route in main: not ours
    ].map(hex);
    assert.deepStrictEqual(prohibitRoutesOf(routes), ['100004096 10.2.0.0/24', '100004096 fd00:2::/64']);
  });
});
