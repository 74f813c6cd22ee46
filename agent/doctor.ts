import * as fs from 'fs';
import * as http from 'http';
import type { DoctorReport } from '../control/generated/vxnet/v1/DoctorReport';
import type { DoctorCheck } from '../control/generated/vxnet/v1/DoctorCheck';
import type { Store, ClusterView } from '../control/store/store';
import { addressesOf, overlayMtu, vxlanOverhead } from '../control/model';
import type { NetworkRecord } from '../control/model';
import { egressOf } from '../control/model';
import { forwarding } from './dataplane/sysctl';
import { computeDesired, Self } from './desired';
import { diff, Op } from './diff';
import { bridgeName, hostVethName, vxlanName } from './names';
import type { ActualState } from './dataplane/types';

// What `vxnet doctor` needs from the agent.
export interface DoctorInputs {
  self: Self;
  store: Store;
  snapshot(): ClusterView | undefined;
  readActual(): Promise<ActualState>;
  sandboxAddresses(sandbox: string, ifname: string): Promise<string[] | undefined>; // undefined: interface missing
  registered(): boolean;
  etcdEndpoints: string[];
  isolation(): Promise<boolean>;
  table(): Promise<{ ok: boolean; detail: string }>; // vxnet's nftables table
}

// The MTU check: a network that asks for more than its overlay MTU on this host (underlay minus
// VXLAN's overhead, which depends on the VTEP's family) is lowered to it.
export function mtuCheck(
  nets: Pick<NetworkRecord, 'name' | 'mtu'>[],
  underlayMtu: number,
  vtep: string,
): { ok: boolean; detail: string } {
  const v6 = vtep.includes(':');
  const overhead = vxlanOverhead(v6);
  const tooBig = nets.filter((n) => n.mtu > 0 && overlayMtu(n, underlayMtu, v6) < n.mtu);
  if (tooBig.length === 0)
    return { ok: true, detail: `underlay MTU ${underlayMtu}, overlay ${overlayMtu({ mtu: 0 }, underlayMtu, v6)}` };
  return {
    ok: false,
    detail: `networks ${tooBig.map((n) => n.name).join(', ')} ask for an MTU above the underlay's ${underlayMtu} - ${overhead}: lowered to ${overlayMtu(tooBig[0], underlayMtu, v6)}`,
  };
}

// Readable lines for the difference between what etcd says this host should hold and what it holds:
// "+" is missing from the kernel, "-" is in the kernel but not in etcd, "~" is there but wrong.
export function describeDifferences(ops: Op[], actual: ActualState): string[] {
  const out: string[] = [];
  for (const op of ops) {
    switch (op.kind) {
      case 'ensureDevices':
        out.push(`~ devices ${op.net.vxlan}/${op.net.bridge}: ${op.reason}`);
        break;
      case 'removeDevices':
        out.push(`- devices ${vxlanName(op.vni)}/${bridgeName(op.vni)}: no endpoint of that network on this host`);
        break;
      case 'fdbAdd':
        for (const e of op.entries) {
          const have = actual.networks.get(op.vni)?.fdb.get(e.mac);
          out.push(
            have
              ? `~ fdb ${vxlanName(op.vni)} ${e.mac} dst ${have}, etcd says dst ${e.dst}`
              : `+ fdb ${vxlanName(op.vni)} ${e.mac} dst ${e.dst} (missing)`,
          );
        }
        break;
      case 'fdbDel':
        for (const e of op.entries) out.push(`- fdb ${vxlanName(op.vni)} ${e.mac} dst ${e.dst} (not in etcd)`);
        break;
      case 'neighAdd':
        for (const e of op.entries) {
          const have = actual.networks.get(op.vni)?.neigh.get(e.ip);
          out.push(
            have
              ? `~ neigh ${vxlanName(op.vni)} ${e.ip} lladdr ${have}, etcd says ${e.mac}`
              : `+ neigh ${vxlanName(op.vni)} ${e.ip} lladdr ${e.mac} (missing)`,
          );
        }
        break;
      case 'neighDel':
        for (const e of op.entries) out.push(`- neigh ${vxlanName(op.vni)} ${e.ip} lladdr ${e.mac} (not in etcd)`);
        break;
      case 'attachPort':
        out.push(`~ port ${op.veth} of ${bridgeName(op.vni)}: ${op.reason}`);
        break;
      case 'repairEndpoint':
        out.push(`+ veth ${hostVethName(op.endpoint.id)} of endpoint ${op.endpoint.name} (missing)`);
        break;
      case 'removeVeth':
        out.push(`- veth ${op.veth} (no endpoint in etcd)`);
        break;
    }
  }
  return out;
}

// etcd's HTTP endpoints answer with a Date header (Go's net/http): enough to see a clock that is
// seconds off, which breaks lease expiry reasoning and log correlation.
function etcdDate(endpoint: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const unix = endpoint.startsWith('unix://') ? endpoint.slice('unix://'.length) : undefined;
    const url = unix ? undefined : new URL(endpoint);
    if (url && url.protocol !== 'http:') return resolve(undefined);
    const req = http.get(
      { ...(unix ? { socketPath: unix } : { host: url!.hostname, port: url!.port }), path: '/version', timeout: 2000 },
      (res) => {
        res.resume();
        const d = res.headers.date ? Date.parse(res.headers.date) : NaN;
        resolve(Number.isNaN(d) ? undefined : d);
      },
    );
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => {
      req.destroy();
      resolve(undefined);
    });
  });
}

export async function runDoctor(d: DoctorInputs): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const check = (name: string, ok: boolean, detail: string): void => void checks.push({ name, ok, detail });

  const t0 = process.hrtime.bigint();
  let reachable = false;
  try {
    await d.store.revision();
    reachable = true;
    check('etcd', true, `reachable, ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms for a read`);
  } catch (err) {
    check('etcd', false, `unreachable: ${(err as Error).message}`);
  }
  check(
    'lease',
    d.registered(),
    d.registered() ? 'host registered under a live lease' : 'host not registered (lease lost or etcd unreachable)',
  );

  const before = Date.now();
  const date = await etcdDate(d.etcdEndpoints[0] ?? '');
  if (date !== undefined) {
    const skew = Math.abs((before + Date.now()) / 2 - date) / 1000;
    check(
      'clock',
      skew < 2,
      `${skew < 1 ? 'under 1' : skew.toFixed(0)} s from etcd's clock${skew >= 2 ? ': synchronize the clocks (NTP)' : ''}`,
    );
  } else {
    check('clock', true, 'etcd did not report its time over this endpoint (https or unreachable): not checked');
  }

  const snap = d.snapshot();
  if (!snap) {
    check('state', false, 'no consistent view of etcd loaded yet');
    return { host: d.self.name, ok: false, checks, differences: [] };
  }
  const dupes = [...snap.hosts.values()].filter((h) => h.vtep === d.self.vtep && h.name !== d.self.name);
  check(
    'vtep',
    dupes.length === 0,
    dupes.length
      ? `VTEP ${d.self.vtep} is also claimed by ${dupes.map((h) => h.name).join(', ')}: give every host its own underlay address`
      : `${d.self.vtep} is this host's alone`,
  );
  const ports = new Set([...snap.hosts.values()].map((h) => h.vxlanPort));
  check(
    'vxlan port',
    ports.size <= 1,
    ports.size <= 1
      ? `every host uses UDP ${d.self.vxlanPort}`
      : `hosts use different VXLAN ports (${[...ports].join(', ')}): they cannot reach each other; set vxlan_port alike`,
  );

  const desired = computeDesired(snap, d.self);
  const served = [...desired.networks.values()]
    .map((n) => snap.networks.get(n.networkId))
    .filter((n) => n !== undefined);
  const mtu = mtuCheck(served, d.self.underlayMtu, d.self.vtep);
  check('mtu', mtu.ok, mtu.detail);

  let fwd = '';
  try {
    fwd = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  } catch {
    /* not readable */
  }
  const egress = [...desired.networks.values()].map((n) => snap.networks.get(n.networkId));
  const external = egress.some((n) => n && egressOf(n) === 'masquerade');
  const external6 = egress.some((n) => n && egressOf(n) === 'masquerade' && n.ipv6.length > 0);
  const isolated = await d.isolation();
  check(
    'isolation',
    isolated || fwd !== '1',
    isolated
      ? 'networks on this host do not route to each other (routing rules in place where two or more share it)'
      : fwd === '1'
        ? "routing rules missing and ip_forward is on: networks on this host can route to each other (see the agent's log; kill -HUP it to retry)"
        : 'routing rules missing; ip_forward is off, so networks stay apart anyway',
  );
  check(
    'ip_forward',
    fwd === '1' || !external,
    fwd === '1'
      ? 'on: containers of networks with egress reach beyond this host, masqueraded'
      : external
        ? 'off while a network here has egress: its containers cannot reach the outside (ip_forward: auto in the config turns it on)'
        : 'off (no network here has egress)',
  );
  const fwd6 = forwarding('v6');
  if (external6)
    check(
      'ipv6 forwarding',
      fwd6 === '1',
      fwd6 === '1'
        ? 'on: IPv6 egress is masqueraded'
        : 'off while a network here has IPv6 egress (ip_forward: auto in the config turns it on)',
    );
  const table = await d.table();
  check('nftables', table.ok, table.detail);

  const actual = await d.readActual();
  const ops = diff(desired, actual, d.self);
  const differences = describeDifferences(ops, actual);
  for (const n of desired.networks.values()) {
    for (const ep of n.local) {
      // Docker's sandboxes are visible only in dockerd's mount namespace, and Docker sets them up.
      if (ep.docker) continue;
      const addrs = await d.sandboxAddresses(ep.sandbox, ep.ifname);
      if (addrs === undefined) {
        if (!ops.some((o) => o.kind === 'repairEndpoint' && o.endpoint.id === ep.id))
          differences.push(`+ interface ${ep.ifname} in ${ep.sandbox} of endpoint ${ep.name} (missing)`);
        continue;
      }
      for (const a of addressesOf(ep))
        if (!addrs.includes(a)) differences.push(`+ address ${a} on ${ep.ifname} in ${ep.sandbox} (missing)`);
    }
  }
  check(
    'kernel',
    differences.length === 0,
    differences.length
      ? `${differences.length} difference(s) from etcd; the next resync repairs them`
      : 'matches etcd: no difference',
  );
  check(
    'vxlan',
    actual.networks.size === desired.networks.size || differences.length > 0,
    `${actual.networks.size} VXLAN device(s) on UDP ${d.self.vxlanPort}`,
  );
  return { host: d.self.name, ok: reachable && checks.every((c) => c.ok), checks, differences };
}
