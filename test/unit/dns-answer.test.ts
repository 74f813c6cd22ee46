import * as assert from 'assert';
import type { Answer, Packet } from 'dns-packet';
import * as dnsPacket from 'dns-packet';
import { decide, reverseAddress } from '../../agent/dns/answer';
import type { Decision } from '../../agent/dns/answer';
import { NameIndex } from '../../agent/dns/name-index';
import { buildTable } from '../../agent/dns/table';
import { epRecord, hostRecord, netRecord, snapshot } from '../helpers/records';

const S = { domain: 'vxnet', ttl: 2 };
const hosts = [hostRecord('h1', '192.168.231.11'), hostRecord('h2', '192.168.231.12')];
const blue = netRecord('b'.repeat(64), 100, '10.1.0.0/24', { name: 'blue' });
const red = netRecord('r'.repeat(64), 200, '10.2.0.0/24', { name: 'red' });
const six = netRecord('6'.repeat(64), 300, '10.3.0.0/24', {
  name: 'six',
  ipv6: [{ subnet: 'fd00:3::/64', gateway: 'fd00:3::1', auxAddresses: {} }],
});
const secret = netRecord('i'.repeat(64), 400, '10.4.0.0/24', { name: 'secret', internal: true });
const id = (n: number): string => n.toString(16).padStart(64, '0');
const eps = [
  epRecord({ id: id(1), networkId: blue.id, host: 'h1', name: 'web', ipv4: '10.1.0.2/24', aliases: ['www'] }),
  epRecord({ id: id(2), networkId: blue.id, host: 'h2', name: 'db', ipv4: '10.1.0.3/24', aliases: ['store'] }),
  epRecord({ id: id(3), networkId: red.id, host: 'h1', name: 'cache', ipv4: '10.2.0.2/24', aliases: ['store'] }),
  epRecord({ id: id(4), networkId: red.id, host: 'h2', name: 'web', ipv4: '10.2.0.3/24' }),
  epRecord({
    id: id(5),
    networkId: six.id,
    host: 'h1',
    name: 'v6',
    ipv4: '10.3.0.2/24',
    ipv6: 'fd00:3::2/64',
  }),
  epRecord({ id: id(6), networkId: six.id, host: 'h2', name: 'peer6', ipv4: '10.3.0.3/24', ipv6: 'fd00:3::3/64' }),
  epRecord({ id: id(7), networkId: secret.id, host: 'h1', name: 'vault', ipv4: '10.4.0.2/24' }),
  epRecord({ id: id(8), networkId: secret.id, host: 'h2', name: 'keeper', ipv4: '10.4.0.3/24' }),
  // A dead host's endpoint (no host key): not answered.
  epRecord({ id: id(9), networkId: blue.id, host: 'h9', name: 'ghost', ipv4: '10.1.0.9/24' }),
  // A network without a local endpoint: not in the table at all.
  epRecord({ id: id(10), networkId: 'g'.repeat(64), host: 'h2', name: 'far', ipv4: '10.9.0.2/24' }),
];
const far = netRecord('g'.repeat(64), 500, '10.9.0.0/24', { name: 'far' });
const index = new NameIndex(buildTable(snapshot([blue, red, six, secret, far], eps, hosts), 'h1'));

function query(name: string, type: string, extra: Partial<Packet> = {}): Packet {
  return dnsPacket.decode(
    dnsPacket.encode({
      id: 4242,
      type: 'query',
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name, type: type as 'A' }],
      ...extra,
    }),
  );
}

function ask(name: string, type = 'A', source = '10.1.0.2', gateway = '10.1.0.1'): Decision {
  return decide(index, S, query(name, type), source, gateway);
}

function data(d: Decision): unknown[] {
  assert.strictEqual(d.kind, 'reply');
  return (d.kind === 'reply' ? (d.packet.answers ?? []) : []).map((a: Answer) => (a as { data: unknown }).data);
}

describe('dns answers (pure)', () => {
  it('answers names and aliases of the asker network, short and as NAME.NETWORK.domain, from any host', () => {
    assert.deepStrictEqual(data(ask('db')), ['10.1.0.3']);
    assert.deepStrictEqual(data(ask('store')), ['10.1.0.3']);
    assert.deepStrictEqual(data(ask('db.blue.vxnet')), ['10.1.0.3']);
    assert.deepStrictEqual(data(ask('DB.Blue.VXNET.')), ['10.1.0.3']);
    assert.deepStrictEqual(data(ask('web.vxnet')), ['10.1.0.2']);
    const d = ask('www');
    assert.ok(d.kind === 'reply' && d.rcode === 'NOERROR' && (d.packet.answers?.[0] as { ttl?: number }).ttl === 2);
    assert.ok(d.kind === 'reply' && (d.packet.flags ?? 0) & dnsPacket.AUTHORITATIVE_ANSWER);
  });

  it('scopes to the asker: another network names nothing of it, aliases are per network', () => {
    assert.deepStrictEqual(data(ask('store', 'A', '10.2.0.2', '10.2.0.1')), ['10.2.0.2']);
    assert.deepStrictEqual(data(ask('web', 'A', '10.2.0.2', '10.2.0.1')), ['10.2.0.3']);
    const d = ask('cache.red.vxnet');
    assert.ok(d.kind === 'reply' && d.rcode === 'NXDOMAIN');
    assert.ok(d.kind === 'reply' && d.packet.authorities?.[0].type === 'SOA');
    // a name of red asked from blue as a short name: not a vxnet name there, so forwarded
    assert.strictEqual(ask('cache').kind, 'forward');
  });

  it('NODATA for a known name without the family, AAAA on an IPv6 network, NXDOMAIN for unknown vxnet names', () => {
    const nodata = ask('db', 'AAAA');
    assert.ok(nodata.kind === 'reply' && nodata.rcode === 'NOERROR' && nodata.packet.answers?.length === 0);
    assert.deepStrictEqual(data(ask('peer6', 'AAAA', '10.3.0.2', '10.3.0.1')), ['fd00:3::3']);
    assert.deepStrictEqual(data(ask('peer6.six.vxnet', 'AAAA', 'fd00:3::2', 'fd00:3::1')), ['fd00:3::3']);
    const mx = ask('db', 'MX');
    assert.ok(mx.kind === 'reply' && mx.rcode === 'NOERROR' && !mx.packet.answers?.length);
    for (const n of ['nope.vxnet', 'db.nonet.vxnet', 'ghost.blue.vxnet', 'far.far.vxnet', 'a.b.c.vxnet']) {
      const d = ask(n);
      assert.ok(d.kind === 'reply' && d.rcode === 'NXDOMAIN', n);
    }
  });

  it('PTR for the asker networks, NXDOMAIN in their subnets, forward outside', () => {
    assert.deepStrictEqual(data(ask('3.0.1.10.in-addr.arpa', 'PTR')), ['db.blue.vxnet']);
    const other = ask('2.0.2.10.in-addr.arpa', 'PTR'); // red's cache, asked from blue
    assert.ok(other.kind === 'reply' && other.rcode === 'NXDOMAIN');
    assert.strictEqual(ask('8.8.8.8.in-addr.arpa', 'PTR').kind, 'forward');
    assert.strictEqual(
      reverseAddress('3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.0.0.0.0.0.d.f.ip6.arpa'),
      'fd00:0003:0000:0000:0000:0000:0000:0003',
    );
    assert.deepStrictEqual(
      data(
        ask('3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.0.0.0.0.0.d.f.ip6.arpa', 'PTR', '10.3.0.2', '10.3.0.1'),
      ),
      ['peer6.six.vxnet'],
    );
    assert.strictEqual(reverseAddress('256.0.0.1.in-addr.arpa'), undefined);
  });

  it('forwards other names, except from an internal network, whose own names still resolve', () => {
    assert.strictEqual(ask('example.com').kind, 'forward');
    assert.deepStrictEqual(data(ask('keeper', 'A', '10.4.0.2', '10.4.0.1')), ['10.4.0.3']);
    const d = ask('example.com', 'A', '10.4.0.2', '10.4.0.1');
    assert.ok(d.kind === 'reply' && d.rcode === 'REFUSED');
    const pub = ask('8.8.8.8.in-addr.arpa', 'PTR', '10.4.0.2', '10.4.0.1');
    assert.ok(pub.kind === 'reply' && pub.rcode === 'REFUSED');
  });

  it('refuses queries from no local endpoint, other gateways, zone transfers and other classes', () => {
    const refused = (d: Decision): boolean => d.kind === 'reply' && d.rcode === 'REFUSED';
    assert.ok(refused(ask('db', 'A', '10.1.0.3'))); // a remote endpoint's address
    assert.ok(refused(ask('db', 'A', '192.168.231.12'))); // the underlay
    assert.ok(refused(ask('db', 'A', '10.1.0.2', '10.2.0.1'))); // red's gateway, asked by blue
    assert.ok(refused(ask('blue.vxnet', 'AXFR')));
    assert.ok(
      refused(
        decide(
          index,
          S,
          query('db', 'A', { questions: [{ name: 'db', type: 'A', class: 'CH' }] }),
          '10.1.0.2',
          '10.1.0.1',
        ),
      ),
    );
    assert.strictEqual(
      decide(index, S, { ...query('db', 'A'), type: 'response' }, '10.1.0.2', '10.1.0.1').kind,
      'drop',
    );
    const two = decide(
      index,
      S,
      query('db', 'A', {
        questions: [
          { name: 'a', type: 'A' },
          { name: 'b', type: 'A' },
        ],
      }),
      '10.1.0.2',
      '10.1.0.1',
    );
    assert.ok(two.kind === 'reply' && two.rcode === 'FORMERR');
  });

  it('a container on two networks sees both, by its sandbox', () => {
    const both = [
      ...eps,
      epRecord({
        id: id(11),
        networkId: red.id,
        host: 'h1',
        name: 'web',
        ipv4: '10.2.0.4/24',
        sandbox: '/run/netns/web',
      }),
    ];
    const ix = new NameIndex(buildTable(snapshot([blue, red], both, hosts), 'h1'));
    assert.deepStrictEqual(data(decide(ix, S, query('cache', 'A'), '10.1.0.2', '10.1.0.1')), ['10.2.0.2']);
    assert.deepStrictEqual(data(decide(ix, S, query('store', 'A'), '10.1.0.2', '10.1.0.1')).sort(), [
      '10.1.0.3',
      '10.2.0.2',
    ]);
  });
});
