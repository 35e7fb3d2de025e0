import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { BadRequestError, CloudNetworkError, CloudServerError, QuotaExceededError, RateLimitedError } from '../../src/errors.js';
import { backoffDelay, DEFAULT_RETRY_POLICY, retryDelayFor, retryPolicy, withRetry, type RetryPolicy } from '../../providers/retry.js';

const flush = () => new Promise((r) => setImmediate(r));
const policy = (p: Partial<RetryPolicy> = {}): RetryPolicy => retryPolicy({ maxRetries: 3, minDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 'none', ...p });

describe('backoffDelay', () => {
  it('grows by factor and is capped at maxDelayMs', () => {
    const p = policy();
    expect([1, 2, 3, 4, 5, 10].map((a) => backoffDelay(a, p))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('full jitter stays within [0, cap] and spans it', () => {
    const p = policy({ jitter: 'full' });
    expect(backoffDelay(3, p, () => 0)).toBe(0);
    expect(backoffDelay(3, p, () => 0.999999)).toBeCloseTo(400, 3);
    for (let a = 1; a < 12; a++) {
      for (const r of [0, 0.25, 0.5, 0.75, 0.9999]) {
        const d = backoffDelay(a, p, () => r);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(Math.min(1000, 100 * 2 ** (a - 1)));
      }
    }
  });

  it('equal jitter stays within [cap/2, cap]', () => {
    const p = policy({ jitter: 'equal' });
    expect(backoffDelay(2, p, () => 0)).toBe(100);
    expect(backoffDelay(2, p, () => 0.5)).toBe(150);
    for (let a = 1; a < 12; a++) {
      const cap = Math.min(1000, 100 * 2 ** (a - 1));
      expect(backoffDelay(a, p, () => 0)).toBeGreaterThanOrEqual(cap / 2);
      expect(backoffDelay(a, p, () => 0.9999)).toBeLessThanOrEqual(cap);
    }
  });

  it('validates the policy', () => {
    expect(() => retryPolicy({ maxRetries: -1 })).toThrow(RangeError);
    expect(() => retryPolicy({ minDelayMs: 10, maxDelayMs: 5 })).toThrow(RangeError);
    expect(() => retryPolicy({ factor: 0.5 })).toThrow(RangeError);
    expect(retryPolicy()).toEqual(DEFAULT_RETRY_POLICY);
  });
});

describe('retryDelayFor', () => {
  it('honours Retry-After over a shorter backoff', () => {
    const err = new RateLimitedError('slow down', 429, 7000);
    expect(retryDelayFor(err, 1, policy({ jitter: 'full', maxDelayMs: 30_000 }), () => 0)).toBe(7000);
  });

  it('falls back to the backoff when there is no Retry-After', () => {
    const err = new RateLimitedError('slow down', 429, null);
    expect(retryDelayFor(err, 3, policy(), () => 0)).toBe(400);
    expect(retryDelayFor(new CloudServerError('boom', 503), 2, policy(), () => 0)).toBe(200);
  });

  it('caps a Retry-After longer than the policy allows at maxDelayMs', () => {
    const err = new RateLimitedError('slow down', 429, 3_600_000);
    expect(retryDelayFor(err, 1, policy({ maxDelayMs: 30_000 }), () => 0)).toBe(30_000);
  });

  it('does not hammer when Retry-After says 0', () => {
    const err = new RateLimitedError('slow down', 429, 0);
    expect(retryDelayFor(err, 3, policy(), () => 0)).toBeGreaterThan(0);
  });
});

describe('withRetry', () => {
  it('retries retryable errors with the backoff delays, then succeeds', async () => {
    const clock = new ManualClock();
    const calls: number[] = [];
    const retries: [string, number, number][] = [];
    const p = withRetry(
      async (attempt) => {
        calls.push(clock.now());
        if (attempt < 2) throw attempt === 0 ? new CloudServerError('503', 503) : new CloudNetworkError('reset');
        return 'ok';
      },
      { policy: policy(), clock, random: () => 0, onRetry: (e, a, d) => retries.push([(e as Error).name, a, d]) },
    );
    await flush();
    expect(calls).toEqual([0]);
    await clock.advance(100);
    expect(calls).toEqual([0, 100]);
    await clock.advance(199);
    expect(calls).toEqual([0, 100]);
    await clock.advance(1);
    await expect(p).resolves.toBe('ok');
    expect(calls).toEqual([0, 100, 300]);
    expect(retries).toEqual([
      ['CloudServerError', 1, 100],
      ['CloudNetworkError', 2, 200],
    ]);
  });

  it('does not retry non-retryable errors', async () => {
    const clock = new ManualClock();
    for (const err of [new QuotaExceededError('full', 403), new BadRequestError('bad', 400), new Error('plain')]) {
      let n = 0;
      await expect(
        withRetry(
          async () => {
            n++;
            throw err;
          },
          { policy: policy(), clock },
        ),
      ).rejects.toBe(err);
      expect(n).toBe(1);
    }
  });

  it('gives up after maxRetries and throws the last error', async () => {
    const clock = new ManualClock();
    let n = 0;
    const p = withRetry(
      async () => {
        throw new CloudServerError(`fail ${++n}`, 500);
      },
      { policy: policy({ maxRetries: 2 }), clock, random: () => 0 },
    );
    const settled = p.catch((e: Error) => e);
    for (let i = 0; i < 5; i++) await clock.advance(1000);
    const err = await settled;
    expect((err as Error).message).toBe('fail 3');
    expect(n).toBe(3);
  });

  it('the wait is cancelled by the signal', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    let n = 0;
    const p = withRetry(
      async () => {
        n++;
        throw new CloudServerError('503', 503);
      },
      { policy: policy({ minDelayMs: 60_000, maxDelayMs: 60_000 }), clock, signal: ac.signal },
    );
    await flush();
    ac.abort(new Error('shutting down'));
    await expect(p).rejects.toThrow('shutting down');
    expect(n).toBe(1);
  });
});
