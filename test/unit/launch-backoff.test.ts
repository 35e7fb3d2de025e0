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
});
