// What the agent knows of etcd from its own requests: when etcd last answered anything (a request,
// a watch response, a probe) and since when it has not. A request that hears nothing from etcd for
// SILENCE_MS gives up (UNAVAILABLE within a second, as an outage must be told), while one that is
// merely slow, with etcd answering meanwhile, gets its whole deadline: a loaded etcd is not a gone
// one, and a probe tells the two apart.
export const SILENCE_MS = 800;
export const PROBE_AFTER_MS = 300;

export class EtcdHealth {
  lastAnswer = 0; // ms since the epoch
  private failingSince: number | undefined;

  answered(now = Date.now()): void {
    this.lastAnswer = now;
    this.failingSince = undefined;
  }

  failed(now = Date.now()): void {
    this.failingSince ??= now;
  }

  // Since when etcd has not answered, while it does not: undefined when its last request succeeded.
  outageSince(): number | undefined {
    return this.failingSince;
  }

  // Whether a request begun at `start` has waited long enough in silence to be given up.
  silent(start: number, now = Date.now()): boolean {
    return now - start >= SILENCE_MS && now - this.lastAnswer >= SILENCE_MS;
  }
}
