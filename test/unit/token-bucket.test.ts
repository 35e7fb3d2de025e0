import { describe, expect, it } from 'vitest';
import { ManualClock, type Clock } from '../../src/clock.js';
import { TokenBucket } from '../../providers/token-bucket.js';

/** Lets resolved promise chains run. */
const flush = () => new Promise((r) => setImmediate(r));

/** A ManualClock that counts sleeps still pending, to prove there is one timer, not one per waiter. */
class CountingClock implements Clock {
  pending = 0;
  maxPending = 0;
  constructor(readonly inner = new ManualClock()) {}
  now() {
    return this.inner.now();
  }
  async sleep(ms: number, signal?: AbortSignal) {
    this.pending++;
    this.maxPending = Math.max(this.maxPending, this.pending);
    try {
      await this.inner.sleep(ms, signal);
    } finally {
      this.pending--;
    }
  }
}

function track(bucket: TokenBucket, clock: Clock, n: number) {
  const times: number[] = [];
  const order: number[] = [];
  const all = Array.from({ length: n }, (_, i) =>
    bucket.take().then(() => {
      times.push(clock.now());
      order.push(i);
    }),
  );
  return { times, order, all: Promise.all(all) };
}

describe('TokenBucket', () => {
  it('paces N calls so that they take (N - burst) * interval', async () => {
    const clock = new ManualClock(1_000_000);
    const bucket = new TokenBucket({ intervalMs: 1000, burst: 2, clock });
    const { times, order, all } = track(bucket, clock, 6);
    await flush();
    expect(times).toEqual([1_000_000, 1_000_000]);
    for (let i = 0; i < 4; i++) {
      await clock.advance(999);
      const before = times.length;
      await clock.advance(1);
      expect(times.length).toBe(before + 1);
    }
    await all;
    expect(times.map((t) => t - 1_000_000)).toEqual([0, 0, 1000, 2000, 3000, 4000]);
    expect(times.at(-1)! - times[0]).toBe((6 - 2) * 1000);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('refills to at most burst tokens after a quiet spell', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ intervalMs: 500, burst: 3, clock });
    await track(bucket, clock, 3).all;
    expect(bucket.available()).toBe(0);
    await clock.advance(60_000);
    expect(bucket.available()).toBe(3);
    const { times } = track(bucket, clock, 5);
    await flush();
    expect(times).toEqual([60_000, 60_000, 60_000]);
    await clock.advance(500);
    expect(times.length).toBe(4);
  });

  it('keeps one timer however many callers wait', async () => {
    const clock = new CountingClock();
    const bucket = new TokenBucket({ intervalMs: 100, burst: 1, clock });
    const { times, all } = track(bucket, clock, 50);
    await flush();
    expect(bucket.pending()).toBe(49);
    for (let i = 0; i < 49; i++) await clock.inner.advance(100);
    await all;
    expect(times.length).toBe(50);
    expect(clock.maxPending).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it('hands out no token during a Retry-After pause, then one per interval', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ intervalMs: 1000, burst: 3, clock });
    bucket.pause(5000);
    expect(bucket.available()).toBe(0);
    const { times, all } = track(bucket, clock, 3);
    await flush();
    expect(times).toEqual([]);
    await clock.advance(4999);
    expect(times).toEqual([]);
    await clock.advance(1);
    expect(times).toEqual([5000]);
    await clock.advance(1000);
    await clock.advance(1000);
    await all;
    expect(times).toEqual([5000, 6000, 7000]);
  });

  it('a pause that arrives while a timer is armed still holds the waiters back', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ intervalMs: 1000, burst: 1, clock });
    await bucket.take();
    const { times } = track(bucket, clock, 1);
    await flush();
    bucket.pause(3000);
    await clock.advance(1000);
    expect(times).toEqual([]);
    await clock.advance(2000);
    expect(times).toEqual([3000]);
  });

  it('an aborted waiter leaves the queue and the next one takes its turn', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ intervalMs: 1000, burst: 1, clock });
    await bucket.take();
    const ac = new AbortController();
    const first = bucket.take(ac.signal);
    const got: string[] = [];
    const second = bucket.take().then(() => got.push(`second@${clock.now()}`));
    ac.abort(new Error('gave up'));
    await expect(first).rejects.toThrow('gave up');
    await clock.advance(1000);
    await second;
    expect(got).toEqual(['second@1000']);
  });

  it('close() rejects waiters and later takes, and is idempotent', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ intervalMs: 1000, burst: 1, clock });
    await bucket.take();
    const waiting = bucket.take();
    bucket.close();
    bucket.close();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    await expect(bucket.take()).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('rejects nonsense options', () => {
    const clock = new ManualClock();
    expect(() => new TokenBucket({ intervalMs: 100, burst: 0, clock })).toThrow(RangeError);
    expect(() => new TokenBucket({ intervalMs: -1, burst: 1, clock })).toThrow(RangeError);
  });
});
