import { createHash } from 'crypto';
import * as fs from 'fs';
import { RtNetlinkSocket, rt } from 'netlink';
import * as ifla from 'netlink/dist/rt/ifla';
import type { DesiredNetwork, Self } from './desired';
import type { PathIdentity } from './sandbox-identity';
import { openRtNetlink, openIdentified, checkNetns, checkIdentity, pathIdentity } from './dataplane/netns';
import { arpAnnouncements, FRAME } from './dataplane/announce';
import { nativeAddon } from './dataplane/native';
import { NeighBatcher, NeighKind, NeighOp, EntryFields, ENOENT, ESRCH, putIPv4, putIPv6, putMac } from './dataplane/batch';
import { attrAt, ipText, macText } from './dataplane/dump';
import { EntryDumper } from './dataplane/entry-dump';
import { bridgeName, isHostVeth, vniOfDevice, vxlanName } from './names';
import type { Logger } from '../lib/log';
import type { ActualNetwork, ActualState, ActualVeth, Attachment, FdbEntry, Kernel, NeighEntry, OpenSandbox, Sandboxes } from './dataplane/types';

const NLM_F_REPLACE = 0x100;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_BRIDGE = 7;
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;
const IFLA_NET_NS_FD = 28;
const IFLA_PROTINFO = 12;
const NLA_F_NESTED = 0x8000;
const IFLA_BRPORT_LEARNING = 8;
const IFLA_BRPORT_UNICAST_FLOOD = 9;
const RTM_SETLINK = 19;
const RTM_NEWNEIGH = 28;
const NDA_LLADDR = 2;
const NUD_NOARP = 0x40; // a bridge FDB entry's state when it is static
const NTF_MASTER = 0x04;
const NLM_F_DUMP = 0x300;

const FDB_FIELDS: EntryFields<FdbEntry> = { mac: (e) => e.mac, addr: (e) => e.dst };
const NEIGH_FIELDS: EntryFields<NeighEntry> = { mac: (e) => e.mac, addr: (e) => e.ip };

// --- small encoders for what the netlink package cannot express (a veth peer's nested ifinfomsg) ---
function nlattr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const buf = Buffer.alloc((len + 3) & ~3);
  buf.writeUInt16LE(len, 0);
  buf.writeUInt16LE(type, 2);
  payload.copy(buf, 4);
  return buf;
}
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
};
const cstr = (s: string): Buffer => Buffer.concat([Buffer.from(s), Buffer.from([0])]);

// Text to bytes with the parsers the FDB/neighbor batches use (dataplane/batch.ts). The addresses
// and MACs come from records validated when they were written.
export function macBytes(mac: string): Buffer {
  const b = Buffer.alloc(6);
  putMac(b, 0, mac);
  return b;
}
export function ipBytes(ip: string): Buffer {
  const v6 = ip.includes(':');
  const b = Buffer.alloc(v6 ? 16 : 4);
  if (v6) putIPv6(b, 0, ip);
  else putIPv4(b, 0, ip);
  return b;
}

export function macString(b: Buffer | undefined): string {
  return b ? macText(b, 0, b.length) : '';
}
export function ipString(b: Buffer | undefined): string {
  return b ? ipText(b, 0, b.length) : '';
}

// A stable, locally administered MAC for our bridges: the gateway's MAC must not change when ports
// come and go (the kernel would otherwise take the lowest port MAC), or containers' ARP goes stale.
function bridgeMac(host: string, vni: number): Buffer {
  const h = createHash('sha256').update(`${host}/${vni}`).digest();
  h[0] = (h[0] & 0xfe) | 0x02;
  return h.subarray(0, 6);
}

// The errno name of a netlink failure ("Request rejected: ENODEV" carries it only in the text).
function errno(err: unknown): string {
  const e = err as { errno?: number; code?: string; message?: string };
  if (e.code) return e.code;
  return /\b(E[A-Z0-9]{2,})\b/.exec(e.message ?? '')?.[1] ?? e.message ?? String(err);
}

interface LinkInfo {
  index: number;
  name: string;
  kind: string;
  master: number;
  mtu: number;
  up: boolean;
  vxlan?: { vni: number; local: string; port: number; learning: boolean; proxy: boolean };
  flood: boolean; // a bridge port that gets unknown unicast (false when not a bridge port)
}

function parseLink(m: rt.LinkMessage): LinkInfo {
  const info = m.attrs.linkinfo ? ifla.parseInfo(m.attrs.linkinfo) : {};
  const l: LinkInfo = { index: m.data.index ?? 0, name: m.attrs.ifname ?? '', kind: info.kind ?? '', master: m.attrs.master ?? 0, mtu: m.attrs.mtu ?? 0, up: !!m.data.flags?.up, flood: false };
  if (info.slaveKind === 'bridge' && info.slaveData) {
    const at = attrAt(info.slaveData, 0, IFLA_BRPORT_UNICAST_FLOOD);
    l.flood = at >= 0 && info.slaveData[at + 4] !== 0;
  }
  if (info.kind === 'vxlan' && info.data) {
    const v = ifla.parseVxlan(info.data);
    l.vxlan = { vni: v.id ?? 0, local: ipString(v.local ?? v.local6), port: v.port ? v.port.readUInt16BE(0) : 0, learning: !!v.learning, proxy: !!v.proxy };
  }
  return l;
}

// The agent's netlink adapter: the kernel as the reconciler and Connect see it. One socket in the
// host's namespace, kept open; one short-lived socket per sandbox operation.
export class NetlinkKernel implements Kernel, Sandboxes {
  private readonly sock: RtNetlinkSocket;   // writes: many in flight, each answered by an ACK
  private readonly reader: RtNetlinkSocket; // dumps: one at a time, never mixed with writes
  private readonly batcher = new NeighBatcher(); // FDB and neighbor entries, many per sendmsg
  private readonly entries = new EntryDumper();  // and their dumps

  constructor(private readonly self: Self, private readonly log: Logger) {
    this.sock = openRtNetlink();
    this.reader = openRtNetlink();
  }

  close(): void {
    this.sock.socket.close();
    this.reader.socket.close();
    this.batcher.close();
    this.entries.close();
  }

  // The kernel allows one dump at a time per netlink socket (a second one gets EBUSY): dumps queue.
  private dumping: Promise<unknown> = Promise.resolve();
  private dump<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.dumping.then(fn, fn);
    this.dumping = run.catch(() => undefined);
    return run;
  }

  private async links(): Promise<LinkInfo[]> {
    return (await this.dump(() => this.reader.getLinks())).map(parseLink);
  }

  // One link by name (RTM_GETLINK with IFLA_IFNAME): no dump of every link on the host.
  private async link(name: string): Promise<LinkInfo | undefined> {
    try {
      const r = await this.sock.getLink({}, { ifname: name });
      return r[0] ? parseLink(r[0]) : undefined;
    } catch (err) {
      if (errno(err) === 'ENODEV') return undefined;
      throw new Error(`failed to look up ${name}: ${errno(err)}`, { cause: err });
    }
  }

  // --- Kernel (reconciler) --------------------------------------------------------------------------

  // `withEntries` false: devices, addresses and veths only, no FDB or neighbor dump (the costly part
  // with many remote endpoints); the caller knows the entries from its own writes.
  async readActual(withEntries = true): Promise<ActualState> {
    const links = await this.links();
    const networks = new Map<number, ActualNetwork>();
    const byIndex = new Map<number, ActualNetwork>();
    const get = (vni: number): ActualNetwork => {
      let n = networks.get(vni);
      if (!n) networks.set(vni, (n = { vni, fdb: new Map(), neigh: new Map() }));
      return n;
    };
    const veths = new Map<string, ActualVeth>();
    const vethByIndex = new Map<number, Set<string>>(); // static FDB entries of each veth, when dumped
    for (const l of links) {
      const dev = vniOfDevice(l.name);
      if (dev?.kind === 'vxlan' && l.kind === 'vxlan' && l.vxlan) {
        const n = get(dev.vni);
        n.vxlan = { index: l.index, ...l.vxlan, up: l.up, mtu: l.mtu, master: l.master };
        byIndex.set(l.index, n);
      } else if (dev?.kind === 'vxlan') {
        get(dev.vni); // a device with our name but the wrong kind: reported, so it is replaced
      } else if (dev?.kind === 'bridge' && l.kind === 'bridge') {
        get(dev.vni).bridge = { index: l.index, up: l.up, mtu: l.mtu, addresses: [] };
      } else if (isHostVeth(l.name)) {
        const macs = withEntries ? new Set<string>() : undefined;
        if (macs) vethByIndex.set(l.index, macs);
        veths.set(l.name, { index: l.index, master: l.master, flood: l.flood, ...(macs ? { macs } : {}) });
      }
    }
    for (const v of this.verified) if (!networks.get(v)?.vxlan || !networks.get(v)?.bridge) this.verified.delete(v);
    if (networks.size === 0) {
      for (const v of veths.values()) delete v.macs; // not read: no FDB dump without a network
      return { networks, veths };
    }
    const bridges = new Map([...networks.values()].filter((n) => n.bridge).map((n) => [n.bridge!.index, n]));
    for (const a of await this.dump(() => this.reader.getAddresses())) {
      const n = bridges.get(a.data.index ?? -1);
      if (n) n.bridge!.addresses.push(`${ipString(a.attrs.local ?? a.attrs.address)}/${a.data.prefixlen}`);
    }
    if (!withEntries) return { networks, veths };
    // One dump, both kinds: the vxlan devices' entries (a destination) and the ports' static ones.
    await this.entries.dump(AF_BRIDGE, 'fdb', (ifindex, mac, dst) => {
      if (dst) byIndex.get(ifindex)?.fdb.set(mac, dst);
      else vethByIndex.get(ifindex)?.add(mac);
    });
    for (const family of [AF_INET, AF_INET6]) await this.entries.dump(family, 'neigh', (ifindex, mac, ip) => byIndex.get(ifindex)?.neigh.set(ip, mac));
    return { networks, veths };
  }

  // The raw payloads of a dump of one message type and family whose request header is 12 bytes
  // with the family first (ndmsg, rtmsg, fib_rule_hdr): ./dataplane/dump and ./isolation read them.
  async dumpRaw(type: number, family: number): Promise<Buffer[]> {
    const hdr = Buffer.alloc(12);
    hdr[0] = family;
    const [msgs] = await this.dump(() => this.reader.socket.request(type, hdr, { flags: NLM_F_DUMP }));
    return msgs.map((m) => m.data);
  }

  private readonly verified = new Set<number>();
  // Returns the bridge's index, which the attach that follows needs.
  async ensureDevicesCached(net: DesiredNetwork): Promise<number> {
    // Not while the reconciler's removal or another ensure of this VNI is queued: it may delete the
    // bridge between this look-up and the attach that follows.
    if (this.verified.has(net.vni) && !this.ensuring.has(net.vni)) {
      // Still one cheap look-up: a bridge deleted by hand since must not fail the Connect.
      const br = await this.link(net.bridge);
      if (br?.kind === 'bridge' && br.up) return br.index;
      this.verified.delete(net.vni);
    }
    await this.ensureDevices(net);
    const br = await this.link(net.bridge);
    if (!br) throw new Error(`bridge ${net.bridge} vanished after it was made`);
    return br.index;
  }

  // Connects and the reconciler may ensure or remove one network's devices at once: one at a time
  // per VNI, in the order asked (a removal interleaved with an ensure made a vxlan device whose
  // bridge had just gone: EINVAL).
  private readonly ensuring = new Map<number, Promise<void>>();
  ensureDevices(net: DesiredNetwork): Promise<void> {
    this.verified.delete(net.vni);
    return this.serialized(net.vni, async () => {
      await this.ensureDevicesNow(net);
      this.verified.add(net.vni);
    });
  }

  // Queued synchronously: a caller that checks for requests in flight and then calls this leaves no
  // gap in which an ensure could slip in unordered.
  private serialized(vni: number, work: () => Promise<void>): Promise<void> {
    const prev = this.ensuring.get(vni) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(work);
    const tail = run.catch(() => undefined);
    this.ensuring.set(vni, tail);
    void tail.then(() => {
      if (this.ensuring.get(vni) === tail) this.ensuring.delete(vni);
    });
    return run;
  }

  private async ensureDevicesNow(net: DesiredNetwork): Promise<void> {
    let br = await this.link(net.bridge);
    if (br && br.kind !== 'bridge') {
      await this.del(br.index, net.bridge);
      br = undefined;
    }
    if (!br) {
      try {
        await this.sock.newLink({}, { ifname: net.bridge, mtu: net.mtu, address: bridgeMac(this.self.name, net.vni), linkinfo: ifla.formatInfo({ kind: 'bridge' }) as Buffer }, { flags: NLM_F_CREATE | NLM_F_EXCL });
      } catch (err) {
        if (errno(err) !== 'EEXIST') throw new Error(`failed to create bridge ${net.bridge}: ${errno(err)}`, { cause: err });
      }
      br = await this.link(net.bridge);
      if (!br) throw new Error(`bridge ${net.bridge} vanished after creation`);
    }
    if (!br.up || br.mtu !== net.mtu) await this.sock.setLink({ index: br.index, flags: { up: true }, change: { up: true } }, { mtu: net.mtu });

    let vx = await this.link(net.vxlan);
    const v = vx?.vxlan;
    if (vx && (!v || v.vni !== net.vni || v.local !== this.self.vtep || v.port !== this.self.vxlanPort || v.learning || !v.proxy)) {
      this.log.warn('replacing incompatible vxlan device', { device: net.vxlan, found: v ?? vx.kind });
      await this.del(vx.index, net.vxlan);
      vx = undefined;
    }
    if (!vx) {
      const port = Buffer.alloc(2);
      port.writeUInt16BE(this.self.vxlanPort, 0);
      const local = ipBytes(this.self.vtep);
      const data = ifla.formatVxlan({ id: net.vni, ...(local.length === 4 ? { local } : { local6: local }), port, learning: 0, proxy: 1, ttl: 0 });
      try {
        await this.sock.newLink({}, { ifname: net.vxlan, mtu: net.mtu, master: br.index, linkinfo: ifla.formatInfo({ kind: 'vxlan', data: data as Buffer }) as Buffer }, { flags: NLM_F_CREATE | NLM_F_EXCL });
      } catch (err) {
        throw new Error(`failed to create vxlan ${net.vxlan} (vni ${net.vni}, local ${this.self.vtep}, port ${this.self.vxlanPort}): ${errno(err)}`, { cause: err });
      }
      vx = await this.link(net.vxlan);
      if (!vx) throw new Error(`vxlan ${net.vxlan} vanished after creation`);
    }
    if (!vx.up || vx.master !== br.index || vx.mtu !== net.mtu) {
      await this.sock.setLink({ index: vx.index, flags: { up: true }, change: { up: true } }, { master: br.index, mtu: net.mtu });
    }
    await this.quietPort(vx.index, net.vxlan);
    const have = new Set((await this.dump(() => this.reader.getAddresses())).filter((a) => a.data.index === br.index).map((a) => `${ipString(a.attrs.local ?? a.attrs.address)}/${a.data.prefixlen}`));
    for (const g of net.gateways) {
      if (have.has(g)) continue;
      const [ip, len] = g.split('/');
      const b = ipBytes(ip);
      try {
        await this.sock.newAddress({ family: b.length === 4 ? AF_INET : AF_INET6, prefixlen: Number(len), index: br.index }, { local: b, address: b }, { flags: NLM_F_CREATE | NLM_F_REPLACE });
      } catch (err) {
        throw new Error(`failed to add gateway ${g} to ${net.bridge}: ${errno(err)}`, { cause: err });
      }
    }
  }

  // The bridge must not learn remote MACs on the VXLAN port: a learned entry outlives the endpoint
  // it came from (flannel #654). Frames to remote MACs therefore reach the port as unknown unicast
  // (flooded to it alone: the endpoints' ports get none, staticPort), and the VXLAN device forwards
  // them by its own FDB, which has no default
  // destination: nothing is ever flooded onto the underlay. Broadcast ARP reaches the device's
  // proxy, which answers from the neighbor table.
  private async quietPort(index: number, name: string): Promise<void> {
    const ifinfo = Buffer.alloc(16);
    ifinfo.writeUInt8(AF_BRIDGE, 0);
    ifinfo.writeInt32LE(index, 4);
    const protinfo = nlattr(IFLA_PROTINFO | NLA_F_NESTED, nlattr(IFLA_BRPORT_LEARNING, Buffer.from([0])));
    try {
      await this.sock.request(RTM_SETLINK, Buffer.concat([ifinfo, protinfo]));
    } catch (err) {
      throw new Error(`failed to turn off learning on bridge port ${name}: ${errno(err)}`, { cause: err });
    }
  }

  // An endpoint's port (diff.ts, portProblem): its container's MAC as a static entry of the bridge,
  // then no unknown unicast flooded to it. In this order, so that the MAC is never unknown there
  // once flooding has stopped; one socket keeps the order.
  private async staticPort(index: number, name: string, mac: string): Promise<void> {
    const ndmsg = Buffer.alloc(12);
    ndmsg.writeUInt8(AF_BRIDGE, 0);
    ndmsg.writeInt32LE(index, 4);
    ndmsg.writeUInt16LE(NUD_NOARP, 8);
    ndmsg.writeUInt8(NTF_MASTER, 10);
    const ifinfo = Buffer.alloc(16);
    ifinfo.writeUInt8(AF_BRIDGE, 0);
    ifinfo.writeInt32LE(index, 4);
    try {
      await Promise.all([
        this.sock.request(RTM_NEWNEIGH, Buffer.concat([ndmsg, nlattr(NDA_LLADDR, macBytes(mac))]), { flags: NLM_F_CREATE | NLM_F_REPLACE }),
        this.sock.request(RTM_SETLINK, Buffer.concat([ifinfo, nlattr(IFLA_PROTINFO | NLA_F_NESTED, nlattr(IFLA_BRPORT_UNICAST_FLOOD, Buffer.from([0])))])),
      ]);
    } catch (err) {
      throw new Error(`failed to make ${name} a static bridge port for ${mac}: ${errno(err)}`, { cause: err });
    }
  }

  private async del(index: number, name: string): Promise<void> {
    try {
      await this.sock.delLink({ index });
    } catch (err) {
      if (errno(err) !== 'ENODEV') throw new Error(`failed to delete ${name}: ${errno(err)}`, { cause: err });
    }
  }

  removeDevices(vni: number): Promise<void> {
    this.verified.delete(vni);
    return this.serialized(vni, async () => {
      this.verified.delete(vni);
      for (const name of [vxlanName(vni), bridgeName(vni)]) {
        const l = await this.link(name);
        if (l) await this.del(l.index, name);
      }
    });
  }

  private async vxIndex(vni: number): Promise<number> {
    const l = await this.link(vxlanName(vni));
    if (!l) throw new Error(`vxlan ${vxlanName(vni)} does not exist`);
    return l.index;
  }

  fdbAdd(vni: number, entries: FdbEntry[]): Promise<void> {
    return this.bulk(vni, 'fdb', 'add', entries, FDB_FIELDS);
  }

  fdbDel(vni: number, entries: FdbEntry[]): Promise<void> {
    return this.bulk(vni, 'fdb', 'del', entries, FDB_FIELDS);
  }

  neighAdd(vni: number, entries: NeighEntry[]): Promise<void> {
    return this.bulk(vni, 'neigh', 'add', entries, NEIGH_FIELDS);
  }

  neighDel(vni: number, entries: NeighEntry[]): Promise<void> {
    return this.bulk(vni, 'neigh', 'del', entries, NEIGH_FIELDS);
  }

  // Deleting what is already gone is success (idempotent); any other failure names the entry.
  private async bulk<T>(vni: number, kind: NeighKind, op: NeighOp, entries: T[], fields: EntryFields<T>): Promise<void> {
    const ifindex = await this.vxIndex(vni);
    const failed = (await this.batcher.send(kind, op, ifindex, entries, fields)).filter((f) => !(op === 'del' && (f.errno === ENOENT || f.errno === ESRCH)));
    if (failed.length) {
      const f = failed[0];
      const what = `${kind} ${fields.mac(f.entry)} ${kind === 'fdb' ? 'dst' : 'ip'} ${fields.addr(f.entry)}`;
      // eslint-disable-next-line no-restricted-syntax -- temporary: this file is being reworked; use names.ts
      throw new Error(`failed to ${op} ${failed.length} of ${entries.length} entries on vx-${vni}, first ${what}: errno ${f.errno}`);
    }
  }

  // See dataplane/announce.ts.
  async announce(vni: number, entries: NeighEntry[]): Promise<number> {
    const br = await this.link(bridgeName(vni));
    const frames = arpAnnouncements(entries);
    if (!br || !frames.length) return 0;
    return nativeAddon().sendFrames(br.index, frames, FRAME);
  }

  async attachPort(vni: number, veth: string, mac: string): Promise<void> {
    const [br, v] = [await this.link(bridgeName(vni)), await this.link(veth)];
    if (!br || !v) throw new Error(`cannot attach ${veth} to ${bridgeName(vni)}: ${!br ? 'bridge' : 'veth'} missing`);
    if (v.master !== br.index || !v.up) await this.sock.setLink({ index: v.index, flags: { up: true }, change: { up: true } }, { master: br.index });
    await this.staticPort(v.index, veth, mac);
  }

  // A host end just created as a port of its bridge, made a static port.
  private async newPort(veth: string, mac: string): Promise<void> {
    const v = await this.link(veth);
    if (!v) throw new Error(`veth ${veth} vanished after creation`);
    await this.staticPort(v.index, veth, mac);
  }

  async hasLink(name: string): Promise<boolean> {
    return !!(await this.link(name));
  }

  async removeVeth(veth: string): Promise<void> {
    const l = await this.link(veth);
    if (l) await this.del(l.index, veth);
  }

  // --- Sandboxes (Connect) --------------------------------------------------------------------------

  check(p: string): void {
    checkNetns(p);
  }

  identify(p: string): PathIdentity {
    return pathIdentity(p);
  }

  private inSandbox<T>(p: string, fn: (s: RtNetlinkSocket) => Promise<T>, expect?: PathIdentity): Promise<T> {
    const s = openRtNetlink(p, expect);
    return fn(s).finally(() => s.socket.close());
  }

  async interfaces(p: string, expect?: PathIdentity): Promise<string[]> {
    return this.inSandbox(p, async (s) => (await s.getLinks()).map((m) => m.attrs.ifname ?? ''), expect);
  }

  async sandboxAddresses(p: string, ifname: string): Promise<string[] | undefined> {
    try {
      return await this.inSandbox(p, async (s) => {
        const l = (await s.getLinks()).find((m) => m.attrs.ifname === ifname);
        if (!l) return undefined;
        return (await s.getAddresses()).filter((a) => a.data.index === l.data.index).map((a) => `${ipString(a.attrs.local ?? a.attrs.address)}/${a.data.prefixlen}`);
      });
    } catch {
      return undefined;
    }
  }

  async ensureInside(sandbox: string, ifname: string, addresses: string[], gateway4?: string, expect: { netns?: PathIdentity; mac?: string } = {}): Promise<string[]> {
    try {
      checkNetns(sandbox);
    } catch {
      return []; // gone: the veth goes with it and the next run releases the endpoint
    }
    return this.inSandbox(sandbox, async (s) => {
      const l = (await s.getLinks()).find((m) => m.attrs.ifname === ifname);
      if (!l?.data.index) return [];
      // An interface of that name with another MAC is not this endpoint's: leave it alone.
      if (expect.mac && l.attrs.address && macString(l.attrs.address) !== expect.mac.toLowerCase()) return [];
      const index = l.data.index;
      const fixed: string[] = [];
      const have = new Set((await s.getAddresses()).filter((a) => a.data.index === index).map((a) => `${ipString(a.attrs.local ?? a.attrs.address)}/${a.data.prefixlen}`));
      for (const cidr of addresses) {
        if (have.has(cidr)) continue;
        const [ip, len] = cidr.split('/');
        const b = ipBytes(ip);
        await s.newAddress({ family: b.length === 4 ? AF_INET : AF_INET6, prefixlen: Number(len), index, ...(b.length === 16 ? { flags: { nodad: true } } : {}) }, { local: b, address: b }, { flags: NLM_F_CREATE | NLM_F_REPLACE });
        fixed.push(`address ${cidr}`);
      }
      if (!l.data.flags?.up) {
        await s.setLink({ index, flags: { up: true }, change: { up: true } });
        fixed.push('up');
      }
      // Removing the address took the default route with it; give it back if the sandbox has none.
      if (gateway4 && !(await s.getRoutes({ family: AF_INET })).some((r) => r.data.dstLen === 0 && (r.data.table === 254 || r.attrs.table === 254))) {
        await s.newRoute({ family: AF_INET, dstLen: 0, table: 254, protocol: 'BOOT', scope: 'UNIVERSE', type: 'UNICAST' }, { gateway: ipBytes(gateway4), oif: index }, { flags: NLM_F_CREATE | NLM_F_REPLACE });
        fixed.push(`default via ${gateway4}`);
      }
      return fixed;
    }, expect.netns);
  }

  // One socket in the sandbox for Connect: what it checks first, then the attach.
  async open(p: string, routes: { v4: boolean; v6: boolean }): Promise<OpenSandbox> {
    const { sock: s, netns } = openIdentified(p);
    try {
      const interfaces = (await s.getLinks()).map((m) => m.attrs.ifname ?? '');
      const isDefault = (r: rt.RouteMessage): boolean => r.data.dstLen === 0 && (r.data.table === 254 || r.attrs.table === 254);
      const default4 = routes.v4 && (await s.getRoutes({ family: AF_INET })).some(isDefault);
      const default6 = routes.v6 && (await s.getRoutes({ family: AF_INET6 })).some(isDefault);
      return { interfaces, default4, default6, netns, attach: (a) => this.attachVia(s, a), close: () => s.socket.close() };
    } catch (err) {
      s.socket.close();
      throw err;
    }
  }

  async hasDefaultRoute(p: string, family: 4 | 6, expect?: PathIdentity): Promise<boolean> {
    return this.inSandbox(p, async (s) => (await s.getRoutes({ family: family === 4 ? AF_INET : AF_INET6 })).some((r) => r.data.dstLen === 0 && (r.data.table === 254 || r.attrs.table === 254)), expect);
  }

  // For Docker, which moves the container end into its sandbox itself: both ends are born here, the
  // host end up in the bridge, the other down with the endpoint's MAC and MTU.
  async createPair(a: { hostVeth: string; peer: string; mac: string; mtu: number; bridge: string }): Promise<void> {
    const br = await this.link(a.bridge);
    if (!br) throw new Error(`bridge ${a.bridge} does not exist`);
    const peer = Buffer.concat([Buffer.alloc(16), nlattr(IFLA_IFNAME, cstr(a.peer)), nlattr(IFLA_ADDRESS, macBytes(a.mac)), nlattr(IFLA_MTU, u32(a.mtu))]);
    const linkinfo = Buffer.concat([nlattr(IFLA_INFO_KIND, cstr('veth')), nlattr(IFLA_INFO_DATA, nlattr(VETH_INFO_PEER, peer))]);
    try {
      await this.sock.newLink({ flags: { up: true }, change: { up: true } }, { ifname: a.hostVeth, mtu: a.mtu, master: br.index, linkinfo }, { flags: NLM_F_CREATE | NLM_F_EXCL });
    } catch (err) {
      throw new Error(`failed to create veth ${a.hostVeth} <-> ${a.peer}: ${errno(err)}`, { cause: err });
    }
    await this.newPort(a.hostVeth, a.mac);
  }

  async attach(a: Attachment): Promise<void> {
    return this.inSandbox(a.sandbox, (s) => this.attachVia(s, a), a.netns);
  }

  // The container end is born inside the sandbox (IFLA_NET_NS_FD in the peer's attributes): moving
  // an existing interface between namespaces costs ~20 ms of kernel time, creating it there ~0.5 ms.
  // Then one look-up of its index and one burst of [addresses, up, routes] on the sandbox's socket:
  // the kernel takes a socket's messages in order, so only the last answer is waited for in effect.
  private async attachVia(s: RtNetlinkSocket, a: Attachment): Promise<void> {
    const master = a.bridgeIndex ?? (await this.link(a.bridge))?.index;
    if (master === undefined) throw new Error(`bridge ${a.bridge} does not exist`);
    const nsFd = fs.openSync(a.sandbox, 'r');
    try {
      // Opened again by path: it must still be the namespace the socket was made in.
      if (a.netns) checkIdentity(nsFd, a.sandbox, a.netns);
      const peer = Buffer.concat([
        Buffer.alloc(16), // struct ifinfomsg of the peer: family 0, no flags (it cannot be set up here)
        nlattr(IFLA_IFNAME, cstr(a.ifname)),
        nlattr(IFLA_ADDRESS, macBytes(a.mac)),
        nlattr(IFLA_MTU, u32(a.mtu)),
        nlattr(IFLA_NET_NS_FD, u32(nsFd)),
      ]);
      const linkinfo = Buffer.concat([nlattr(IFLA_INFO_KIND, cstr('veth')), nlattr(IFLA_INFO_DATA, nlattr(VETH_INFO_PEER, peer))]);
      await this.sock.newLink({ flags: { up: true }, change: { up: true } }, { ifname: a.hostVeth, mtu: a.mtu, master, linkinfo }, { flags: NLM_F_CREATE | NLM_F_EXCL });
    } catch (err) {
      throw new Error(`failed to create veth ${a.hostVeth} <-> ${a.ifname} in ${a.sandbox}: ${errno(err)}`, { cause: err });
    } finally {
      fs.closeSync(nsFd);
    }
    // The host end's port, on the host's socket, while the sandbox's socket configures the other end.
    const port = this.newPort(a.hostVeth, a.mac);
    port.catch(() => undefined); // awaited below; the sandbox's failure may come first
    try {
      const l = (await s.getLink({}, { ifname: a.ifname }))[0];
      if (!l?.data.index) throw new Error(`interface ${a.ifname} did not appear in ${a.sandbox}`);
      const index = l.data.index;
      const sent: Promise<unknown>[] = [];
      for (const cidr of a.addresses) {
        const [ip, len] = cidr.split('/');
        const b = ipBytes(ip);
        // IPv6 DAD would hold the address "tentative" for a second: the address is ours by IPAM.
        sent.push(s.newAddress({ family: b.length === 4 ? AF_INET : AF_INET6, prefixlen: Number(len), index, ...(b.length === 16 ? { flags: { nodad: true } } : {}) }, { local: b, address: b }, { flags: NLM_F_CREATE | NLM_F_REPLACE }));
      }
      sent.push(s.setLink({ index, flags: { up: true }, change: { up: true } }));
      if (a.gateway4) sent.push(s.newRoute({ family: AF_INET, dstLen: 0, table: 254, protocol: 'BOOT', scope: 'UNIVERSE', type: 'UNICAST' }, { gateway: ipBytes(a.gateway4), oif: index }, { flags: NLM_F_CREATE | NLM_F_REPLACE }));
      if (a.gateway6) sent.push(s.newRoute({ family: AF_INET6, dstLen: 0, table: 254, protocol: 'BOOT', scope: 'UNIVERSE', type: 'UNICAST' }, { gateway: ipBytes(a.gateway6), oif: index }, { flags: NLM_F_CREATE | NLM_F_REPLACE }));
      await Promise.all(sent);
    } catch (err) {
      throw new Error(`failed to configure ${a.ifname} in ${a.sandbox}: ${errno(err)}`, { cause: err });
    }
    await port;
  }
}
