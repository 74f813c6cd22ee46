import type { ClusterView } from '../../control/store/store';
import type { Isolation, LocalNetwork } from '../isolation';
import type { ReconcileRun, RunObserver } from './run';

// Keeps the routing rules that separate this host's networks in step with the networks the last
// run served; full runs compare with the kernel even when those did not change.
export class IsolationFollower implements RunObserver {
  private nets: LocalNetwork[] = [];

  constructor(
    private readonly isolation: Isolation,
    private readonly view: () => ClusterView | undefined,
  ) {}

  afterRun(run: Pick<ReconcileRun, 'vnis' | 'full'>): void {
    this.nets = run.vnis.map((vni) => ({ vni, subnets: this.subnetsOf(vni) }));
    void this.isolation.sync(this.nets, run.full);
  }

  // Whether the kernel holds every rule the served networks need (`vxnet doctor`).
  installed(): Promise<boolean> {
    return this.isolation.installed(this.nets);
  }

  private subnetsOf(vni: number): string[] {
    for (const n of this.view()?.networks.values() ?? [])
      if (n.vni === vni) return [...n.ipv4, ...n.ipv6].map((c) => c.subnet);
    return [];
  }
}
