// One token bucket per provider paces every API call. It is kept as a "theoretical arrival
// time" (GCRA): the bucket is the single number `tat`, so refills need no fractional tokens
// and a Retry-After pause is just moving `tat` forward.
import type { Clock } from '../src/clock.js';

export interface TokenBucketOptions {
  /** Milliseconds between tokens (config `rate` is seconds between calls: multiply by 1000). */
  intervalMs: number;
  /** Tokens that may be taken at once after a quiet spell. */
  burst: number;
  clock: Clock;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class TokenBucket {
  private readonly intervalMs: number;
  private readonly burst: number;
  private readonly clock: Clock;
  /** When the bucket would be empty again if no more tokens were taken; a token is free while tat <= now + (burst-1)*interval. */
  private tat: number;
  private readonly queue: Waiter[] = [];
  /** The one pending timer (a cancellable clock sleep), if any waiter is queued. */
  private timer: AbortController | null = null;
  private closedReason: unknown = null;

  constructor(opts: TokenBucketOptions) {
    if (!(opts.intervalMs >= 0)) throw new RangeError(`intervalMs must be >= 0, got ${opts.intervalMs}`);
    if (!(Number.isInteger(opts.burst) && opts.burst >= 1)) throw new RangeError(`burst must be an integer >= 1, got ${opts.burst}`);
    this.intervalMs = opts.intervalMs;
    this.burst = opts.burst;
    this.clock = opts.clock;
    this.tat = opts.clock.now();
  }

  /** Resolves when a token is ours. Waiters are served first come, first served. */
  take(signal?: AbortSignal): Promise<void> {
    if (this.closedReason) return Promise.reject(this.closedReason);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.queue.length === 0 && this.waitMs() <= 0) {
      this.consume();
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          if (this.queue.length === 0) this.cancelTimer();
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      this.schedule();
    });
  }

  /** The cloud asked us to wait (Retry-After): no token is handed out for `ms`, then one per interval. */
  pause(ms: number): void {
    if (!(ms > 0)) return;
    const resumeAt = this.clock.now() + ms;
    this.tat = Math.max(this.tat, resumeAt + (this.burst - 1) * this.intervalMs);
    // A pending timer may now fire early; dispatch() then finds no token and re-arms it.
  }

  /** Tokens that could be taken right now without waiting (for metrics and tests). */
  available(): number {
    if (this.queue.length > 0) return 0;
    const now = this.clock.now();
    if (this.intervalMs === 0) return this.tat <= now ? this.burst : 0;
    const free = Math.floor((now + this.burst * this.intervalMs - Math.max(this.tat, now)) / this.intervalMs);
    return Math.max(0, Math.min(this.burst, free));
  }

  /** Callers waiting for a token. */
  pending(): number {
    return this.queue.length;
  }

  /** Rejects every waiter (and later takes) with `reason`; idempotent. */
  close(reason: unknown = new DOMException('token bucket closed', 'AbortError')): void {
    if (this.closedReason) return;
    this.closedReason = reason;
    this.cancelTimer();
    for (const w of this.queue.splice(0)) {
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      w.reject(reason);
    }
  }

  private waitMs(): number {
    return this.tat - (this.burst - 1) * this.intervalMs - this.clock.now();
  }

  private consume(): void {
    this.tat = Math.max(this.tat, this.clock.now()) + this.intervalMs;
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0) return;
    const wait = this.waitMs();
    if (wait <= 0) {
      this.dispatch();
      return;
    }
    const timer = new AbortController();
    this.timer = timer;
    this.clock.sleep(wait, timer.signal).then(
      () => {
        if (this.timer !== timer) return;
        this.timer = null;
        this.dispatch();
      },
      () => {
        // Cancelled: close() or the queue emptied.
      },
    );
  }

  private dispatch(): void {
    while (this.queue.length > 0 && this.waitMs() <= 0) {
      const w = this.queue.shift()!;
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      this.consume();
      w.resolve();
    }
    this.schedule();
  }

  private cancelTimer(): void {
    const t = this.timer;
    this.timer = null;
    t?.abort();
  }
}
