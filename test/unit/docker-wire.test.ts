import * as assert from 'assert';
import { status } from '@grpc/grpc-js';
import {
  CreateNetwork,
  GLOBAL_SPACE,
  LOCAL_SPACE,
  createRequest,
  parsePoolId,
  poolId,
  sameSubnets,
  stripPrefix,
  withPrefix,
} from '../../agent/docker/wire';

const ID = 'ab'.repeat(32);
const net = (over: Partial<CreateNetwork> = {}, generic: Record<string, string> = {}): CreateNetwork => ({
  NetworkID: ID,
  Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': generic },
  IPv4Data: [
    {
      AddressSpace: GLOBAL_SPACE,
      Pool: '10.77.0.0/24',
      Gateway: '10.77.0.1/24',
      AuxAddresses: { r: '10.77.0.200/24' },
    },
  ],
  IPv6Data: [],
  ...over,
});
const invalidArg = (e: { code: status }): boolean => e.code === status.INVALID_ARGUMENT;

describe('Docker plugin wire format (pure)', () => {
  it('a PoolID carries the pool and the ip-range, so any host can find the network', () => {
    assert.deepStrictEqual(parsePoolId(poolId('10.77.0.0/24', '10.77.0.128/25')), {
      pool: '10.77.0.0/24',
      subPool: '10.77.0.128/25',
    });
    assert.deepStrictEqual(parsePoolId(poolId('fd00:77::/64', '')), { pool: 'fd00:77::/64', subPool: '' });
  });

  it('refuses a PoolID vxnet did not issue', () => {
    for (const bad of ['', 'default/10.0.0.0/24', 'vxnet;10.0.0.0/24'])
      assert.throws(() => parsePoolId(bad), invalidArg);
  });

  it('strips and adds prefix lengths the way Docker writes addresses', () => {
    assert.strictEqual(stripPrefix('10.77.0.5/24'), '10.77.0.5');
    assert.strictEqual(stripPrefix('FD00:77::0005/64'), 'fd00:77::5');
    assert.strictEqual(stripPrefix(undefined), '');
    assert.strictEqual(withPrefix('10.77.0.5', '10.77.0.0/24'), '10.77.0.5/24');
  });

  it('turns CreateNetwork into a vxnet Create request: gateway, aux addresses, ip-range, internal, IPv6', () => {
    const { name, req } = createRequest(
      net({
        Options: {
          'com.docker.network.enable_ipv6': true,
          'com.docker.network.internal': true,
          'com.docker.network.generic': { 'vxnet.network': 'blue', mtu: '1400' },
        },
        IPv6Data: [{ AddressSpace: GLOBAL_SPACE, Pool: 'fd00:77::/64', Gateway: 'fd00:77::1/64' }],
      }),
      new Map([['10.77.0.0/24', '10.77.0.128/25']]),
    );
    assert.strictEqual(name, 'blue');
    assert.strictEqual(req.internal, true);
    assert.strictEqual(req.enableIpv6, true);
    assert.deepStrictEqual(req.options, { mtu: '1400' });
    assert.deepStrictEqual(req.ipamConfig, [
      {
        subnet: '10.77.0.0/24',
        ipRange: '10.77.0.128/25',
        gateway: '10.77.0.1',
        auxiliaryAddresses: { r: '10.77.0.200' },
      },
      { subnet: 'fd00:77::/64', ipRange: '', gateway: 'fd00:77::1', auxiliaryAddresses: {} },
    ]);
  });

  it('names the vxnet network after the Docker network ID when -o vxnet.network is not given', () => {
    assert.strictEqual(createRequest(net(), new Map()).name, `docker-${ID.slice(0, 12)}`);
    assert.strictEqual(
      createRequest(net({ IPv4Data: [{ AddressSpace: LOCAL_SPACE, Pool: '10.1.0.0/24' }] }), new Map()).req
        .ipamConfig[0].gateway,
      '',
    );
  });

  it('refuses an unknown -o option, naming it and the known ones', () => {
    assert.throws(
      () => createRequest(net({}, { foo: 'bar' }), new Map()),
      (e: { code: status; message: string }) =>
        invalidArg(e) && /"foo"/.test(e.message) && /vxnet\.network/.test(e.message),
    );
  });

  it("refuses Docker's default IPAM (per-host address allocation would duplicate addresses)", () => {
    const b = net({ IPv4Data: [{ AddressSpace: 'GlobalDefault', Pool: '10.77.0.0/24', Gateway: '10.77.0.1/24' }] });
    assert.throws(
      () => createRequest(b, new Map()),
      (e: { code: status; message: string }) => invalidArg(e) && /--ipam-driver vxnet/.test(e.message),
    );
  });

  it('binding to an existing network needs the same subnets and gateways', () => {
    const have = [{ subnet: '10.77.0.0/24', gateway: '10.77.0.1' }];
    assert.strictEqual(sameSubnets(have, [{ subnet: '10.77.0.0/24', gateway: '10.77.0.1' }]), undefined);
    assert.strictEqual(sameSubnets(have, [{ subnet: '10.77.0.0/24', gateway: '' }]), undefined);
    assert.match(sameSubnets(have, [{ subnet: '10.78.0.0/24', gateway: '' }]) ?? '', /--subnet 10\.77\.0\.0\/24/);
    assert.match(sameSubnets(have, [{ subnet: '10.77.0.0/24', gateway: '10.77.0.254' }]) ?? '', /gateway/);
    assert.match(sameSubnets(have, []) ?? '', /subnet/);
  });
});
