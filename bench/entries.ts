import { createNetlink, NetlinkSocket, Protocol } from 'netlink';
import { withNetns } from '../agent/dataplane/netns';
import { attrAt } from '../agent/dataplane/dump';

// Counts a vxlan device's FDB entries (with a destination) and permanent neighbor entries, from
// dumps the kernel filters to that device, counted from the raw messages. The bench polls this
// while the agent it measures works: parsing 40,000 entries into objects every 10 ms (the netlink
// package's getNeighbors) took most of a core from that agent on a 2-core machine.
const RTM_GETLINK = 18;
const RTM_GETNEIGH = 30;
const NLM_F_DUMP = 0x300;
const AF_INET = 2;
const AF_BRIDGE = 7;
const NDA_DST = 1;
const NDA_IFINDEX = 8;
const NUD_PERMANENT = 0x80;
const IFLA_IFNAME = 3;

export class EntryCounter {
  private readonly sock: NetlinkSocket;

  constructor(ns: string) {
    this.sock = withNetns(`/run/netns/${ns}`, () => createNetlink(Protocol.ROUTE, { recvBufferSize: 4 << 20, sendBufferSize: 1 << 16 }));
  }

  async count(dev: string): Promise<{ fdb: number; neigh: number }> {
    const index = await this.ifindex(dev);
    if (!index) return { fdb: 0, neigh: 0 };
    const ndmsg = (family: number, withAttr: boolean): Buffer => {
      const b = Buffer.alloc(withAttr ? 20 : 12);
      b[0] = family;
      b.writeInt32LE(index, 4); // AF_BRIDGE: the port to dump
      if (withAttr) {
        b.writeUInt16LE(8, 12);
        b.writeUInt16LE(NDA_IFINDEX, 14); // AF_INET: the device to dump
        b.writeUInt32LE(index, 16);
      }
      return b;
    };
    const [fdbMsgs] = await this.sock.request(RTM_GETNEIGH, ndmsg(AF_BRIDGE, false), { flags: NLM_F_DUMP });
    const [neighMsgs] = await this.sock.request(RTM_GETNEIGH, ndmsg(AF_INET, true), { flags: NLM_F_DUMP });
    let fdb = 0;
    for (const m of fdbMsgs) if (m.data.readInt32LE(4) === index && attrAt(m.data, 12, NDA_DST) >= 0) fdb++;
    let neigh = 0;
    for (const m of neighMsgs) if (m.data.readInt32LE(4) === index && (m.data.readUInt16LE(8) & NUD_PERMANENT) !== 0) neigh++;
    return { fdb, neigh };
  }

  private async ifindex(dev: string): Promise<number> {
    const [links] = await this.sock.request(RTM_GETLINK, Buffer.alloc(16), { flags: NLM_F_DUMP });
    for (const m of links) {
      const name = attrAt(m.data, 16, IFLA_IFNAME);
      if (name >= 0 && m.data.toString('utf8', name + 4, name + m.data.readUInt16LE(name)).replace(/\0+$/, '') === dev) return m.data.readInt32LE(4);
    }
    return 0;
  }

  close(): void {
    this.sock.close();
  }
}
