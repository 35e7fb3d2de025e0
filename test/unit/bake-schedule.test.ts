import { describe, expect, it } from 'vitest';
import { bakeDue, bakeHistory, lastFiring, nextFiring, parseSchedule, type BakeHistory } from '../../src/builder/schedule.js';

const at = (iso: string) => Date.parse(iso);
const daily = parseSchedule('14 2 * * *');
const fresh: BakeHistory = { lastStarted: null, hasReady: false, failures: 0, lastFailure: null, paused: false, running: false };

describe('bake schedule (UTC)', () => {
  it('finds the last and next firing of the 0.x default, 02:14 UTC', () => {
    expect(lastFiring(daily, at('2026-12-01T03:00:00Z'))).toBe(at('2026-12-01T02:14:00Z'));
    expect(lastFiring(daily, at('2026-12-01T02:14:00Z'))).toBe(at('2026-12-01T02:14:00Z'));
    expect(lastFiring(daily, at('2026-12-01T02:13:59Z'))).toBe(at('2026-11-30T02:14:00Z'));
    expect(nextFiring(daily, at('2026-12-01T03:00:00Z'))).toBe(at('2026-12-02T02:14:00Z'));
  });

  it('bakes at once when there is no ready image, and on schedule once per firing', () => {
    expect(bakeDue(fresh, daily, at('2026-12-01T10:00:00Z'))).toEqual({ due: true, reason: 'missing' });
    const built = { ...fresh, hasReady: true, lastStarted: at('2026-12-01T10:00:00Z') };
    expect(bakeDue(built, daily, at('2026-12-01T23:00:00Z'))).toEqual({ due: false, reason: 'current', nextAt: at('2026-12-02T02:14:00Z') });
    expect(bakeDue(built, daily, at('2026-12-02T02:14:00Z'))).toEqual({ due: true, reason: 'scheduled' });
    const rebuilt = { ...built, lastStarted: at('2026-12-02T02:14:00Z') };
    expect(bakeDue(rebuilt, daily, at('2026-12-02T05:00:00Z')).due).toBe(false);
  });

  it('never bakes while paused or running, and backs off after failures', () => {
    expect(bakeDue({ ...fresh, paused: true }, daily, 0)).toEqual({ due: false, reason: 'paused', nextAt: null });
    expect(bakeDue({ ...fresh, running: true }, daily, 0)).toEqual({ due: false, reason: 'running', nextAt: null });
    // No image at all: 1 min doubled once.
    const failed = { ...fresh, failures: 2, lastFailure: at('2026-12-01T10:00:00Z') };
    expect(bakeDue(failed, daily, at('2026-12-01T10:01:59Z'))).toEqual({ due: false, reason: 'backoff', nextAt: at('2026-12-01T10:02:00Z') });
    expect(bakeDue(failed, daily, at('2026-12-01T10:02:00Z'))).toEqual({ due: true, reason: 'missing' });
    // With a ready image to fall back on: 10 min doubled once, then the schedule decides.
    const withImage = { ...failed, hasReady: true, lastStarted: at('2026-12-01T09:59:00Z') };
    expect(bakeDue(withImage, daily, at('2026-12-01T10:19:59Z'))).toEqual({ due: false, reason: 'backoff', nextAt: at('2026-12-01T10:20:00Z') });
    expect(bakeDue(withImage, daily, at('2026-12-02T02:14:00Z'))).toEqual({ due: true, reason: 'scheduled' });
    const many = { ...fresh, failures: 30, lastFailure: 0 };
    expect(bakeDue(many, daily, 6 * 3600_000 - 1).due).toBe(false);
    expect(bakeDue(many, daily, 6 * 3600_000).due).toBe(true);
  });

  it('names a pattern croner cannot read', () => {
    expect(() => parseSchedule('61 2 * * *')).toThrow(/cron schedule "61 2 \* \* \*"/);
  });

  it('derives the history from the image rows: failures since the newest ready build count', () => {
    const rows = [
      { state: 'ready', created: 100, stateTime: 150 },
      { state: 'failed', created: 50, stateTime: 60 },
      { state: 'failed', created: 200, stateTime: 210 },
      { state: 'failed', created: 300, stateTime: 330 },
    ];
    expect(bakeHistory(rows, { paused: false, running: false })).toEqual({ lastStarted: 300, hasReady: true, failures: 2, lastFailure: 330, paused: false, running: false });
    expect(bakeHistory([], { paused: true, running: false })).toEqual({ lastStarted: null, hasReady: false, failures: 0, lastFailure: null, paused: true, running: false });
  });
});
