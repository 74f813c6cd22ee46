import type { EndpointRecord } from '../../control/model';
import type { Store } from '../../control/store/store';
import type { Logger } from '../../lib/log';
import type { Kernel, Sandboxes } from '../dataplane/types';
import type { Self } from '../desired';
import type { Settled } from '../reconciler';
import type { ClusterState } from '../view';
import type { InFlightOps } from './inflight';

// What every part of the endpoint service works with; the service makes one and hands it round.
export interface EndpointDeps {
  readonly store: Store;
  readonly state: ClusterState;
  readonly kernel: Kernel;
  readonly sandboxes: Sandboxes;
  readonly self: Self;
  readonly log: Logger;
  // Told at the end of every endpoint operation, whatever it did: the reconciler decides.
  readonly settled: (op: Settled) => void;
  readonly ops: InFlightOps;
}

// The end of an operation on a recorded endpoint (a release, a Join that never came): its network
// as the view has it now, not ok when the view has lost it.
export function settledFor(d: Pick<EndpointDeps, 'state' | 'settled'>, ep: EndpointRecord, ok: boolean): void {
  const vni = d.state.snap?.networks.get(ep.networkId)?.vni ?? -1;
  d.settled({ endpointId: ep.id, networkId: ep.networkId, vni, host: ep.host, ok: ok && vni >= 0 });
}
