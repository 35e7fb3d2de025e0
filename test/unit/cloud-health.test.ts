import { expect, it } from 'vitest';
import { CloudHealth } from '../../src/cloud-health.js';
import { ManualClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';

function tracker() {
  const lines: { level: number; msg: string; provider?: string; error?: string; downForMs?: number }[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  const clock = new ManualClock(1_000);
  const gauge: Record<string, number> = {};
  const health = new CloudHealth({ clock, log, onState: (p, up) => (gauge[p] = up ? 1 : 0) });
  return { health, clock, lines, gauge };
}

it('logs "cloud unreachable" once per outage and "cloud reachable again" when it answers', async () => {
  const { health, clock, lines, gauge } = tracker();
  expect(health.status('cloud-a')).toEqual({ up: null, since: 1_000 });
  expect(health.answered('cloud-a')).toBe(null); // first answer: not news
  await clock.advance(500);
  expect(health.failed('cloud-a', new Error('connect ECONNREFUSED'))).toBe('down');
  expect(gauge['cloud-a']).toBe(0);
  await clock.advance(500);
  expect(health.failed('cloud-a', new Error('connect ECONNREFUSED'))).toBe(null);
  expect(health.status('cloud-a')).toEqual({ up: false, since: 1_500, lastError: 'connect ECONNREFUSED' });
  await clock.advance(1_000);
  expect(health.answered('cloud-a')).toBe('up');
  expect(health.answered('cloud-a')).toBe(null);
  expect(gauge['cloud-a']).toBe(1);
  expect(health.status('cloud-a')).toEqual({ up: true, since: 3_000 });
  expect(lines.filter((l) => l.level >= 30).map((l) => [l.level, l.msg, l.provider, l.error ?? l.downForMs])).toEqual([
    [40, 'cloud unreachable', 'cloud-a', 'connect ECONNREFUSED'],
    [30, 'cloud reachable again', 'cloud-a', 1_500],
  ]);
});

it('a cloud that never answered is down from its first failure; providers are tracked apart and can be forgotten', () => {
  const { health, lines } = tracker();
  expect(health.failed('cloud-b', new Error('timeout'))).toBe('down');
  expect(health.answered('cloud-a')).toBe(null);
  expect([health.status('cloud-a').up, health.status('cloud-b').up]).toEqual([true, false]);
  health.forget('cloud-b');
  expect(health.status('cloud-b').up).toBe(null);
  expect(lines.filter((l) => l.msg === 'cloud unreachable')).toHaveLength(1);
});
