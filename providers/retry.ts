// Retry policy as data plus small pure functions: capped exponential backoff with jitter,
// Retry-After honoured, and a cancellable wait. Only errors that say `retryable: true`
// (src/errors.ts: 5xx, network, 429) are retried; everything else propagates at once.
import type { Clock } from '../src/clock.js';
import { RateLimitedError } from '../src/errors.js';

export interface RetryPolicy {
  /** Retries after the first attempt (0 = call once). */
  maxRetries: number;
  /** Base delay of the first retry. */
  minDelayMs: number;
  /** Cap of every wait: the exponential delay and a cloud's Retry-After alike. */
  maxDelayMs: number;
  /** Growth per retry. */
  factor: number;
  /**
   * 'full': uniform in [0, d]; 'equal': uniform in [d/2, d]; 'none': d,
   * where d = min(maxDelayMs, minDelayMs * factor^(attempt-1)).
   */
  jitter: 'full' | 'equal' | 'none';
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxRetries: 4,
  minDelayMs: 500,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 'equal',
});

export function retryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  const p = { ...DEFAULT_RETRY_POLICY, ...overrides };
  if (!(Number.isInteger(p.maxRetries) && p.maxRetries >= 0)) throw new RangeError(`maxRetries must be an integer >= 0, got ${p.maxRetries}`);
  if (!(p.minDelayMs >= 0 && p.maxDelayMs >= p.minDelayMs)) throw new RangeError(`need 0 <= minDelayMs <= maxDelayMs, got ${p.minDelayMs}, ${p.maxDelayMs}`);
  if (!(p.factor >= 1)) throw new RangeError(`factor must be >= 1, got ${p.factor}`);
  return p;
}

/** Delay before retry number `attempt` (1 = the first retry). `random` returns [0, 1). */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempt));
  const cap = Math.min(policy.maxDelayMs, policy.minDelayMs * Math.pow(policy.factor, n - 1));
  switch (policy.jitter) {
    case 'none':
      return cap;
    case 'equal':
      return cap / 2 + random() * (cap / 2);
    case 'full':
      return random() * cap;
  }
}

/** Whether an error says the same call may succeed later. */
export function isRetryable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === true;
}

/** How long a Retry-After of `ms` may pause us: a cloud (or a proxy) asking for an hour must not stall launches and deletes for an hour. */
export function cappedRetryAfter(ms: number, policy: RetryPolicy): number {
  return Math.min(Math.max(0, ms), policy.maxDelayMs);
}

/**
 * The wait before retrying after `err`: the cloud's Retry-After if it sent one (at most
 * `maxDelayMs`), else the backoff.
 */
export function retryDelayFor(err: unknown, attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  if (err instanceof RateLimitedError && err.retryAfterMs !== null && err.retryAfterMs >= 0) {
    // Not earlier than the cloud asked (up to the cap); the backoff still grows if it keeps saying "now".
    return Math.max(cappedRetryAfter(err.retryAfterMs, policy), backoffDelay(attempt, { ...policy, jitter: 'none' }) / 2);
  }
  return backoffDelay(attempt, policy, random);
}

export interface WithRetryOptions {
  policy: RetryPolicy;
  clock: Clock;
  signal?: AbortSignal;
  random?: () => number;
  /** Called before each wait; `attempt` is the retry about to happen (1 = first retry). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Calls `fn(attempt)` (attempt 0 = first call) until it resolves, throws a non-retryable error,
 * or the retries run out (the last error is thrown). Aborting `signal` ends the wait at once
 * with the signal's reason.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: WithRetryOptions): Promise<T> {
  const random = opts.random ?? Math.random;
  for (let attempt = 0; ; attempt++) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isRetryable(err) || attempt >= opts.policy.maxRetries) throw err;
      if (opts.signal?.aborted) throw opts.signal.reason;
      const delay = retryDelayFor(err, attempt + 1, opts.policy, random);
      opts.onRetry?.(err, attempt + 1, delay);
      await opts.clock.sleep(delay, opts.signal);
    }
  }
}
