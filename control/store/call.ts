import { BrokenCircuitError } from 'cockatiel';
import { etcdUnavailable } from '../errors';
import { neverSent, storeError } from './errors';
import { PROBE_AFTER_MS, SILENCE_MS } from './health';
import type { EtcdHealth } from './health';

// How the store makes one unary request: bounded by its deadline, retried while it provably never
// reached etcd, given up on after a second of silence from every member, and counted.
export class BoundedCall {
  requests = 0;
  private probing: Promise<unknown> | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly health: EtcdHealth,
    // The cheap request that asks whether etcd is there at all (the status of any member).
    private readonly status: () => Promise<unknown>,
  ) {}

  // While a breaker is open the client refuses at once; within the call's deadline we wait for it
  // to half-open rather than fail a request that etcd, just back, would serve. Silence from etcd
  // ends the wait early (see EtcdHealth).
  async call<T>(fn: () => Promise<T>): Promise<T> {
    const start = Date.now();
    const deadline = start + this.timeoutMs;
    let cause: unknown;
    for (;;) {
      try {
        this.requests++;
        const res = await this.unlessSilent(fn(), start);
        this.health.answered();
        return res;
      } catch (err) {
        // An open breaker hides why the member failed: report the failure that opened it.
        if (!(err instanceof BrokenCircuitError)) cause = err;
        if (neverSent(err) && Date.now() + 200 < deadline && !this.health.silent(start, Date.now() + 200)) {
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        const e = storeError(err instanceof BrokenCircuitError && cause ? cause : err);
        if (e.reason === 'etcd-unavailable') this.health.failed();
        throw e;
      }
    }
  }

  // The request's own answer, or UNAVAILABLE once etcd has been silent for SILENCE_MS (a probe
  // asks whether it is there at all). A write given up on may still commit: callers that wrote
  // undo it (see the endpoint service's abandoned Connects).
  private unlessSilent<T>(p: Promise<T>, start: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const tick = setInterval(() => {
        const now = Date.now();
        if (this.health.silent(start, now)) {
          clearInterval(tick);
          reject(etcdUnavailable(`etcd is not answering (no reply from any member in ${SILENCE_MS} ms)`));
        } else if (now - this.health.lastAnswer >= PROBE_AFTER_MS) this.probe();
      }, 50);
      p.then(
        (v) => {
          clearInterval(tick);
          resolve(v);
        },
        (e: Error) => {
          clearInterval(tick);
          reject(e);
        },
      );
    });
  }

  // One cheap request at a time, to any member, whose answer says etcd is there.
  private probe(): void {
    if (this.probing) return;
    this.probing = this.status()
      .then(() => this.health.answered())
      .catch(() => undefined)
      .finally(() => {
        this.probing = undefined;
      });
  }
}
