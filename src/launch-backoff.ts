// After a launch fails for good (wrong target credentials, an unusable key, servers that keep
// coming up in ERROR), new launches of that label on that provider wait: 5 s, 10 s, 20 s, ...
// up to 5 minutes. A successful launch clears it. Without this a broken setup churns servers.
// Launches planned together fail together (six launches against a wrong token fail within the
// same second): they are one round and take one step, not six. A launch carries the ticket it
// got when it started; a failure whose ticket predates the latest step belongs to a round that
// has already backed off.

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_LAUNCH_BACKOFF: BackoffPolicy = { baseMs: 5_000, maxMs: 300_000 };

export class LaunchBackoff {
  private readonly entries = new Map<string, { failures: number; until: number }>();
  /** Steps taken per key since start (never reset), the ticket a launch starts with. */
  private readonly steps = new Map<string, number>();
  constructor(private readonly policy: BackoffPolicy = DEFAULT_LAUNCH_BACKOFF) {}

  static key(provider: string, label: string): string {
    return `${provider}\u0000${label}`;
  }

  /** What a launch of this provider and label starting now hands back to `failed`. */
  ticket(provider: string, label: string): number {
    return this.steps.get(LaunchBackoff.key(provider, label)) ?? 0;
  }

  /**
   * A launch failed for good. Returns the wait from `now`. With the launch's `ticket`, a failure
   * from a round that already took a step adds none.
   */
  failed(provider: string, label: string, now: number, ticket?: number): number {
    const key = LaunchBackoff.key(provider, label);
    const entry = this.entries.get(key);
    const steps = this.steps.get(key) ?? 0;
    if (entry && ticket !== undefined && ticket < steps) return Math.max(0, entry.until - now);
    const failures = (entry?.failures ?? 0) + 1;
    const wait = Math.min(this.policy.maxMs, this.policy.baseMs * 2 ** (failures - 1));
    this.entries.set(key, { failures, until: now + wait });
    this.steps.set(key, steps + 1);
    return wait;
  }

  succeeded(provider: string, label: string): void {
    this.entries.delete(LaunchBackoff.key(provider, label));
  }

  blocked(provider: string, label: string, now: number): boolean {
    const entry = this.entries.get(LaunchBackoff.key(provider, label));
    return entry !== undefined && entry.until > now;
  }
}
