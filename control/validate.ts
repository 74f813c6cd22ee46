import { exists, invalid } from './errors';
import { Cidr, contains, containsCidr, defaultGateway, overlaps, parseAddress, parseCidr } from './ipam';
import {
  EGRESS_MODES,
  EGRESS_OPTION,
  MTU_OPTION,
  NetworkRecord,
  SubnetConfig,
  VNI_MAX,
  VNI_MIN,
  VXLANID_OPTION,
} from './model';
import type { CreateNetworkRequest__Output } from './generated/vxnet/v1/CreateNetworkRequest';

// Pure validation of API input. Every message names the field and the value and says what would
// be accepted, so that a person can fix the request without reading the source.

export interface ValidatedCreate {
  name: string;
  ipv4: SubnetConfig[];
  ipv6: SubnetConfig[];
  vni?: number;
  mtu: number;
  labels: Record<string, string>;
  options: Record<string, string>;
  ipamOptions: Record<string, string>;
  internal: boolean;
  attachable: boolean;
  enableIPv6: boolean;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
export const MAX_NAME = 64;
const MAX_LABEL_KEY = 256;
const MAX_LABEL_VALUE = 4096;
const MAX_LABELS_TOTAL = 64 * 1024;
const DRIVERS = new Set(['', 'overlay', 'vxnet']);
const IPAM_DRIVERS = new Set(['', 'default', 'vxnet']);
// VNIs below 4096 are left to other VXLAN users on the same hosts (Docker's swarm overlay starts at
// 4096 too), so that vxnet never collides with a hand-made or Docker-made VXLAN.
const VXLANID_KEYS = [VXLANID_OPTION, 'vxlanid'];
const MTU_KEYS = [MTU_OPTION, 'mtu'];
const KNOWN_OPTIONS = [...VXLANID_KEYS, ...MTU_KEYS, EGRESS_OPTION];

export function validateNetworkName(name: string): string {
  if (!name) throw invalid('network name is required');
  if (name.length > MAX_NAME)
    throw invalid(
      `network name "${name.slice(0, 20)}..." is too long (${name.length} characters, at most ${MAX_NAME})`,
    );
  if (!NAME_RE.test(name))
    throw invalid(`network name "${name}" is invalid: use letters, digits and _ . - and start with a letter or digit`);
  return name;
}

export function validateNetworkRef(ref: string): string {
  if (!ref) throw invalid('network name or ID is required');
  if (ref.length > 128 || /[\s/]/.test(ref)) throw invalid(`"${ref.slice(0, 40)}" is not a network name or ID`);
  return ref;
}

export function validateEndpointName(name: string): string {
  if (!name) throw invalid('endpoint name is required');
  if (name.length > 128) throw invalid(`endpoint name "${name.slice(0, 20)}..." is too long (at most 128 characters)`);
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.:-]*$/.test(name))
    throw invalid(`endpoint name "${name}" is invalid: use letters, digits and _ . : -`);
  return name;
}

// The kernel's rules for interface names (dev_valid_name): 1-15 bytes, no '/', ':' or whitespace, not "." or "..".
export function validateIfname(name: string): string {
  if (!name) throw invalid('interface name is empty');
  if (Buffer.byteLength(name) > 15)
    throw invalid(`interface name "${name}" is too long (${Buffer.byteLength(name)} bytes, at most 15)`);
  if (name === '.' || name === '..' || /[/:\s]/.test(name))
    throw invalid(`interface name "${name}" is invalid: no '/', ':' or spaces, and not "." or ".."`);
  return name;
}

export function validateSandboxArg(s: string): string {
  if (!s)
    throw invalid('sandbox is required: a network namespace name under /run/netns or a path such as /proc/PID/ns/net');
  if (s.length > 4096 || s.includes('\0')) throw invalid('sandbox path is not valid');
  if (!s.includes('/') && !/^[a-zA-Z0-9_.-]+$/.test(s)) throw invalid(`sandbox "${s}" is not a valid namespace name`);
  return s;
}

function validateLabels(labels: Record<string, string>): Record<string, string> {
  let total = 0;
  for (const [k, v] of Object.entries(labels)) {
    if (!k) throw invalid('label key is empty: labels are key=value with a non-empty key');
    if (k.length > MAX_LABEL_KEY)
      throw invalid(`label key "${k.slice(0, 20)}..." is too long (at most ${MAX_LABEL_KEY} characters)`);
    if (v.length > MAX_LABEL_VALUE)
      throw invalid(`label ${k} has a value of ${v.length} characters (at most ${MAX_LABEL_VALUE})`);
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(k) || /[\x00-\x1f\x7f]/.test(v))
      throw invalid(`label ${JSON.stringify(k)} contains control characters`);
    total += k.length + v.length;
  }
  if (total > MAX_LABELS_TOTAL) throw invalid(`labels are too large (${total} bytes, at most ${MAX_LABELS_TOTAL})`);
  return { ...labels };
}

function optionValue(options: Record<string, string>, keys: string[]): [string, string] | undefined {
  const present = keys.filter((k) => k in options);
  if (present.length > 1) throw invalid(`options ${present.join(' and ')} mean the same: give one`);
  return present.length ? [present[0], options[present[0]]] : undefined;
}

function validateOptions(
  options: Record<string, string>,
  enableIPv6: boolean,
  internal: boolean,
): { vni?: number; mtu: number; stored: Record<string, string> } {
  for (const k of Object.keys(options)) {
    if (k === 'encrypted' || k === 'com.docker.network.driver.overlay.encrypted')
      throw invalid(
        'option encrypted is not supported: vxnet does not encrypt VXLAN traffic (use an encrypted underlay such as WireGuard)',
      );
    if (!KNOWN_OPTIONS.includes(k))
      throw invalid(
        `unknown option "${k}"; known options: vxlanid (${VXLANID_OPTION}), mtu (${MTU_OPTION}), ${EGRESS_OPTION} (${EGRESS_MODES.join(' or ')})`,
      );
  }
  let vni: number | undefined;
  const vx = optionValue(options, VXLANID_KEYS);
  if (vx) {
    if (!/^\d+$/.test(vx[1]))
      throw invalid(`option ${vx[0]}="${vx[1]}" must be one VXLAN id, a number from ${VNI_MIN} to ${VNI_MAX}`);
    vni = Number(vx[1]);
    if (vni < VNI_MIN || vni > VNI_MAX)
      throw invalid(
        `VXLAN id ${vni} is out of range: use ${VNI_MIN}-${VNI_MAX} (ids below ${VNI_MIN} are left to other VXLAN users)`,
      );
  }
  let mtu = 0;
  const m = optionValue(options, MTU_KEYS);
  if (m) {
    const min = enableIPv6 ? 1280 : 576;
    if (!/^\d+$/.test(m[1]) || Number(m[1]) < min || Number(m[1]) > 9000)
      throw invalid(`option ${m[0]}="${m[1]}" must be an MTU from ${min} to 9000`);
    mtu = Number(m[1]);
  }
  const stored: Record<string, string> = {};
  if (mtu) stored[MTU_OPTION] = String(mtu);
  const egress = options[EGRESS_OPTION];
  if (egress !== undefined) {
    if (!(EGRESS_MODES as readonly string[]).includes(egress))
      throw invalid(`option ${EGRESS_OPTION}="${egress}" is not an egress mode: use ${EGRESS_MODES.join(' or ')}`);
    if (internal && egress !== 'none')
      throw invalid(`option ${EGRESS_OPTION}=${egress} contradicts --internal: an internal network has no way out`);
    stored[EGRESS_OPTION] = egress;
  }
  return { ...(vni !== undefined ? { vni } : {}), mtu, stored };
}

function validateSubnet(cfg: {
  subnet: string;
  ipRange: string;
  gateway: string;
  auxiliaryAddresses: Record<string, string>;
}): SubnetConfig & { cidr: Cidr } {
  if (!cfg.subnet) {
    if (cfg.gateway || cfg.ipRange || Object.keys(cfg.auxiliaryAddresses).length)
      throw invalid('a gateway, ip-range or aux-address needs a subnet (--subnet)');
    throw invalid('an IPAM config without a subnet: give --subnet');
  }
  const cidr = parseCidr(cfg.subnet);
  if (cidr.prefix > cidr.bits - 2)
    throw invalid(`subnet ${cfg.subnet} is too small: at most /${cidr.bits - 2} (room for a gateway and an endpoint)`);
  const out: SubnetConfig & { cidr: Cidr } = { subnet: cidr.text, gateway: '', auxAddresses: {}, cidr };
  const inside = (what: string, addr: string): string => {
    const a = parseAddress(addr, what);
    if (!contains(cidr, a.value, a.v6)) throw invalid(`${what} ${a.text} is outside subnet ${cidr.text}`);
    if (a.value === cidr.network) throw invalid(`${what} ${a.text} is the network address of ${cidr.text}`);
    if (!cidr.v6 && a.value === cidr.last) throw invalid(`${what} ${a.text} is the broadcast address of ${cidr.text}`);
    return a.text;
  };
  out.gateway = cfg.gateway ? inside('gateway', cfg.gateway) : defaultGateway(cidr.text);
  if (cfg.ipRange) {
    const r = parseCidr(cfg.ipRange, 'ip-range');
    if (!containsCidr(cidr, r)) throw invalid(`ip-range ${cfg.ipRange} is not inside subnet ${cidr.text}`);
    out.ipRange = r.text;
  }
  for (const [name, addr] of Object.entries(cfg.auxiliaryAddresses)) {
    if (!name) throw invalid(`aux-address ${addr} has no name: use --aux-address name=ip`);
    const a = inside(`aux-address ${name}`, addr);
    if (a === out.gateway) throw invalid(`aux-address ${name}=${a} is the gateway`);
    out.auxAddresses[name] = a;
  }
  return out;
}

// Validates a Create request against the networks that exist; returns what to store. Throws
// INVALID_ARGUMENT for a malformed request and ALREADY_EXISTS for a clash with another network.
export function validateCreate(req: CreateNetworkRequest__Output, existing: NetworkRecord[]): ValidatedCreate {
  const name = validateNetworkName(req.name);
  if (!DRIVERS.has(req.driver))
    throw invalid(`driver ${req.driver} is not supported: vxnet networks use the overlay driver (-d overlay)`);
  if (!IPAM_DRIVERS.has(req.ipamDriver))
    throw invalid(`IPAM driver ${req.ipamDriver} is not supported: use the default IPAM driver`);
  const labels = validateLabels(req.labels ?? {});
  const opts = validateOptions(req.options ?? {}, req.enableIpv6, req.internal);
  const ipamOptions = validateLabels(req.ipamOptions ?? {});
  const subnets = (req.ipamConfig ?? []).map(validateSubnet);
  for (let i = 0; i < subnets.length; i++) {
    for (let j = i + 1; j < subnets.length; j++) {
      if (overlaps(subnets[i].cidr, subnets[j].cidr))
        throw invalid(`subnets ${subnets[i].subnet} and ${subnets[j].subnet} overlap`);
    }
  }
  const v6 = subnets.filter((s) => s.cidr.v6);
  if (v6.length && !req.enableIpv6)
    throw invalid(`subnet ${v6[0].subnet} is IPv6: add --ipv6 to enable IPv6 on the network`);
  if (req.enableIpv6 && !v6.length)
    throw invalid('--ipv6 needs an IPv6 subnet (--subnet fd00:1::/64): vxnet has no default IPv6 pool');
  // Clashes with what exists come last: they are ALREADY_EXISTS, not a malformed request.
  if (existing.some((n) => n.name === name)) throw exists(`network with name ${name} already exists`, 'name-taken');
  for (const s of subnets) {
    for (const n of existing) {
      for (const o of [...n.ipv4, ...n.ipv6]) {
        if (overlaps(s.cidr, parseCidr(o.subnet)))
          throw exists(`subnet ${s.subnet} overlaps with network ${n.name} (${o.subnet})`, 'subnet-overlap');
      }
    }
  }
  if (opts.vni !== undefined) {
    const other = existing.find((n) => n.vni === opts.vni);
    if (other) throw exists(`VXLAN id ${opts.vni} is already used by network ${other.name}`, 'vni-taken');
  }
  const strip = ({ cidr: _c, ...s }: SubnetConfig & { cidr: Cidr }): SubnetConfig => s;
  return {
    name,
    ipv4: subnets.filter((s) => !s.cidr.v6).map(strip),
    ipv6: v6.map(strip),
    ...(opts.vni !== undefined ? { vni: opts.vni } : {}),
    mtu: opts.mtu,
    labels,
    options: opts.stored,
    ipamOptions,
    internal: req.internal,
    attachable: req.attachable,
    enableIPv6: req.enableIpv6,
  };
}
