import type { RunReport } from '../reconciler';

// What the reconciler reports after each run (clean, full, strategy, duration, revision, the VNIs
// served).
export type ReconcileRun = RunReport;

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
