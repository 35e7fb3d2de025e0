// After a launch fails for good (wrong target credentials, an unusable key, servers that keep
// coming up in ERROR), new launches of that label on that provider wait: 5 s, 10 s, 20 s, ...
// up to 5 minutes. A successful launch clears it. Without this a broken setup churns servers.

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_LAUNCH_BACKOFF: BackoffPolicy = { baseMs: 5_000, maxMs: 300_000 };

export class LaunchBackoff {
  private readonly entries = new Map<string, { failures: number; until: number }>();
  constructor(private readonly policy: BackoffPolicy = DEFAULT_LAUNCH_BACKOFF) {}

  static key(provider: string, label: string): string {
    return `${provider}\u0000${label}`;
  }

  failed(provider: string, label: string, now: number): number {
    const key = LaunchBackoff.key(provider, label);
    const failures = (this.entries.get(key)?.failures ?? 0) + 1;
    const wait = Math.min(this.policy.maxMs, this.policy.baseMs * 2 ** (failures - 1));
    this.entries.set(key, { failures, until: now + wait });
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
