import * as assert from 'assert';
import { status } from '@grpc/grpc-js';
import { dockerPorts, parsePublish, parsePublishList } from '../../control/publish';

const LOCAL = ['192.168.231.11', 'fd7e::11'];

describe('publish specs (pure, Docker -p syntax)', () => {
  it('accepts the forms Docker accepts', () => {
    assert.deepStrictEqual(parsePublish('8080:80', LOCAL), [
      { hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, protocol: 'tcp' },
    ]);
    assert.deepStrictEqual(parsePublish('127.0.0.1:53:53/udp', LOCAL), [
      { hostIp: '127.0.0.1', hostPort: 53, containerPort: 53, protocol: 'udp' },
    ]);
    assert.deepStrictEqual(parsePublish('[fd7e::11]:8443:443/SCTP', LOCAL), [
      { hostIp: 'fd7e::11', hostPort: 8443, containerPort: 443, protocol: 'sctp' },
    ]);
    assert.strictEqual(parsePublish('192.168.231.11:9000-9002:7000-7002', LOCAL).length, 3);
    assert.deepStrictEqual(parsePublish('9000-9001:7000-7001/udp', LOCAL)[1], {
      hostIp: '0.0.0.0',
      hostPort: 9001,
      containerPort: 7001,
      protocol: 'udp',
    });
    assert.strictEqual(parsePublishList(['8080:80', '8080:80/udp', '8081:80'], LOCAL).length, 3);
  });

  const bad: [string[], RegExp][] = [
    [[''], /empty/],
    [['80'], /both ports are required/],
    [['0:80'], /host port 0 is out of range/],
    [['8080:0'], /container port 0 is out of range/],
    [['65536:80'], /host port 65536 is out of range/],
    [['8080:65536'], /container port 65536 is out of range/],
    [['99999:80'], /host port 99999 is out of range/],
    [['9002-9000:80-82'], /host port range 9002-9000 is reversed/],
    [['9000-9002:82-80'], /container port range 82-80 is reversed/],
    [['9000-9002:80-81'], /ranges of different lengths/],
    [['9000:80-81'], /ranges of different lengths/],
    [['8080:80/icmp'], /protocol "icmp" is not tcp, udp or sctp/],
    [['8080:80/'], /protocol "" is not tcp/],
    [['10.9.9.9:8080:80'], /host address 10\.9\.9\.9 is not an address of this host/],
    [['[fd7e::99]:8080:80'], /host address fd7e::99 is not an address of this host/],
    [['nohost:8080:80'], /host address "nohost" is not an IP address/],
    [['abc:80'], /host port "abc" is not a port/],
    [['8080:http'], /container port "http" is not a port/],
    [['-1:80'], /host port "-1" is not a port/],
    [['1:2:3:4'], /is not \[HOST_IP:\]HOST_PORT/],
    [['8080:80', '8080:81'], /host port 8080\/tcp is also published by "8080:80"/],
    [['127.0.0.1:8080:80', '8080:81'], /also published/],
    [['9000-9005:80-85', '9003:90'], /host port 9003\/tcp is also published/],
    [['8080 :80'], /not a port/],
  ];
  for (const [specs, re] of bad)
    it(`refuses ${JSON.stringify(specs)}`, () =>
      assert.throws(
        () => parsePublishList(specs, LOCAL),
        (e: { code: status; message: string }) => e.code === status.INVALID_ARGUMENT && re.test(e.message),
      ));

  it("Docker's Ports shape", () => {
    assert.deepStrictEqual(dockerPorts(parsePublishList(['8080:80', '127.0.0.1:8081:80', '53:53/udp'], LOCAL)), {
      '80/tcp': [
        { HostIp: '0.0.0.0', HostPort: '8080' },
        { HostIp: '127.0.0.1', HostPort: '8081' },
      ],
      '53/udp': [{ HostIp: '0.0.0.0', HostPort: '53' }],
    });
  });
});
