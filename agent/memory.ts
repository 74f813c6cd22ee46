import { nativeAddon } from './dataplane/native';
import type { Logger } from '../lib/log';

// A burst of watch events (10,000 endpoints appearing: megabytes of responses, tens of thousands of
// short-lived objects) grows V8's heap and the C heap under the Buffers. V8 gives its free pages
// back only in a collection meant to reduce memory, which it runs by itself only after ~10 quiet
// seconds (or under pressure), and glibc keeps free memory in the middle of its heap resident. So
// once a burst is over the agent asks for both (native/memory.cc): measured with 10,000 remote
// endpoints appearing, 77 MB resident 2 s after instead of ~109 MB (~83 MB after 10 s).
const BURST = 1000; // records loaded or watched within WINDOW_MS that make a burst (a restart with many is one)
const WINDOW_MS = 10_000;

export function giveMemoryBack(): void {
  nativeAddon().reduceHeap(); // one full, compacting collection: tens of ms on the main thread
  nativeAddon().trimMemory();
}

export class MemoryTrim {
  private recent: { at: number; before: number }[] = [];
  private last = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly recordsSeen: () => number,
    private readonly log: Logger,
    private readonly quietMs = 2000, // after the last reconcile of the burst
    private readonly reduce: () => void = giveMemoryBack,
  ) {}

  // After every reconcile. A trickle of changes never adds up to a burst: the collection it asks
  // for holds the main thread for tens of milliseconds, so it is kept for real bursts.
  afterRun(now = Date.now()): void {
    const seen = this.recordsSeen();
    this.recent = this.recent.filter((r) => now - r.at <= WINDOW_MS);
    this.recent.push({ at: now, before: this.last });
    this.last = seen;
    if (seen - this.recent[0].before < BURST && !this.timer) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), this.quietMs);
    this.timer.unref();
  }

  private run(): void {
    this.timer = undefined;
    this.recent = [];
    const t = performance.now();
    const before = process.memoryUsage.rss();
    this.reduce();
    this.log.debug('memory given back after a burst', {
      ms: Math.round(performance.now() - t),
      rssMb: [Math.round(before / 1048576), Math.round(process.memoryUsage.rss() / 1048576)],
    });
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
