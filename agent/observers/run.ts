import type { Reconciler } from '../reconciler';

// What the reconciler reports after each run (clean, full, duration, revision, the VNIs served).
// Taken from the reconciler's own callback so that a field added there reaches every observer.
export type ReconcileRun = Parameters<NonNullable<ConstructorParameters<typeof Reconciler>[6]>>[0];

// Something the agent keeps up to date after every reconcile run.
export interface RunObserver {
  afterRun(run: ReconcileRun): void;
}

// One callback for the reconciler that tells each observer in turn, in the order given.
export function tellEach(observers: readonly RunObserver[]): (run: ReconcileRun) => void {
  return (run) => {
    for (const o of observers) o.afterRun(run);
  };
}
