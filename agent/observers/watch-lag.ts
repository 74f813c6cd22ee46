import type { ReconcileRun, RunObserver } from './run';

// The time from a watch event reaching the agent to the end of the first run that programmed its
// revision. `arrivals` is the watch's list (ClusterState.arrivals), oldest first; what a run covers
// is measured and taken off it.
export class WatchLagMeter implements RunObserver {
  constructor(
    private readonly arrivals: { revision: number; at: number }[],
    private readonly lag: { observe(seconds: number): void },
  ) {}

  afterRun(run: Pick<ReconcileRun, 'revision'>, now = Date.now()): void {
    const arr = this.arrivals;
    let i = 0;
    while (i < arr.length && arr[i].revision <= run.revision) this.lag.observe((now - arr[i++].at) / 1000);
    arr.splice(0, i);
  }
}
