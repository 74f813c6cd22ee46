import type { Op } from './diff';
import { bridgeName, vxlanName } from './names';

// One line per operation for the `reconciled` log and the doctor.
export function describe(op: Op): string {
  switch (op.kind) {
    case 'ensureDevices':
      return `ensure ${op.net.vxlan}+${op.net.bridge} (${op.reason})`;
    case 'removeDevices':
      return `remove ${vxlanName(op.vni)}`;
    case 'fdbAdd':
    case 'fdbDel':
    case 'neighAdd':
    case 'neighDel':
      return `${op.kind} ${vxlanName(op.vni)} x${op.entries.length}`;
    case 'attachPort':
      return `attach ${op.veth} to ${bridgeName(op.vni)} (${op.reason})`;
    case 'removeVeth':
      return `remove stale ${op.veth}`;
    case 'repairEndpoint':
      return `repair endpoint ${op.endpoint.name} (${op.endpoint.id.slice(0, 12)})`;
  }
}

export function opVni(op: Op): number | undefined {
  switch (op.kind) {
    case 'ensureDevices':
      return op.net.vni;
    case 'removeDevices':
    case 'fdbAdd':
    case 'fdbDel':
    case 'neighAdd':
    case 'neighDel':
      return op.vni;
    default:
      return undefined;
  }
}
