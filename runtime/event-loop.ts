// How long the event loop was blocked: Node's delay histogram (perf_hooks),
// read once per sample period. It answers two questions: the worst delay over
// the last window (liveness: /healthz), and each period's worst delay, which
// the runtime records as a Prometheus histogram and an all-time maximum, so a
// stall while thousands of nodes are taken in shows in the metrics.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface EventLoopWatchOptions {
  /** How often the histogram is read and reset (default 1 s, at most the window). */
  readonly sampleMs?: number;
  /** Each sample period's worst delay in ms. */
  readonly onSample?: (worstMs: number) => void;
}

export class EventLoopWatch {
  private readonly histogram: IntervalHistogram;
  private readonly samples: Array<{ at: number; worstMs: number }> = [];
  private maxMs = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly windowMs = 5000,
    opts: EventLoopWatchOptions = {},
  ) {
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
    const sampleMs = Math.min(opts.sampleMs ?? 1000, windowMs);
    this.timer = setInterval(() => {
      const worstMs = this.current();
      this.histogram.reset();
      const now = performance.now();
      this.samples.push({ at: now, worstMs });
      while (this.samples.length > 0 && this.samples[0]!.at < now - this.windowMs) this.samples.shift();
      this.maxMs = Math.max(this.maxMs, worstMs);
      opts.onSample?.(worstMs);
    }, sampleMs);
    this.timer.unref();
  }

  private current(): number {
    // The histogram holds nothing until its first timer fired: max is then 0 (or a huge sentinel).
    return this.histogram.count === 0 ? 0 : this.histogram.max / 1e6;
  }

  /** Worst event-loop delay over the last window, in ms. */
  worstDelayMs(): number {
    return Math.max(this.current(), ...this.samples.map((s) => s.worstMs));
  }

  /** Worst event-loop delay since the watch started, in ms. */
  maxDelayMs(): number {
    return Math.max(this.maxMs, this.current());
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}
