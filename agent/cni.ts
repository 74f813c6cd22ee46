import * as fs from 'fs';
import * as net from 'net';
import { status } from '@grpc/grpc-js';
import { VxError } from '../control/errors';
import { addressesOf } from '../control/model';
import type { EndpointRecord } from '../control/model';
import { addressOf } from '../control/ipam';
import type { ConnectResponse } from '../control/generated/vxnet/v1/ConnectResponse';
import type { Logger } from '../lib/log';
import { listenUnix } from './unixsocket';
import { sandboxFate } from './sandbox-identity';
import type { PathIdentity } from './sandbox-identity';

// The CNI side of the agent: the shim (native/cni-shim.c) hands over the runtime's request, this
// turns it into one Connect or Disconnect of the agent's own endpoint service, and answers in the
// CNI version the runtime asked for. Spec: containernetworking/cni SPEC.md 1.1.0.

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];

// CNI error codes; >= 100 are vxnet's own (documented in docs/cni.md).
export const CNI = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENV: 4,
  IO: 5,
  DECODE: 6,
  INVALID_CONFIG: 7,
  TRY_AGAIN: 11,
  NOT_AVAILABLE: 50,
  VX_INVALID: 100, // a request vxnet refuses (bad address, MAC, interface name, ...)
  VX_EXISTS: 101, // interface, address or endpoint name already in use
  VX_NOT_FOUND: 102, // the vxnet network does not exist
  VX_EXHAUSTED: 103, // no address left
  VX_PRECONDITION: 104,
  VX_CHECK_FAILED: 105, // CHECK found the kernel or the store different from the result
  VX_INTERNAL: 110,
};

export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details = '',
  ) {
    super(message);
  }
}

export interface CniBackend {
  host: string; // this agent's host name: CNI identities are per host
  connect(
    req: {
      network: string;
      sandbox: string;
      interfaceName: string;
      ipv4Address: string;
      ipv6Address: string;
      macAddress: string;
      aliases: string[];
      name: string;
    },
    cni: { containerId: string; ifname: string },
    access?: string,
  ): Promise<ConnectResponse>;
  findByCni(containerId: string, ifname: string): EndpointRecord | undefined;
  localCniEndpoints(network: string): EndpointRecord[]; // by network name or ID
  disconnectEndpoint(ep: EndpointRecord): Promise<void>;
  sandboxAddresses(sandbox: string, ifname: string): Promise<string[] | undefined>;
  identify(sandbox: string): PathIdentity;
  etcdHealthy(): Promise<boolean>;
  gateways(networkId: string): { v4: string; v6: string; internal: boolean };
  // The resolver for the result's `dns` (podman writes it into the container's resolv.conf).
  dns?(networkId: string): { nameservers: string[]; search: string[]; options: string[] } | undefined;
}

interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  network?: string;
  agent?: string;
  mtu?: number;
  runtimeConfig?: { ips?: string[]; mac?: string; aliases?: Record<string, string[]>; portMappings?: unknown[] };
  prevResult?: { ips?: { address: string }[]; interfaces?: { name: string; mac?: string }[] };
  args?: unknown;
  'cni.dev/valid-attachments'?: { containerID: string; ifname: string }[];
  'cni.dev/attachments'?: { containerID: string; ifname: string }[];
}

function cniArgs(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of (s ?? '').split(';')) {
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

function fromVx(err: VxError): CniError {
  const code =
    {
      [status.INVALID_ARGUMENT]: CNI.VX_INVALID,
      [status.ALREADY_EXISTS]: CNI.VX_EXISTS,
      [status.NOT_FOUND]: CNI.VX_NOT_FOUND,
      [status.RESOURCE_EXHAUSTED]: CNI.VX_EXHAUSTED,
      [status.FAILED_PRECONDITION]: CNI.VX_PRECONDITION,
      [status.UNAVAILABLE]: CNI.TRY_AGAIN,
    }[err.code as number] ?? CNI.VX_INTERNAL;
  return new CniError(code, err.message);
}

// Pure: the endpoint name of a CNI attachment. Container IDs are the runtime's, unique on one host
// only (ctr's `default-web` on two hosts, a pod sandbox restored elsewhere), while endpoint names
// are unique in a network cluster-wide: the host is part of the name, first, so that `inspect`
// groups a host's attachments and shows where each lives. Characters an endpoint name cannot
// hold become '_'; the ID is cut to 24 characters (96 bits of a 64-hex ID) to stay readable.
export function cniEndpointName(host: string, containerId: string, ifname: string): string {
  const safe = (s: string): string => s.replace(/[^a-zA-Z0-9_.:-]/g, '_');
  return `cni-${safe(host)}-${safe(containerId.slice(0, 24))}-${safe(ifname)}`;
}

// Pure: an ADD result in the version the runtime asked for.
export function formatResult(
  version: string,
  ep: EndpointRecord,
  gw: { v4: string; v6: string; internal: boolean },
  sandbox: string,
  mtu: number,
  dns?: { nameservers: string[]; search: string[]; options: string[] },
): Record<string, unknown> {
  const old = version.startsWith('0.');
  const ips = addressesOf(ep).map((a) => {
    const v6 = a.includes(':');
    const gateway = v6 ? gw.v6 : gw.v4;
    return { ...(old ? { version: v6 ? '6' : '4' } : {}), address: a, ...(gateway ? { gateway } : {}), interface: 0 };
  });
  const routes = gw.internal
    ? []
    : [
        ...(ep.ipv4 && gw.v4 ? [{ dst: '0.0.0.0/0', gw: gw.v4 }] : []),
        ...(ep.ipv6 && gw.v6 ? [{ dst: '::/0', gw: gw.v6 }] : []),
      ];
  return {
    cniVersion: version,
    interfaces: [{ name: ep.ifname, mac: ep.mac, sandbox, ...(version === '1.1.0' ? { mtu } : {}) }],
    ips,
    routes,
    dns: dns ? { nameservers: dns.nameservers, domain: dns.search[0], search: dns.search, options: dns.options } : {},
  };
}

export class CniServer {
  private server: net.Server | undefined;

  constructor(
    private readonly backend: CniBackend,
    private readonly log: Logger,
  ) {}

  async listen(path: string): Promise<void> {
    // Half-open: the shim shuts its write side to mark the end of the request, then reads the answer.
    this.server = net.createServer({ allowHalfOpen: true }, (c) => this.serve(c));
    await listenUnix(this.server, path);
  }

  close(): void {
    this.server?.close();
  }

  private serve(c: net.Socket): void {
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', () => undefined);
    c.on('end', () => {
      void this.handleRaw(Buffer.concat(chunks).toString()).then(({ exit, stdout }) =>
        c.end(JSON.stringify({ exit, stdout })),
      );
    });
  }

  async handleRaw(raw: string): Promise<{ exit: number; stdout: string }> {
    let version = '1.0.0';
    try {
      let req: { env: Record<string, string>; stdin: string };
      try {
        req = JSON.parse(raw) as { env: Record<string, string>; stdin: string };
      } catch {
        throw new CniError(CNI.IO, 'malformed request from the vxnet CNI shim');
      }
      const env = req.env ?? {};
      const cmd = env.CNI_COMMAND;
      if (!cmd) throw new CniError(CNI.INVALID_ENV, 'CNI_COMMAND is not set');
      let conf: NetConf;
      try {
        // The shim lets VERSION, STATUS and GC through without stdin (some callers send none).
        const bare = ['VERSION', 'STATUS', 'GC'].includes(cmd) && !req.stdin?.trim();
        conf = JSON.parse(bare ? '{}' : req.stdin) as NetConf;
      } catch (err) {
        throw new CniError(CNI.DECODE, 'the network configuration on stdin is not valid JSON', (err as Error).message);
      }
      if (typeof conf !== 'object' || conf === null)
        throw new CniError(CNI.DECODE, 'the network configuration on stdin is not a JSON object');
      version = typeof conf.cniVersion === 'string' && conf.cniVersion ? conf.cniVersion : '1.0.0';
      if (!SUPPORTED_VERSIONS.includes(version))
        throw new CniError(
          CNI.INCOMPATIBLE_VERSION,
          `cniVersion ${version} is not supported`,
          `supported: ${SUPPORTED_VERSIONS.join(', ')}`,
        );
      const out = await this.handle(cmd, env, conf, version);
      return { exit: 0, stdout: out ? `${JSON.stringify(out)}\n` : '' };
    } catch (err) {
      const e =
        err instanceof CniError
          ? err
          : err instanceof VxError
            ? fromVx(err)
            : new CniError(CNI.VX_INTERNAL, (err as Error).message);
      this.log.info('CNI request refused', { code: e.code, reason: e.message });
      return {
        exit: 1,
        stdout: `${JSON.stringify({ cniVersion: version, code: e.code, msg: e.message, details: e.details })}\n`,
      };
    }
  }

  // The runtime may keep its namespaces under a /run/netns of its own mount namespace (podman does):
  // the shim then also sends the path through its own /proc/<pid>/root, which this process can open
  // while the shim waits for the answer.
  private access(env: Record<string, string>): string | undefined {
    if (fs.existsSync(env.CNI_NETNS)) return undefined;
    const via = env.CNI_VXNET_NETNS_ACCESS;
    return via && fs.existsSync(via) ? via : undefined;
  }

  private need(env: Record<string, string>, names: string[]): void {
    const missing = names.filter((n) => !env[n]);
    if (missing.length)
      throw new CniError(CNI.INVALID_ENV, `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set`);
  }

  private async handle(
    cmd: string,
    env: Record<string, string>,
    conf: NetConf,
    version: string,
  ): Promise<Record<string, unknown> | undefined> {
    const valid = (): void => {
      if (conf.type !== 'vxnet') throw new CniError(CNI.INVALID_CONFIG, `type is "${conf.type}", not vxnet`);
      if (!conf.network && !conf.name)
        throw new CniError(CNI.INVALID_CONFIG, 'the configuration names no vxnet network ("network")');
    };
    switch (cmd) {
      case 'VERSION':
        return { cniVersion: version, supportedVersions: SUPPORTED_VERSIONS };
      case 'ADD': {
        this.need(env, ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME']);
        valid();
        const args = cniArgs(env.CNI_ARGS);
        const known = new Set([
          'IgnoreUnknown',
          'IP',
          'MAC',
          'K8S_POD_NAME',
          'K8S_POD_NAMESPACE',
          'K8S_POD_INFRA_CONTAINER_ID',
          'K8S_POD_UID',
        ]);
        const unknown = Object.keys(args).filter((k) => !known.has(k));
        if (unknown.length && !/^(1|true)$/i.test(args.IgnoreUnknown ?? ''))
          throw new CniError(
            CNI.INVALID_ENV,
            `unknown CNI_ARGS ${unknown.join(', ')} (set IgnoreUnknown=1 to ignore them)`,
          );
        const rc = conf.runtimeConfig ?? {};
        const ips = [...(rc.ips ?? []), ...(args.IP ? args.IP.split(',') : [])].map(addressOf);
        const ip4 = ips.find((a) => !a.includes(':')) ?? '';
        const ip6 = ips.find((a) => a.includes(':')) ?? '';
        const network = conf.network ?? conf.name;
        const res = await this.backend.connect(
          {
            network,
            sandbox: env.CNI_NETNS,
            interfaceName: env.CNI_IFNAME,
            ipv4Address: ip4,
            ipv6Address: ip6,
            macAddress: rc.mac ?? args.MAC ?? '',
            aliases: rc.aliases?.[conf.name] ?? rc.aliases?.[network] ?? [],
            name: cniEndpointName(this.backend.host, env.CNI_CONTAINERID, env.CNI_IFNAME),
          },
          { containerId: env.CNI_CONTAINERID, ifname: env.CNI_IFNAME },
          this.access(env),
        );
        const ep = this.backend.findByCni(env.CNI_CONTAINERID, env.CNI_IFNAME)!;
        return formatResult(
          version,
          ep,
          this.backend.gateways(ep.networkId),
          env.CNI_NETNS,
          res.mtu ?? 0,
          this.backend.dns?.(ep.networkId),
        );
      }
      case 'DEL': {
        this.need(env, ['CNI_CONTAINERID', 'CNI_IFNAME']);
        const ep = this.backend.findByCni(env.CNI_CONTAINERID, env.CNI_IFNAME);
        if (ep) await this.backend.disconnectEndpoint(ep); // gone already: DEL succeeds, as the spec asks
        return undefined;
      }
      case 'CHECK': {
        this.need(env, ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME']);
        valid();
        const ep = this.backend.findByCni(env.CNI_CONTAINERID, env.CNI_IFNAME);
        if (!ep)
          throw new CniError(
            CNI.VX_CHECK_FAILED,
            `no vxnet endpoint for container ${env.CNI_CONTAINERID} interface ${env.CNI_IFNAME}`,
          );
        const want = addressesOf(ep);
        const prev = (conf.prevResult?.ips ?? []).map((i) => i.address);
        const diffPrev = prev.filter((a) => !want.includes(a));
        if (diffPrev.length)
          throw new CniError(
            CNI.VX_CHECK_FAILED,
            `prevResult has ${diffPrev.join(', ')} but the endpoint has ${want.join(', ')}`,
          );
        const reach = this.access(env) ?? env.CNI_NETNS;
        // The spec's CHECK compares namespaces, not paths: the one ADD attached must be the one given.
        if (ep.netns && sandboxFate({ dev: ep.netns.dev, ino: ep.netns.ino }, this.backend.identify(reach)) !== 'same')
          throw new CniError(
            CNI.VX_CHECK_FAILED,
            `${env.CNI_NETNS} is not the network namespace that ADD attached container ${env.CNI_CONTAINERID} to (it ended, or the path names another one now)`,
          );
        const have = await this.backend.sandboxAddresses(reach, env.CNI_IFNAME);
        if (!have)
          throw new CniError(CNI.VX_CHECK_FAILED, `interface ${env.CNI_IFNAME} is missing in ${env.CNI_NETNS}`);
        const missing = want.filter((a) => !have.includes(a));
        if (missing.length)
          throw new CniError(
            CNI.VX_CHECK_FAILED,
            `interface ${env.CNI_IFNAME} in ${env.CNI_NETNS} lacks ${missing.join(', ')}`,
          );
        return undefined;
      }
      case 'STATUS':
        if (!(await this.backend.etcdHealthy()))
          throw new CniError(CNI.NOT_AVAILABLE, 'vxnet cannot reach etcd: new attachments would fail');
        return undefined;
      case 'GC': {
        valid();
        const keep = conf['cni.dev/valid-attachments'] ?? conf['cni.dev/attachments'] ?? [];
        const keepSet = new Set(keep.map((a) => `${a.containerID}/${a.ifname}`));
        for (const ep of this.backend.localCniEndpoints(conf.network ?? conf.name)) {
          if (!ep.cni || keepSet.has(`${ep.cni.containerId}/${ep.cni.ifname}`)) continue;
          this.log.info('CNI GC: removing an attachment the runtime no longer has', {
            container: ep.cni.containerId,
            ifname: ep.cni.ifname,
            ip: ep.ipv4,
          });
          await this.backend.disconnectEndpoint(ep);
        }
        return undefined;
      }
      default:
        throw new CniError(CNI.INVALID_ENV, `CNI_COMMAND ${cmd} is not one of ADD, DEL, CHECK, VERSION, STATUS, GC`);
    }
  }
}
