import type { ClusterView } from '../../control/store/store';
import { egressOf } from '../../control/model';
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
    this.nets = run.vnis.map((vni) => this.networkOf(vni));
    void this.isolation.sync(this.nets, run.full);
  }

  // Another hand changed a table of iptables (`iptables -F`): Docker's FORWARD accepts are checked
  // at once rather than at the next resync.
  recheck(): void {
    void this.isolation.sync(this.nets, true);
  }

  // Whether the kernel holds every rule the served networks need (`vxnet doctor`).
  installed(): Promise<boolean> {
    return this.isolation.installed(this.nets);
  }

  private networkOf(vni: number): LocalNetwork {
    for (const n of this.view()?.networks.values() ?? [])
      if (n.vni === vni) return { vni, subnets: [...n.ipv4, ...n.ipv6].map((c) => c.subnet), egress: egressOf(n) };
    return { vni, subnets: [] };
  }
}
