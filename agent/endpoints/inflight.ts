import type { InFlight } from '../reconciler';

// The endpoint operations under way on this host, as the reconciler reads them (InFlight): what
// they own is left to them, and a kernel read made before the last of them began may lack what it
// did.
export class InFlightOps implements InFlight {
  private readonly running = new Set<string>();
  private readonly nets = new Map<number, number>(); // VNI -> Connects (and Joins) in flight
  private begun = 0;

  // `waiting`: endpoints no request runs for that are still not the reconciler's to repair (Docker's
  // between CreateEndpoint and Join).
  constructor(private readonly waiting: () => readonly string[] = () => []) {}

  busy(): ReadonlySet<string> {
    const waiting = this.waiting();
    if (waiting.length === 0) return this.running;
    return new Set([...this.running, ...waiting]);
  }

  busyNetworks(): ReadonlySet<number> {
    return new Set(this.nets.keys());
  }

  opsBegun(): number {
    return this.begun;
  }

  has(id: string): boolean {
    return this.running.has(id);
  }

  begin(id: string): void {
    this.running.add(id);
    this.begun++;
  }

  end(id: string): void {
    this.running.delete(id);
  }

  // An operation that changes the endpoints without running for one (Docker's CreateEndpoint: the
  // endpoint is waiting, not running, until its Join).
  count(): void {
    this.begun++;
  }

  holdNetwork(vni: number, delta: 1 | -1): void {
    const n = (this.nets.get(vni) ?? 0) + delta;
    if (n > 0) this.nets.set(vni, n);
    else this.nets.delete(vni);
  }
}
