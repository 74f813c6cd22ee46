import { nativeAddon } from './dataplane/native';
import type { Logger } from './log';

// A burst of watch events (10,000 endpoints appearing: megabytes of responses, tens of thousands of
// short-lived objects) grows V8's heap and the C heap under the Buffers. V8 gives its free pages
// back only in a collection meant to reduce memory, which it runs by itself only after ~10 quiet
// seconds (or under pressure), and glibc keeps free memory in the middle of its heap resident. So
// once a burst is over the agent asks for both (native/memory.cc): measured with 10,000 remote
// endpoints appearing, 77 MB resident 2 s after instead of ~109 MB (~83 MB after 10 s).
const BURST = 1000; // records loaded or watched since the last look that make a burst (a restart with many is one too)
const QUIET_MS = 2000; // after the last reconcile of the burst

export class MemoryTrim {
  private seen = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly recordsSeen: () => number, private readonly log: Logger) {}

  // After every reconcile; cheap unless a burst came in since the last look.
  afterRun(): void {
    const n = this.recordsSeen();
    if (n - this.seen < BURST && !this.timer) return;
    this.seen = n;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reduce(), QUIET_MS);
    this.timer.unref();
  }

  private reduce(): void {
    this.timer = undefined;
    const t = performance.now();
    const before = process.memoryUsage.rss();
    nativeAddon().reduceHeap(); // one full, compacting collection: tens of ms on the main thread
    nativeAddon().trimMemory();
    this.log.debug('memory given back after a burst', { ms: Math.round(performance.now() - t), rssMb: [Math.round(before / 1048576), Math.round(process.memoryUsage.rss() / 1048576)] });
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
