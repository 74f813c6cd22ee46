import { status } from '@grpc/grpc-js';
import { VxError, invalid, notFound } from '../../control/errors';
import {
  addressOf,
  contains,
  defaultGateway,
  macFromIPv4,
  overlaps,
  parseAddress,
  parseCidr,
  parseMac,
  pickDefaultSubnet,
  randomMac,
} from '../../control/ipam';
import {
  addressesOf,
  CREATED_BY_DOCKER,
  DockerNetworkRecord,
  EndpointRecord,
  NetworkRecord,
} from '../../control/model';
import type { NetworkService } from '../../control/networks';
import type { Store } from '../../control/store/store';
import type { DockerEndpoints } from './endpoints';
import type { ClusterState } from '../view';
import type { Logger } from '../../lib/log';
import { dockerPeerName } from '../names';
import { gatewaysOf } from '../desired';
import {
  CreateEndpoint,
  CreateNetwork,
  EndpointRef,
  GATEWAY_REQUEST,
  GLOBAL_SPACE,
  LOCAL_SPACE,
  ReleaseAddress,
  RequestAddress,
  RequestPool,
  createRequest,
  parsePoolId,
  poolId,
  sameSubnets,
  stripPrefix,
  withPrefix,
} from './wire';

export type Scope = 'local' | 'global';

// The Docker network and IPAM driver: an adapter from Docker's calls to the agent's own network and
// endpoint services. It keeps nothing Docker depends on in memory (Docker never replays state to a
// restarted plugin): networks are found by Docker's ID in etcd, pools by the subnet in the PoolID.
export class DockerDriver {
  // RequestPool's --ip-range until CreateNetwork on the same dockerd (Docker does not pass it on).
  private readonly subPools = new Map<string, string>();
  private readonly bindings = new Map<string, DockerNetworkRecord>();

  constructor(
    private readonly host: string,
    private readonly scope: Scope,
    private readonly store: Store,
    private readonly networks: NetworkService,
    private readonly endpoints: DockerEndpoints,
    private readonly state: ClusterState,
    private readonly log: Logger,
  ) {}

  // --- capabilities ---------------------------------------------------------------------------------

  capabilities(): unknown {
    return { Scope: this.scope, ConnectivityScope: this.scope };
  }

  ipamCapabilities(): unknown {
    return { RequiresMACAddress: false, RequiresRequestReplay: false };
  }

  addressSpaces(): unknown {
    return { LocalDefaultAddressSpace: LOCAL_SPACE, GlobalDefaultAddressSpace: GLOBAL_SPACE };
  }

  // --- lookups: the agent's view first, etcd for what it does not know yet ---------------------------

  private async allNetworks(): Promise<NetworkRecord[]> {
    const snap = this.state.snap;
    return snap ? [...snap.networks.values()] : (await this.store.listNetworks()).networks;
  }

  private async bySubnet(pool: string): Promise<NetworkRecord | undefined> {
    const want = parseCidr(pool).text;
    const find = (l: NetworkRecord[]): NetworkRecord | undefined =>
      l.find((n) => [...n.ipv4, ...n.ipv6].some((s) => s.subnet === want));
    return find(await this.allNetworks()) ?? find((await this.store.listNetworks()).networks);
  }

  private async network(id: string): Promise<NetworkRecord | undefined> {
    return this.state.snap?.networks.get(id) ?? this.store.getNetwork(id);
  }

  private async binding(dockerId: string): Promise<{ bind: DockerNetworkRecord; net: NetworkRecord }> {
    const bind = this.bindings.get(dockerId) ?? (await this.store.getDockerNetwork(dockerId));
    if (!bind)
      throw notFound(
        `Docker network ${dockerId.slice(0, 12)} is not known to vxnet: it was not created with -d vxnet, or its record was removed from etcd`,
      );
    this.bindings.set(dockerId, bind);
    const net = await this.network(bind.networkId);
    if (!net)
      throw notFound(
        `the vxnet network behind Docker network ${dockerId.slice(0, 12)} was removed (vxnet network rm): remove the Docker network too`,
      );
    return { bind, net };
  }

  // --- IPAM -------------------------------------------------------------------------------------------

  async requestPool(b: RequestPool): Promise<unknown> {
    if (!b.Pool) {
      if (b.V6)
        throw invalid('vxnet has no default IPv6 pool: give the network an IPv6 subnet (--ipv6 --subnet fd00:1::/64)');
      if (b.SubPool) throw invalid('--ip-range needs --subnet');
    }
    const existing = await this.allNetworks();
    const pool = b.Pool
      ? parseCidr(b.Pool).text
      : pickDefaultSubnet(existing.flatMap((n) => [...n.ipv4, ...n.ipv6].map((s) => s.subnet)));
    const cidr = parseCidr(pool);
    if (cidr.v6 !== !!b.V6)
      throw invalid(`subnet ${pool} is IPv${cidr.v6 ? 6 : 4} but Docker asked for an IPv${b.V6 ? 6 : 4} pool`);
    if (cidr.prefix > cidr.bits - 2)
      throw invalid(`subnet ${pool} is too small: at most /${cidr.bits - 2} (room for a gateway and an endpoint)`);
    let subPool = '';
    if (b.SubPool) {
      const r = parseCidr(b.SubPool, 'ip-range');
      if (r.v6 !== cidr.v6 || r.prefix < cidr.prefix || !contains(cidr, r.network, r.v6))
        throw invalid(`ip-range ${b.SubPool} is not inside subnet ${pool}`);
      subPool = r.text;
    }
    // A pool equal to a vxnet network's subnet is that network (bound by CreateNetwork); one that
    // only overlaps would hand out another network's addresses.
    for (const n of existing) {
      for (const s of [...n.ipv4, ...n.ipv6]) {
        if (s.subnet !== pool && overlaps(cidr, parseCidr(s.subnet)))
          throw new VxError(
            status.ALREADY_EXISTS,
            `subnet ${pool} overlaps with vxnet network ${n.name} (${s.subnet})`,
          );
      }
    }
    this.subPools.set(pool, subPool);
    return { PoolID: poolId(pool, subPool), Pool: pool, Data: {} };
  }

  async requestAddress(b: RequestAddress): Promise<unknown> {
    const { pool } = parsePoolId(b.PoolID);
    const net = await this.bySubnet(pool);
    const subnet = net && [...net.ipv4, ...net.ipv6].find((s) => s.subnet === pool);
    const wanted = b.Address ? stripPrefix(b.Address) : '';
    if (wanted) this.inside(wanted, pool);
    if (b.Options?.RequestAddressType === GATEWAY_REQUEST) {
      if (subnet && wanted && wanted !== subnet.gateway)
        throw invalid(`vxnet network ${net.name} has gateway ${subnet.gateway} in ${pool}, not ${wanted}`);
      return { Address: withPrefix(subnet?.gateway || wanted || defaultGateway(pool), pool), Data: {} };
    }
    // Before CreateNetwork, Docker asks for each --aux-address: the network does not exist yet and
    // keeps them itself once created.
    if (!net || !subnet) {
      if (!wanted) throw notFound(`no vxnet network has subnet ${pool}: was the Docker network created with -d vxnet?`);
      return { Address: withPrefix(wanted, pool), Data: {} };
    }
    if (wanted && Object.values(subnet.auxAddresses).includes(wanted))
      return { Address: withPrefix(wanted, pool), Data: {} };
    const addr = await this.endpoints.reserve(
      { ...net, ipv4: net.ipv4.filter((s) => s === subnet), ipv6: net.ipv6.filter((s) => s === subnet) },
      parseCidr(pool).v6,
      wanted,
    );
    return { Address: addr, Data: {} };
  }

  private inside(address: string, pool: string): void {
    const a = parseAddress(address);
    const c = parseCidr(pool);
    if (a.v6 !== c.v6 || !contains(c, a.value, a.v6)) throw invalid(`address ${address} is outside subnet ${pool}`);
  }

  async releaseAddress(b: ReleaseAddress): Promise<unknown> {
    const { pool } = parsePoolId(b.PoolID);
    const net = await this.bySubnet(pool);
    if (net && b.Address) await this.endpoints.releaseReservation(net.id, stripPrefix(b.Address));
    return {};
  }

  releasePool(): unknown {
    return {};
  }

  // --- networks ---------------------------------------------------------------------------------------

  async createNetwork(b: CreateNetwork): Promise<unknown> {
    const { name, req } = createRequest(b, this.subPools);
    const want = req.ipamConfig.map((c) => ({ subnet: c.subnet, gateway: c.gateway }));
    let net =
      (await this.allNetworks()).find((n) => n.name === name) ??
      (await this.store.listNetworks()).networks.find((n) => n.name === name);
    if (!net) {
      try {
        const created = await this.networks.create({ ...req, labels: { [CREATED_BY_DOCKER]: 'docker' } });
        net = (await this.network(created.id ?? ''))!;
        this.log.info('docker: created vxnet network', {
          network: name,
          dockerNetwork: b.NetworkID.slice(0, 12),
          scope: this.scope,
        });
      } catch (err) {
        // Another host's dockerd created it a moment ago (local scope): bind to that one.
        if (!(err instanceof VxError && err.reason === 'name-taken')) throw err;
        net = (await this.store.listNetworks()).networks.find((n) => n.name === name);
        if (!net) throw err;
      }
    }
    const mismatch = sameSubnets([...net.ipv4, ...net.ipv6], want);
    if (mismatch) throw invalid(`vxnet network ${name} exists and ${mismatch}`);
    if (net.internal !== req.internal)
      throw invalid(
        `vxnet network ${name} is ${net.internal ? '' : 'not '}internal: create the Docker network ${net.internal ? 'with' : 'without'} --internal`,
      );
    // One Docker network per vxnet network: per host in local scope, per cluster in global scope.
    const taken = (await this.store.listDockerNetworks()).find(
      (o) => o.networkId === net.id && o.dockerId !== b.NetworkID && (this.scope === 'global' || o.host === this.host),
    );
    if (taken)
      throw new VxError(
        status.ALREADY_EXISTS,
        `vxnet network ${name} is already Docker network ${taken.dockerId.slice(0, 12)}${this.scope === 'local' ? ' on this host' : ''}: use that one`,
      );
    const bind: DockerNetworkRecord = { dockerId: b.NetworkID, networkId: net.id, host: this.host, scope: this.scope };
    if (!(await this.store.putDockerNetwork(bind)))
      throw notFound(`vxnet network ${name} was removed while Docker created its network: try again`);
    this.bindings.set(b.NetworkID, bind);
    for (const c of req.ipamConfig) this.subPools.delete(c.subnet);
    return {};
  }

  async deleteNetwork(b: { NetworkID: string }): Promise<unknown> {
    const bind = this.bindings.get(b.NetworkID) ?? (await this.store.getDockerNetwork(b.NetworkID));
    this.bindings.delete(b.NetworkID);
    if (!bind) return {};
    await this.store.deleteDockerNetwork(b.NetworkID);
    const net = await this.store.getNetwork(bind.networkId);
    if (!net || net.labels[CREATED_BY_DOCKER] !== 'docker') return {};
    if ((await this.store.listDockerNetworks()).some((o) => o.networkId === net.id)) return {};
    try {
      await this.networks.delete(net.id);
      this.log.info('docker: removed vxnet network', { network: net.name });
    } catch (err) {
      // Endpoints that are not Docker's (vxnet connect, CNI) keep it; Docker's rm still succeeds.
      this.log.warn('docker: vxnet network kept after its last Docker network went', {
        network: net.name,
        reason: (err as Error).message,
      });
    }
    return {};
  }

  // --- endpoints --------------------------------------------------------------------------------------

  async createEndpoint(b: CreateEndpoint): Promise<unknown> {
    const { net } = await this.binding(b.NetworkID);
    if (!/^[0-9a-f]{64}$/.test(b.EndpointID)) throw invalid(`endpoint ID ${b.EndpointID} is not 64 hex digits`);
    const ifc = b.Interface ?? { Address: '', AddressIPv6: '', MacAddress: '' };
    if (!ifc.Address && !ifc.AddressIPv6)
      throw invalid(
        `Docker gave the endpoint no address on network ${net.name}: create the Docker network with --ipam-driver vxnet`,
      );
    const ipv4 = ifc.Address ? `${stripPrefix(ifc.Address)}/${ifc.Address.split('/')[1]}` : '';
    const ipv6 = ifc.AddressIPv6 ? `${stripPrefix(ifc.AddressIPv6)}/${ifc.AddressIPv6.split('/')[1]}` : '';
    // A stable MAC (from the IPv4 address, as Docker's own drivers make it) unless Docker has one.
    const mac = ifc.MacAddress ? parseMac(ifc.MacAddress) : ipv4 ? macFromIPv4(addressOf(ipv4)) : randomMac();
    const ep: EndpointRecord = {
      id: b.EndpointID,
      networkId: net.id,
      name: `docker-${b.EndpointID.slice(0, 12)}`,
      host: this.host,
      sandbox: '',
      ifname: '',
      mac,
      ipv4,
      ipv6,
      aliases: [],
      created: new Date().toISOString(),
      docker: { networkId: b.NetworkID, endpointId: b.EndpointID },
    };
    const rec = await this.endpoints.record(net, ep);
    return ifc.MacAddress ? {} : { Interface: { MacAddress: rec.mac } };
  }

  private async endpoint(b: EndpointRef): Promise<EndpointRecord | undefined> {
    const local = this.endpoints.findLocal(b.EndpointID);
    if (local) return local;
    const { net } = await this.binding(b.NetworkID);
    return (await this.store.listEndpoints(net.id)).find((e) => e.id === b.EndpointID);
  }

  async join(b: EndpointRef): Promise<unknown> {
    const ep = await this.endpoint(b);
    if (!ep)
      throw notFound(
        `endpoint ${b.EndpointID.slice(0, 12)} is not known to vxnet (CreateEndpoint did not reach this host's agent)`,
      );
    const { net } = await this.binding(b.NetworkID);
    const peer = dockerPeerName(ep.id);
    await this.endpoints.join(ep, peer);
    const gw = gatewaysOf(net);
    const gw4 = !net.internal && ep.ipv4 ? (gw.v4 ?? '') : '';
    const gw6 = !net.internal && ep.ipv6 ? (gw.v6 ?? '') : '';
    // The network's other subnets are on the same link (one bridge): connected routes (type 1).
    const own = addressesOf(ep).map((a) => parseCidr(a).text);
    const routes = [...(ep.ipv4 ? net.ipv4 : []), ...(ep.ipv6 ? net.ipv6 : [])]
      .filter((s) => !own.includes(s.subnet))
      .map((s) => ({ Destination: s.subnet, RouteType: 1 }));
    // The gateway is the network's own (anycast, on every host's bridge), so Docker adds no
    // docker_gwbridge; DisableGatewayService keeps it away from internal networks too.
    return {
      InterfaceName: { SrcName: peer, DstPrefix: 'eth' },
      Gateway: gw4,
      GatewayIPv6: gw6,
      DisableGatewayService: true,
      StaticRoutes: routes,
    };
  }

  leave(): unknown {
    return {};
  }

  async deleteEndpoint(b: EndpointRef): Promise<unknown> {
    const ep = await this.endpoint(b).catch((err: unknown) => {
      if (err instanceof VxError && err.code === status.NOT_FOUND) return undefined;
      throw err;
    });
    if (ep) await this.endpoints.disconnect(ep);
    return {};
  }

  async endpointInfo(b: EndpointRef): Promise<unknown> {
    const ep = this.endpoints.findLocal(b.EndpointID);
    return {
      Value: ep
        ? {
            'vxnet.network': this.state.snap?.networks.get(ep.networkId)?.name ?? '',
            'vxnet.host': ep.host,
            'vxnet.mac': ep.mac,
          }
        : {},
    };
  }
}
