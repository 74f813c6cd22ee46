import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';
import { createNetlink, NetlinkSocket, Protocol } from 'netlink';
import { withNetns } from '../agent/dataplane/netns';
import {
  AF_BRIDGE,
  AF_INET,
  IFINFOMSG_LEN,
  IFLA_IFNAME,
  NDA_DST,
  NDA_IFINDEX,
  NDMSG_LEN,
  NLM_F_DUMP,
  NUD_PERMANENT,
  RTM_GETLINK,
  RTM_GETNEIGH,
  attrAt,
  ndmsg,
  nlattr,
  u32,
} from '../agent/dataplane/nl';
import { now } from './figures';
import { ROOT } from '../test/helpers/agent';

const ENTRYMON = path.join(ROOT, 'native/build/Release/vxnet-entrymon');

// Counts a vxlan device's FDB entries (with a destination) and permanent neighbor entries, from
// dumps the kernel filters to that device, counted from the raw messages. The bench polls this
// while the agent it measures works: parsing 40,000 entries into objects every 10 ms (the netlink
// package's getNeighbors) took most of a core from that agent on a 2-core machine.

export class EntryCounter {
  private readonly sock: NetlinkSocket;

  constructor(ns: string) {
    this.sock = withNetns(`/run/netns/${ns}`, () =>
      createNetlink(Protocol.ROUTE, { recvBufferSize: 4 << 20, sendBufferSize: 1 << 16 }),
    );
  }

  async count(dev: string): Promise<{ fdb: number; neigh: number }> {
    const index = await this.ifindex(dev);
    if (!index) return { fdb: 0, neigh: 0 };
    // AF_BRIDGE filters by the port in the ndmsg, AF_INET by the device in NDA_IFINDEX.
    const [fdbMsgs] = await this.sock.request(RTM_GETNEIGH, ndmsg(AF_BRIDGE, index), { flags: NLM_F_DUMP });
    const [neighMsgs] = await this.sock.request(
      RTM_GETNEIGH,
      Buffer.concat([ndmsg(AF_INET, index), nlattr(NDA_IFINDEX, u32(index))]),
      { flags: NLM_F_DUMP },
    );
    let fdb = 0;
    for (const m of fdbMsgs) if (m.data.readInt32LE(4) === index && attrAt(m.data, NDMSG_LEN, NDA_DST) >= 0) fdb++;
    let neigh = 0;
    for (const m of neighMsgs)
      if (m.data.readInt32LE(4) === index && (m.data.readUInt16LE(8) & NUD_PERMANENT) !== 0) neigh++;
    return { fdb, neigh };
  }

  private async ifindex(dev: string): Promise<number> {
    const [links] = await this.sock.request(RTM_GETLINK, Buffer.alloc(IFINFOMSG_LEN), { flags: NLM_F_DUMP });
    for (const m of links) {
      const name = attrAt(m.data, IFINFOMSG_LEN, IFLA_IFNAME);
      if (name >= 0 && m.data.toString('utf8', name + 4, name + m.data.readUInt16LE(name)).replace(/\0+$/, '') === dev)
        return m.data.readInt32LE(4);
    }
    return 0;
  }

  close(): void {
    this.sock.close();
  }
}

// A device's FDB and neighbor entries as the kernel announces them, counted by native/entry-monitor.c
// inside the host's namespace, for the bulk figures: polling dumps every 10 ms made the bench part
// of what it measured (the FDB dump and the agent's FDB writes both take the RTNL lock, and parsing
// 20,000 entries per poll took CPU from the measured agent), and `ip monitor` lost announcements in
// a burst. Both kinds are counted together; the count reached, one dump confirms it.
export class EntryMonitor {
  private readonly proc: ChildProcess;
  private added = 0;
  private deleted = 0;
  private base = { added: 0, deleted: 0 }; // the counts at reset()
  private stamp = 0; // of the read that brought the last counts, on now()'s clock (both CLOCK_MONOTONIC)
  private wake: (() => void) | undefined;
  private buf = '';
  private listening = false;
  lost = 0; // reads the kernel reported announcements dropped before
  fallbacks = 0; // waits that a periodic dump ended, not the announcements
  readonly ready: Promise<void>;

  constructor(ns: string, dev: string) {
    this.proc = spawn('ip', ['netns', 'exec', ns, ENTRYMON, dev], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${ENTRYMON} did not start within 5 s`)), 5000);
      this.proc.once('exit', (code) => reject(new Error(`${ENTRYMON} exited (${code})`)));
      this.proc.stdout!.on('data', (d: Buffer) => {
        if (this.read(d.toString())) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  // True once the monitor said it listens.
  private read(text: string): boolean {
    const lines = (this.buf + text).split('\n');
    this.buf = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'ready') this.listening = true;
      else if (line === 'lost') this.lost++;
      else {
        const [a, d, t] = line.split(' ');
        this.added = Number(a);
        this.deleted = Number(d);
        this.stamp = Number(t) * 1000;
      }
    }
    this.wake?.();
    return this.listening;
  }

  reset(): void {
    this.base = { added: this.added, deleted: this.deleted };
  }

  // The time of the read that brought `count` announcements of `kind` since reset(), once `confirm`
  // (a dump) agrees. A dump every `fallbackMs` regardless, in case announcements were lost, which
  // then gives the time of that dump.
  async until(
    kind: 'added' | 'deleted',
    count: number,
    confirm: () => Promise<boolean>,
    timeoutMs: number,
    fallbackMs = 500,
  ): Promise<number> {
    const deadline = now() + timeoutMs;
    let refused = -1; // the count a dump last disagreed with
    while (now() < deadline) {
      const n = this[kind] - this.base[kind];
      if (n >= count && n !== refused) {
        const t = this.stamp;
        if (await confirm()) return t;
        refused = n;
        continue; // announcements may have come in during the dump
      }
      const woke = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), fallbackMs);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = undefined;
          resolve(true);
        };
      });
      if (!woke && (await confirm())) {
        this.fallbacks++;
        return now();
      }
    }
    throw new Error(`timed out waiting for ${count} entries ${kind} (${this[kind] - this.base[kind]} announced)`);
  }

  close(): void {
    this.proc.kill();
  }
}
