import type { EndpointChange, DesiredState, Self } from './desired';
import { computeDesired, patchDesired } from './desired';
import type { Op } from './diff';
import { deltaOps, diff } from './diff';
import type { ClusterView } from '../control/store/store';
import type { ActualState } from './dataplane/types';

// How a run computed its operations, logged in `reconciled` and counted as a metric label:
// - full: desired state from the whole view, every entry compared with the kernel as read;
// - reuse: the view has not changed since the last clean run: its desired state, no entry compared;
// - patch: the view changed only by other hosts' endpoints: the last desired state patched with
//   them, only their entries compared;
// - patch-full-diff: patched, but a device to create or replace (or entries that differ) took the
//   comparison of every entry.
export type Strategy = 'full' | 'reuse' | 'patch' | 'patch-full-diff';

export interface PlanInput {
  view: ClusterView;
  self: Self;
  actual: ActualState;
  // The entries in `actual` were read from the kernel now (a dump), not taken from the reconciler's
  // cache of its own writes: a dump may hold drift, so it is compared whole.
  fromKernel: boolean;
  // The last clean run's desired state, and the view's endpoint changes since (undefined: something
  // else changed, or no journal covers them).
  last: DesiredState | undefined;
  changes: readonly EndpointChange[] | undefined;
  busy: ReadonlySet<string>;
  busyNetworks: ReadonlySet<number>;
}

export interface Plan {
  strategy: Strategy;
  desired: DesiredState;
  ops: Op[];
}

const ENTRY_OPS = new Set<Op['kind']>(['fdbAdd', 'fdbDel', 'neighAdd', 'neighDel']);

// Pure but for one thing: a patch is applied to `last` in place (a copy of 20,000 entries per run
// is what the patch exists to avoid), so `last` is the plan's desired state afterwards. Every
// strategy reaches the kernel state a full plan reaches (unit test on fakes).
export function plan(p: PlanInput): Plan {
  const delta = !p.fromKernel && p.last && p.changes ? patchDesired(p.last, p.view, p.self, p.changes) : undefined;
  if (!delta || !p.last) {
    const desired = computeDesired(p.view, p.self);
    return { strategy: 'full', desired, ops: diff(desired, p.actual, p.self, p.busy, p.busyNetworks) };
  }
  const desired = p.last;
  // Devices, addresses and veths are compared with the kernel as read now in every strategy.
  const ops = diff(desired, p.actual, p.self, p.busy, p.busyNetworks, true);
  if (ops.some((o) => o.kind === 'ensureDevices' || ENTRY_OPS.has(o.kind))) {
    return { strategy: 'patch-full-diff', desired, ops: diff(desired, p.actual, p.self, p.busy, p.busyNetworks) };
  }
  ops.push(...deltaOps(delta, p.actual));
  return { strategy: p.changes!.length === 0 ? 'reuse' : 'patch', desired, ops };
}
