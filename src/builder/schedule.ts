// When an image is baked: on the `cron.image-update` schedule (UTC, as in Nodepool 0.x), at once
// when a provider image in use has no ready image, never while paused, and after a failed bake
// not before its backoff has passed. Pure: time comes in as `now`; croner only does the calendar
// arithmetic, its own timers are never started.
import { Cron } from 'croner';

export interface BakeHistory {
  /** When the newest build of this provider image started (any outcome); null = never built. */
  lastStarted: number | null;
  /** Whether a ready image exists now. */
  hasReady: boolean;
  /** Consecutive failed builds since the last good one. */
  failures: number;
  /** When the last failed build ended. */
  lastFailure: number | null;
  paused: boolean;
  /** A build is running now. */
  running: boolean;
}

export interface BakeBackoff {
  baseMs: number;
  /** The first wait when no ready image exists: its labels cannot launch at all meanwhile. */
  missingBaseMs: number;
  maxMs: number;
}

/**
 * After a failed bake: 10 min, doubling, at most 6 h (a broken setup script must not boot a
 * template server every minute); 1 min doubling while no image exists at all, since a
 * transient cloud error then stops the label's launches.
 */
export const DEFAULT_BAKE_BACKOFF: BakeBackoff = { baseMs: 10 * 60_000, missingBaseMs: 60_000, maxMs: 6 * 3600_000 };

export type BakeDecision = { due: true; reason: 'missing' | 'scheduled' } | { due: false; reason: 'paused' | 'running' | 'backoff' | 'current'; nextAt: number | null };

/** A parsed schedule; throws a RangeError naming the pattern if croner cannot read it. */
export function parseSchedule(pattern: string): Cron {
  try {
    return new Cron(pattern, { timezone: 'UTC', paused: true });
  } catch (err) {
    throw new RangeError(`cron schedule "${pattern}": ${(err as Error).message}`);
  }
}

/** The latest firing at or before `now`, or null if the schedule never fired before. */
export function lastFiring(schedule: Cron, now: number): number | null {
  // previousRuns excludes the reference instant itself; look from one millisecond later.
  const [prev] = schedule.previousRuns(1, new Date(now + 1));
  return prev ? prev.getTime() : null;
}

export function nextFiring(schedule: Cron, now: number): number | null {
  return schedule.nextRun(new Date(now))?.getTime() ?? null;
}

export function backoffUntil(h: BakeHistory, backoff: BakeBackoff): number | null {
  if (h.failures <= 0 || h.lastFailure === null) return null;
  const base = h.hasReady ? backoff.baseMs : backoff.missingBaseMs;
  return h.lastFailure + Math.min(backoff.maxMs, base * 2 ** (h.failures - 1));
}

export function bakeDue(h: BakeHistory, schedule: Cron, now: number, backoff: BakeBackoff = DEFAULT_BAKE_BACKOFF): BakeDecision {
  if (h.running) return { due: false, reason: 'running', nextAt: null };
  if (h.paused) return { due: false, reason: 'paused', nextAt: null };
  const retryAt = backoffUntil(h, backoff);
  if (retryAt !== null && retryAt > now) return { due: false, reason: 'backoff', nextAt: retryAt };
  if (!h.hasReady) return { due: true, reason: 'missing' };
  const fired = lastFiring(schedule, now);
  if (fired !== null && (h.lastStarted === null || h.lastStarted < fired)) return { due: true, reason: 'scheduled' };
  return { due: false, reason: 'current', nextAt: nextFiring(schedule, now) };
}

/** A provider image's BakeHistory from its image rows (any states), newest build deciding. */
export function bakeHistory(rows: readonly { state: string; created: number; stateTime: number }[], flags: { paused: boolean; running: boolean }): BakeHistory {
  const newestReady = Math.max(-Infinity, ...rows.filter((r) => r.state === 'ready').map((r) => r.created));
  const failures = rows.filter((r) => r.state === 'failed' && r.created > newestReady);
  return {
    lastStarted: rows.length ? Math.max(...rows.map((r) => r.created)) : null,
    hasReady: newestReady > -Infinity,
    failures: failures.length,
    lastFailure: failures.length ? Math.max(...failures.map((r) => r.stateTime)) : null,
    ...flags,
  };
}
