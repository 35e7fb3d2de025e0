import { describe, expect, it } from 'vitest';
import { LaunchBackoff } from '../../src/launch-backoff.js';

describe('LaunchBackoff', () => {
  it('doubles the wait per failure up to the cap, per provider and label, and clears on success', () => {
    const b = new LaunchBackoff({ baseMs: 100, maxMs: 350 });
    expect([b.failed('a', 'l', 0), b.failed('a', 'l', 0), b.failed('a', 'l', 0), b.failed('a', 'l', 0)]).toEqual([100, 200, 350, 350]);
    expect(b.blocked('a', 'l', 349)).toBe(true);
    expect(b.blocked('a', 'l', 350)).toBe(false);
    expect(b.blocked('b', 'l', 0)).toBe(false);
    expect(b.blocked('a', 'm', 0)).toBe(false);
    b.succeeded('a', 'l');
    expect(b.blocked('a', 'l', 0)).toBe(false);
    expect(b.failed('a', 'l', 0)).toBe(100);
  });

  it('takes one step for launches that started together and failed together, not one per launch', () => {
    const b = new LaunchBackoff({ baseMs: 5000, maxMs: 300_000 });
    const tickets = Array.from({ length: 6 }, () => b.ticket('a', 'l'));
    const waits = tickets.map((t, i) => b.failed('a', 'l', i * 10, t));
    expect(waits[0]).toBe(5000);
    expect(Math.max(...waits)).toBe(5000);
    expect(b.blocked('a', 'l', 4999)).toBe(true);
    expect(b.blocked('a', 'l', 5000)).toBe(false);
    // The next round (launched after the pause) fails: one more step.
    const next = b.ticket('a', 'l');
    expect(b.failed('a', 'l', 6000, next)).toBe(10_000);
    expect(b.failed('a', 'l', 6001, next)).toBe(9999);
  });
});
