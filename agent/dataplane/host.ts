import { createHash } from 'crypto';
import { RtNetlinkSocket } from 'netlink';
import * as ifla from 'netlink/dist/rt/ifla';
import type { DesiredNetwork, Self } from '../desired';
import { vxlanMismatch } from '../diff';
import { bridgeName, isHostVeth, vniOfDevice, vxlanName } from '../names';
import type { Logger } from '../../lib/log';
import { openRtNetlink } from './netns';
import { arpAnnouncements, FRAME } from './announce';
import { nativeAddon } from './native';
import { NeighBatcher, NeighKind, NeighOp, EntryFields } from './batch';
import { EntryDumper } from './entry-dump';
import { HostLinks, LinkInfo, parseLink } from './host-links';
import {
  AF_BRIDGE,
  AF_INET,
  AF_INET6,
  ENOENT,
  ESRCH,
  IFLA_BRPORT_LEARNING,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  RTM_SETLINK,
  addAddress,
  addressCidr,
  bridgePortSetting,
  errnoName,
  ipBytes,
  ndmsg,
} from './nl';
import type { ActualNetwork, ActualState, ActualVeth, FdbEntry, Kernel, NeighEntry } from './types';

const FDB_FIELDS: EntryFields<FdbEntry> = { mac: (e) => e.mac, addr: (e) => e.dst };
const NEIGH_FIELDS: EntryFields<NeighEntry> = { mac: (e) => e.mac, addr: (e) => e.ip };

// A stable, locally administered MAC for our bridges: the gateway's MAC must not change when ports
// come and go (the kernel would otherwise take the lowest port MAC), or containers' ARP goes stale.
function bridgeMac(host: string, vni: number): Buffer {
  const h = createHash('sha256').update(`${host}/${vni}`).digest();
  h[0] = (h[0] & 0xfe) | 0x02;
  return h.subarray(0, 6);
}

// The kernel as the reconciler sees it: the host's devices, their FDB and neighbor entries, the
// endpoints' ports, and the dumps that read them back. Writes go on the shared host socket
// (./host-links.ts); dumps on sockets of their own.
export class HostDataplane implements Kernel {
  private readonly reader: RtNetlinkSocket; // dumps: one at a time, never mixed with writes
  private readonly batcher = new NeighBatcher(); // FDB and neighbor entries, many per sendmsg
  private readonly entries = new EntryDumper(); // and their dumps
  private readonly sock: RtNetlinkSocket;

  constructor(
    private readonly self: Self,
    private readonly log: Logger,
    private readonly links: HostLinks,
  ) {
    this.sock = links.sock;
    this.reader = openRtNetlink();
  }

  // The shared socket is its creator's to close.
  close(): void {
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

  private async allLinks(): Promise<LinkInfo[]> {
    return (await this.dump(() => this.reader.getLinks())).map(parseLink);
  }

  private link(name: string): Promise<LinkInfo | undefined> {
    return this.links.link(name);
  }

  // `withEntries` false: devices, addresses and veths only, no FDB or neighbor dump (the costly part
  // with many remote endpoints); the caller knows the entries from its own writes.
  async readActual(withEntries = true): Promise<ActualState> {
    const links = await this.allLinks();
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
      if (n) n.bridge!.addresses.push(addressCidr(a));
    }
    if (!withEntries) return { networks, veths };
    // One dump, both kinds: the vxlan devices' entries (a destination) and the ports' static ones.
    await this.entries.dump(AF_BRIDGE, 'fdb', (ifindex, mac, dst) => {
      if (dst) byIndex.get(ifindex)?.fdb.set(mac, dst);
      else vethByIndex.get(ifindex)?.add(mac);
    });
    for (const family of [AF_INET, AF_INET6])
      await this.entries.dump(family, 'neigh', (ifindex, mac, ip) => byIndex.get(ifindex)?.neigh.set(ip, mac));
    return { networks, veths };
  }

  // The raw payloads of a dump of one message type and family whose request header is 12 bytes
  // with the family first (ndmsg, rtmsg, fib_rule_hdr): ./dump and ../isolation read them.
  async dumpRaw(type: number, family: number): Promise<Buffer[]> {
    const [msgs] = await this.dump(() => this.reader.socket.request(type, ndmsg(family), { flags: NLM_F_DUMP }));
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
        await this.sock.newLink(
          {},
          {
            ifname: net.bridge,
            mtu: net.mtu,
            address: bridgeMac(this.self.name, net.vni),
            linkinfo: ifla.formatInfo({ kind: 'bridge' }) as Buffer,
          },
          { flags: NLM_F_CREATE | NLM_F_EXCL },
        );
      } catch (err) {
        if (errnoName(err) !== 'EEXIST')
          throw new Error(`failed to create bridge ${net.bridge}: ${errnoName(err)}`, { cause: err });
      }
      br = await this.link(net.bridge);
      if (!br) throw new Error(`bridge ${net.bridge} vanished after creation`);
    }
    if (!br.up || br.mtu !== net.mtu)
      await this.sock.setLink({ index: br.index, flags: { up: true }, change: { up: true } }, { mtu: net.mtu });

    let vx = await this.link(net.vxlan);
    const v = vx?.vxlan;
    if (vx && (!v || vxlanMismatch(net, v, this.self))) {
      this.log.warn('replacing incompatible vxlan device', { device: net.vxlan, found: v ?? vx.kind });
      await this.del(vx.index, net.vxlan);
      vx = undefined;
    }
    if (!vx) {
      const port = Buffer.alloc(2);
      port.writeUInt16BE(this.self.vxlanPort, 0);
      const local = ipBytes(this.self.vtep);
      const data = ifla.formatVxlan({
        id: net.vni,
        ...(local.length === 4 ? { local } : { local6: local }),
        port,
        learning: 0,
        proxy: 1,
        ttl: 0,
      });
      try {
        await this.sock.newLink(
          {},
          {
            ifname: net.vxlan,
            mtu: net.mtu,
            master: br.index,
            linkinfo: ifla.formatInfo({ kind: 'vxlan', data: data as Buffer }) as Buffer,
          },
          { flags: NLM_F_CREATE | NLM_F_EXCL },
        );
      } catch (err) {
        throw new Error(
          `failed to create vxlan ${net.vxlan} (vni ${net.vni}, local ${this.self.vtep}, port ${this.self.vxlanPort}): ${errnoName(err)}`,
          { cause: err },
        );
      }
      vx = await this.link(net.vxlan);
      if (!vx) throw new Error(`vxlan ${net.vxlan} vanished after creation`);
    }
    if (!vx.up || vx.master !== br.index || vx.mtu !== net.mtu) {
      await this.sock.setLink(
        { index: vx.index, flags: { up: true }, change: { up: true } },
        { master: br.index, mtu: net.mtu },
      );
    }
    await this.quietPort(vx.index, net.vxlan);
    const have = new Set(
      (await this.dump(() => this.reader.getAddresses())).filter((a) => a.data.index === br.index).map(addressCidr),
    );
    for (const g of net.gateways) {
      if (have.has(g)) continue;
      try {
        await addAddress(this.sock, br.index, g, false);
      } catch (err) {
        throw new Error(`failed to add gateway ${g} to ${net.bridge}: ${errnoName(err)}`, { cause: err });
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
    try {
      await this.sock.request(RTM_SETLINK, bridgePortSetting(index, IFLA_BRPORT_LEARNING, 0));
    } catch (err) {
      throw new Error(`failed to turn off learning on bridge port ${name}: ${errnoName(err)}`, { cause: err });
    }
  }

  private async del(index: number, name: string): Promise<void> {
    try {
      await this.sock.delLink({ index });
    } catch (err) {
      if (errnoName(err) !== 'ENODEV') throw new Error(`failed to delete ${name}: ${errnoName(err)}`, { cause: err });
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
  private async bulk<T>(
    vni: number,
    kind: NeighKind,
    op: NeighOp,
    entries: T[],
    fields: EntryFields<T>,
  ): Promise<void> {
    const ifindex = await this.vxIndex(vni);
    const failed = (await this.batcher.send(kind, op, ifindex, entries, fields)).filter(
      (f) => !(op === 'del' && (f.errno === ENOENT || f.errno === ESRCH)),
    );
    if (failed.length) {
      const f = failed[0];
      const what = `${kind} ${fields.mac(f.entry)} ${kind === 'fdb' ? 'dst' : 'ip'} ${fields.addr(f.entry)}`;
      throw new Error(
        `failed to ${op} ${failed.length} of ${entries.length} entries on ${vxlanName(vni)}, first ${what}: errno ${f.errno}`,
      );
    }
  }

  // See ./announce.ts.
  async announce(vni: number, entries: NeighEntry[]): Promise<number> {
    const br = await this.link(bridgeName(vni));
    const frames = arpAnnouncements(entries);
    if (!br || !frames.length) return 0;
    return nativeAddon().sendFrames(br.index, frames, FRAME);
  }

  async attachPort(vni: number, veth: string, mac: string): Promise<void> {
    const [br, v] = [await this.link(bridgeName(vni)), await this.link(veth)];
    if (!br || !v) throw new Error(`cannot attach ${veth} to ${bridgeName(vni)}: ${!br ? 'bridge' : 'veth'} missing`);
    if (v.master !== br.index || !v.up)
      await this.sock.setLink({ index: v.index, flags: { up: true }, change: { up: true } }, { master: br.index });
    await this.links.staticPort(v.index, veth, mac);
  }

  async hasLink(name: string): Promise<boolean> {
    return !!(await this.link(name));
  }

  async removeVeth(veth: string): Promise<void> {
    const l = await this.link(veth);
    if (l) await this.del(l.index, veth);
  }
}
