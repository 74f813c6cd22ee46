import { RtNetlinkSocket, rt } from 'netlink';
import * as ifla from 'netlink/dist/rt/ifla';
import { openRtNetlink } from './netns';
import {
  AF_BRIDGE,
  IFLA_BRPORT_UNICAST_FLOOD,
  NDA_LLADDR,
  NLM_F_CREATE,
  NLM_F_REPLACE,
  NTF_MASTER,
  NUD_NOARP,
  RTM_NEWNEIGH,
  RTM_SETLINK,
  attrAt,
  bridgePortSetting,
  errnoName,
  ipString,
  macBytes,
  ndmsg,
  nlattr,
} from './nl';

export interface LinkInfo {
  index: number;
  name: string;
  kind: string;
  master: number;
  mtu: number;
  up: boolean;
  vxlan?: { vni: number; local: string; port: number; learning: boolean; proxy: boolean };
  flood: boolean; // a bridge port that gets unknown unicast (false when not a bridge port)
}

export function parseLink(m: rt.LinkMessage): LinkInfo {
  const info = m.attrs.linkinfo ? ifla.parseInfo(m.attrs.linkinfo) : {};
  const l: LinkInfo = {
    index: m.data.index ?? 0,
    name: m.attrs.ifname ?? '',
    kind: info.kind ?? '',
    master: m.attrs.master ?? 0,
    mtu: m.attrs.mtu ?? 0,
    up: !!m.data.flags?.up,
    flood: false,
  };
  if (info.slaveKind === 'bridge' && info.slaveData) {
    const at = attrAt(info.slaveData, 0, IFLA_BRPORT_UNICAST_FLOOD);
    l.flood = at >= 0 && info.slaveData[at + 4] !== 0;
  }
  if (info.kind === 'vxlan' && info.data) {
    const v = ifla.parseVxlan(info.data);
    l.vxlan = {
      vni: v.id ?? 0,
      local: ipString(v.local ?? v.local6),
      port: v.port ? v.port.readUInt16BE(0) : 0,
      learning: !!v.learning,
      proxy: !!v.proxy,
    };
  }
  return l;
}

// The host namespace's write socket, shared by both adapters: the host's devices and ports
// (./host.ts) and the sandbox side (./sandbox.ts), which creates a veth here and makes its host
// end a port. One socket for all of them: the kernel takes a socket's messages in order, and a
// port's entry must precede the end of its flooding (staticPort). Many writes in flight, each
// answered by an ACK; dumps go on a socket of their own.
export class HostLinks {
  readonly sock: RtNetlinkSocket;

  constructor() {
    this.sock = openRtNetlink();
  }

  close(): void {
    this.sock.socket.close();
  }

  // One link by name (RTM_GETLINK with IFLA_IFNAME): no dump of every link on the host.
  async link(name: string): Promise<LinkInfo | undefined> {
    try {
      const r = await this.sock.getLink({}, { ifname: name });
      return r[0] ? parseLink(r[0]) : undefined;
    } catch (err) {
      if (errnoName(err) === 'ENODEV') return undefined;
      throw new Error(`failed to look up ${name}: ${errnoName(err)}`, { cause: err });
    }
  }

  // An endpoint's port (../diff.ts, portProblem): its container's MAC as a static entry of the
  // bridge, then no unknown unicast flooded to it. In this order, so that the MAC is never unknown
  // there once flooding has stopped; one socket keeps the order.
  async staticPort(index: number, name: string, mac: string): Promise<void> {
    try {
      await Promise.all([
        this.sock.request(
          RTM_NEWNEIGH,
          Buffer.concat([ndmsg(AF_BRIDGE, index, NUD_NOARP, NTF_MASTER), nlattr(NDA_LLADDR, macBytes(mac))]),
          { flags: NLM_F_CREATE | NLM_F_REPLACE },
        ),
        this.sock.request(RTM_SETLINK, bridgePortSetting(index, IFLA_BRPORT_UNICAST_FLOOD, 0)),
      ]);
    } catch (err) {
      throw new Error(`failed to make ${name} a static bridge port for ${mac}: ${errnoName(err)}`, { cause: err });
    }
  }
}
