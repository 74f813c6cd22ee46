import { BridgeFullError } from './errors';
import * as fs from 'fs';
import { RtNetlinkSocket } from 'netlink';
import type { PathIdentity } from '../sandbox-identity';
import { openRtNetlink, openIdentified, checkNetns, checkIdentity, pathIdentity } from './netns';
import type { HostLinks } from './host-links';
import {
  AF_INET,
  AF_INET6,
  NLM_F_CREATE,
  NLM_F_EXCL,
  addAddress,
  addDefaultRoute,
  addressCidr,
  errnoName,
  isDefaultRoute,
  macText,
  vethLinkinfo,
} from './nl';
import type { Attachment, OpenSandbox, Sandboxes } from './types';

async function hasDefault(s: RtNetlinkSocket, family: 4 | 6): Promise<boolean> {
  return (await s.getRoutes({ family: family === 4 ? AF_INET : AF_INET6 })).some(isDefaultRoute);
}

// The sandbox side, as Connect sees it: one short-lived socket per sandbox operation, in the
// sandbox's namespace. The host end of a veth is made on the host's shared socket (./host-links.ts).
export class SandboxDataplane implements Sandboxes {
  constructor(private readonly links: HostLinks) {}

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
        return (await s.getAddresses()).filter((a) => a.data.index === l.data.index).map(addressCidr);
      });
    } catch {
      return undefined;
    }
  }

  async ensureInside(
    sandbox: string,
    ifname: string,
    addresses: string[],
    gateway4?: string,
    expect: { netns?: PathIdentity; mac?: string } = {},
  ): Promise<string[]> {
    try {
      checkNetns(sandbox);
    } catch {
      return []; // gone: the veth goes with it and the next run releases the endpoint
    }
    return this.inSandbox(
      sandbox,
      async (s) => {
        const l = (await s.getLinks()).find((m) => m.attrs.ifname === ifname);
        if (!l?.data.index) return [];
        // An interface of that name with another MAC is not this endpoint's: leave it alone.
        const mac = l.attrs.address;
        if (expect.mac && mac && macText(mac, 0, mac.length) !== expect.mac.toLowerCase()) return [];
        const index = l.data.index;
        const fixed: string[] = [];
        const have = new Set((await s.getAddresses()).filter((a) => a.data.index === index).map(addressCidr));
        for (const cidr of addresses) {
          if (have.has(cidr)) continue;
          await addAddress(s, index, cidr, true);
          fixed.push(`address ${cidr}`);
        }
        if (!l.data.flags?.up) {
          await s.setLink({ index, flags: { up: true }, change: { up: true } });
          fixed.push('up');
        }
        // Removing the address took the default route with it; give it back if the sandbox has none.
        if (gateway4 && !(await hasDefault(s, 4))) {
          await addDefaultRoute(s, 4, index, gateway4);
          fixed.push(`default via ${gateway4}`);
        }
        return fixed;
      },
      expect.netns,
    );
  }

  // One socket in the sandbox for Connect: what it checks first, then the attach.
  async open(p: string, routes: { v4: boolean; v6: boolean }): Promise<OpenSandbox> {
    const { sock: s, netns } = openIdentified(p);
    try {
      const interfaces = (await s.getLinks()).map((m) => m.attrs.ifname ?? '');
      const default4 = routes.v4 && (await hasDefault(s, 4));
      const default6 = routes.v6 && (await hasDefault(s, 6));
      return {
        interfaces,
        default4,
        default6,
        netns,
        attach: (a) => this.attachVia(s, a),
        close: () => s.socket.close(),
      };
    } catch (err) {
      s.socket.close();
      throw err;
    }
  }

  async hasDefaultRoute(p: string, family: 4 | 6, expect?: PathIdentity): Promise<boolean> {
    return this.inSandbox(p, (s) => hasDefault(s, family), expect);
  }

  // For Docker, which moves the container end into its sandbox itself: both ends are born here, the
  // host end up in the bridge, the other down with the endpoint's MAC and MTU.
  async createPair(a: { hostVeth: string; peer: string; mac: string; mtu: number; bridge: string }): Promise<void> {
    const br = await this.links.link(a.bridge);
    if (!br) throw new Error(`bridge ${a.bridge} does not exist`);
    const linkinfo = vethLinkinfo({ ifname: a.peer, mac: a.mac, mtu: a.mtu });
    try {
      await this.links.sock.newLink(
        { flags: { up: true }, change: { up: true } },
        { ifname: a.hostVeth, mtu: a.mtu, master: br.index, linkinfo },
        { flags: NLM_F_CREATE | NLM_F_EXCL },
      );
    } catch (err) {
      if (errnoName(err) === 'EXFULL') throw new BridgeFullError(a.bridge);
      throw new Error(`failed to create veth ${a.hostVeth} <-> ${a.peer}: ${errnoName(err)}`, { cause: err });
    }
    await this.newPort(a.hostVeth, a.mac);
  }

  async attach(a: Attachment): Promise<void> {
    return this.inSandbox(a.sandbox, (s) => this.attachVia(s, a), a.netns);
  }

  // A host end just created as a port of its bridge, made a static port.
  private async newPort(veth: string, mac: string): Promise<void> {
    const v = await this.links.link(veth);
    if (!v) throw new Error(`veth ${veth} vanished after creation`);
    await this.links.staticPort(v.index, veth, mac);
  }

  // The container end is born inside the sandbox (IFLA_NET_NS_FD in the peer's attributes): moving
  // an existing interface between namespaces costs ~20 ms of kernel time, creating it there ~0.5 ms.
  // Then one look-up of its index and one burst of [addresses, up, routes] on the sandbox's socket:
  // the kernel takes a socket's messages in order, so only the last answer is waited for in effect.
  private async attachVia(s: RtNetlinkSocket, a: Attachment): Promise<void> {
    const master = a.bridgeIndex ?? (await this.links.link(a.bridge))?.index;
    if (master === undefined) throw new Error(`bridge ${a.bridge} does not exist`);
    const nsFd = fs.openSync(a.sandbox, 'r');
    try {
      // Opened again by path: it must still be the namespace the socket was made in.
      if (a.netns) checkIdentity(nsFd, a.sandbox, a.netns);
      const linkinfo = vethLinkinfo({ ifname: a.ifname, mac: a.mac, mtu: a.mtu, nsFd });
      await this.links.sock.newLink(
        { flags: { up: true }, change: { up: true } },
        { ifname: a.hostVeth, mtu: a.mtu, master, linkinfo },
        { flags: NLM_F_CREATE | NLM_F_EXCL },
      );
    } catch (err) {
      if (errnoName(err) === 'EXFULL') throw new BridgeFullError(a.bridge);
      throw new Error(`failed to create veth ${a.hostVeth} <-> ${a.ifname} in ${a.sandbox}: ${errnoName(err)}`, {
        cause: err,
      });
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
      for (const cidr of a.addresses) sent.push(addAddress(s, index, cidr, true));
      sent.push(s.setLink({ index, flags: { up: true }, change: { up: true } }));
      if (a.gateway4) sent.push(addDefaultRoute(s, 4, index, a.gateway4));
      if (a.gateway6) sent.push(addDefaultRoute(s, 6, index, a.gateway6));
      await Promise.all(sent);
    } catch (err) {
      throw new Error(`failed to configure ${a.ifname} in ${a.sandbox}: ${errnoName(err)}`, { cause: err });
    }
    await port;
  }
}
