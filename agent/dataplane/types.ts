import type { DesiredNetwork } from '../desired';
import type { PathIdentity } from '../sandbox-identity';

// The data plane's ports: what the reconciler and the endpoint service need of the kernel, and
// what they read back. Declared here, apart from their consumers, so that the netlink adapters
// (./host.ts, ./sandbox.ts) and the tests' fake kernel implement them without importing the code
// that uses them.

export interface ActualVxlan {
  index: number;
  vni: number;
  local: string;
  port: number;
  learning: boolean;
  proxy: boolean;
  up: boolean;
  mtu: number;
  master: number;
}
export interface ActualBridge {
  index: number;
  up: boolean;
  mtu: number;
  addresses: string[];
}

export interface ActualNetwork {
  vni: number;
  vxlan?: ActualVxlan;
  bridge?: ActualBridge;
  fdb: Map<string, string>; // MAC -> VTEP (self entries with a destination only)
  neigh: Map<string, string>; // IP -> MAC (permanent entries on the vxlan device)
}

// A host end of an endpoint's veth (named vxv<id>) as a bridge port: `flood` whether the bridge
// floods unknown unicast to it; `macs` the static FDB entries it has, known only when the kernel's
// FDB was dumped (full reads).
export interface ActualVeth {
  index: number;
  master: number;
  flood: boolean;
  macs?: ReadonlySet<string>;
}

export interface ActualState {
  networks: Map<number, ActualNetwork>;
  veths: Map<string, ActualVeth>;
}

export interface FdbEntry {
  mac: string;
  dst: string;
}
export interface NeighEntry {
  ip: string;
  mac: string;
}

// The kernel as the reconciler sees it: read everything that is ours, and idempotent fixes.
export interface Kernel {
  readActual(withEntries?: boolean): Promise<ActualState>;
  ensureDevices(net: DesiredNetwork): Promise<void>;
  // Connect's path: skips the checks when this process already made the devices right and nothing
  // since said otherwise (the reconciler's own ensureDevices always checks).
  ensureDevicesCached(net: DesiredNetwork): Promise<number>; // the bridge's index
  removeDevices(vni: number): Promise<void>;
  fdbAdd(vni: number, entries: FdbEntry[]): Promise<void>;
  fdbDel(vni: number, entries: FdbEntry[]): Promise<void>;
  neighAdd(vni: number, entries: NeighEntry[]): Promise<void>;
  neighDel(vni: number, entries: NeighEntry[]): Promise<void>;
  // Makes the veth a quiet port of the network's bridge (see ../diff.ts, portProblem).
  attachPort(vni: number, veth: string, mac: string): Promise<void>;
  // Tells the local containers of a network where these remote addresses are (./announce.ts).
  announce(vni: number, entries: NeighEntry[]): Promise<number>;
  removeVeth(veth: string): Promise<void>;
  hasLink(name: string): Promise<boolean>;
}

// What Connect needs inside a sandbox.
export interface Sandboxes {
  // Throws VxError (NOT_FOUND / INVALID_ARGUMENT) unless `p` is a network namespace.
  check(p: string): void;
  // A stat of the path: the identity of what is there now, undefined when nothing is.
  identify(p: string): PathIdentity;
  // With `expect`, a path that names another namespace by the time it is opened is refused.
  interfaces(p: string, expect?: PathIdentity): Promise<string[]>;
  hasDefaultRoute(p: string, family: 4 | 6, expect?: PathIdentity): Promise<boolean>;
  // Connect's socket in the sandbox: NOT_FOUND / INVALID_ARGUMENT unless `p` is a network namespace.
  // Default routes are looked for only in the families asked for (those Connect may add one to).
  open(p: string, routes: { v4: boolean; v6: boolean }): Promise<OpenSandbox>;
  attach(a: Attachment): Promise<void>;
  // Docker's Join: both ends here, Docker moves the container end into its sandbox.
  createPair(a: { hostVeth: string; peer: string; mac: string; mtu: number; bridge: string }): Promise<void>;
  // Adds missing addresses and brings the interface up; returns what it changed. Only in the
  // namespace `expect.netns`, and only to an interface with the MAC `expect.mac`, when given.
  ensureInside(
    sandbox: string,
    ifname: string,
    addresses: string[],
    gateway4?: string,
    expect?: { netns?: PathIdentity; mac?: string },
  ): Promise<string[]>;
}

// What Connect checks inside the sandbox before it commits anything, and its attach there.
export interface OpenSandbox {
  interfaces: string[];
  default4: boolean;
  default6: boolean;
  netns: NonNullable<PathIdentity>; // of the namespace this socket was made in
  attach(a: Attachment): Promise<void>;
  close(): void;
}

export interface Attachment {
  bridgeIndex?: number; // known from ensuring the devices: saves a look-up
  sandbox: string;
  netns?: PathIdentity; // the namespace `sandbox` must still name when it is opened
  hostVeth: string;
  ifname: string;
  mac: string;
  mtu: number;
  bridge: string;
  addresses: string[]; // with prefix length
  gateway4?: string; // default route via this, when set
  gateway6?: string;
}
