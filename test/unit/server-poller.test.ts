import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { CloudServerError, TimeoutError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import type { CloudServer, ServerStatus } from '../../providers/provider.js';
import { ServerPoller } from '../../providers/server-poller.js';

const flush = () => new Promise((r) => setImmediate(r));

function server(id: string, status: ServerStatus): CloudServer {
  return { id, name: `node-${id}`, status, rawStatus: status.toUpperCase(), ip: null, az: null, metadata: {}, fault: null, created: 0 };
}

/** An in-memory cloud list whose calls are counted; `fail` makes the next calls throw. */
function fakeCloud() {
  const servers = new Map<string, CloudServer>();
  const state = { lists: 0, fail: 0 };
  const list = async () => {
    state.lists++;
    if (state.fail > 0) {
      state.fail--;
      throw new CloudServerError('503 from nova', 503);
    }
    return [...servers.values()].map((s) => ({ ...s }));
  };
  return { servers, state, list };
}

const isActive = (s: CloudServer | undefined) => s?.status === 'active';

describe('ServerPoller', () => {
  it('does not poll while nobody waits', async () => {
    const clock = new ManualClock();
    const cloud = fakeCloud();
    const poller = new ServerPoller({ list: cloud.list, clock, log: silentLogger, intervalMs: 1000 });
    await clock.advance(10_000);
    poller.pollNow();
    await flush();
    expect(cloud.state.lists).toBe(0);
    expect(poller.snapshot()).toBeNull();
    poller.close();
  });

  it('one list call answers many waiters', async () => {
    const clock = new ManualClock();
    const cloud = fakeCloud();
    const poller = new ServerPoller({ list: cloud.list, clock, log: silentLogger, intervalMs: 1000 });
    const ids = Array.from({ length: 20 }, (_, i) => `s${i}`);
    for (const id of ids) cloud.servers.set(id, server(id, 'building'));
    const done: string[] = [];
    const waits = ids.map((id) => poller.waitFor(id, isActive, 60_000).then((s) => done.push(s!.id)));
    await clock.advance(1000);
    expect(cloud.state.lists).toBe(1);
    expect(done).toEqual([]);
    for (const id of ids) cloud.servers.set(id, server(id, 'active'));
    await clock.advance(1000);
    await Promise.all(waits);
    expect(cloud.state.lists).toBe(2);
    expect(done.sort()).toEqual([...ids].sort());
    expect(poller.snapshot()).toMatchObject({ at: 2000 });
    expect(poller.snapshot()!.servers.every((s) => s.status === 'active')).toBe(true);
    expect(poller.snapshot()!.servers).toHaveLength(20);
    // Nobody waits any more: the poll stops.
    await clock.advance(10_000);
    expect(cloud.state.lists).toBe(2);
    poller.close();
  });

  it('pollNow runs early and calls made together share one poll', async () => {
    const clock = new ManualClock();
    const cloud = fakeCloud();
    cloud.servers.set('a', server('a', 'active'));
    const poller = new ServerPoller({ list: cloud.list, clock, log: silentLogger, intervalMs: 5000 });
    const wait = poller.waitFor('a', isActive, 60_000);
    poller.pollNow();
    poller.pollNow();
    poller.pollNow();
    await flush();
    await expect(wait).resolves.toMatchObject({ id: 'a' });
    expect(cloud.state.lists).toBe(1);
    expect(clock.now()).toBe(0);
    poller.close();
  });

  it('a list that was sent before a waiter arrived does not answer it', async () => {
    const clock = new ManualClock();
    let release!: (s: CloudServer[]) => void;
    let lists = 0;
    const poller = new ServerPoller({
      list: () => {
        lists++;
        return lists === 1 ? new Promise((r) => (release = r)) : Promise.resolve([]);
      },
      clock,
      log: silentLogger,
      intervalMs: 1000,
    });
    const first = poller.waitFor('x', () => false, 60_000);
    await clock.advance(1000); // poll 1 is now in flight
    const gone = poller.waitFor('b', (s) => !s, 60_000);
    let goneDone = false;
    void gone.then(() => (goneDone = true));
    release([server('other', 'active')]);
    await flush();
    expect(goneDone).toBe(false);
    await clock.advance(1000);
    await gone;
    expect(lists).toBe(2);
    poller.close();
    await expect(first).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('a failed poll is logged and retried at the next tick, waiters keep waiting', async () => {
    const clock = new ManualClock();
    const cloud = fakeCloud();
    cloud.servers.set('a', server('a', 'active'));
    cloud.state.fail = 2;
    const poller = new ServerPoller({ list: cloud.list, clock, log: silentLogger, intervalMs: 1000 });
    const wait = poller.waitFor('a', isActive, 60_000);
    await clock.advance(1000);
    await clock.advance(1000);
    expect(poller.stats()).toMatchObject({ waiters: 1, polls: 2, failures: 2 });
    await clock.advance(1000);
    await expect(wait).resolves.toMatchObject({ id: 'a', status: 'active' });
    expect(cloud.state.lists).toBe(3);
    poller.close();
  });

  it('times out with TimeoutError and a predicate error fails only its waiter', async () => {
    const clock = new ManualClock();
    const cloud = fakeCloud();
    cloud.servers.set('bad', server('bad', 'error'));
    cloud.servers.set('slow', server('slow', 'building'));
    const poller = new ServerPoller({ list: cloud.list, clock, log: silentLogger, intervalMs: 1000 });
    const slow = poller.waitFor('slow', isActive, 2500, undefined, 'active');
    const slowResult = slow.catch((e: unknown) => e);
    const bad = poller.waitFor('bad', (s) => {
      if (s?.status === 'error') throw new Error('went to ERROR');
      return false;
    }, 60_000);
    const badResult = bad.catch((e: unknown) => e);
    await clock.advance(1000);
    expect(await badResult).toMatchObject({ message: 'went to ERROR' });
    await clock.advance(1000);
    await clock.advance(500);
    const err = await slowResult;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe('server slow: not active after 2500 ms');
    expect(poller.stats().waiters).toBe(0);
    poller.close();
  });

  it('a waiter can be aborted by its signal', async () => {
    const clock = new ManualClock();
    const cloud = fakeCloud();
    const poller = new ServerPoller({ list: cloud.list, clock, log: silentLogger, intervalMs: 1000 });
    const ac = new AbortController();
    const w = poller.waitFor('a', isActive, 60_000, ac.signal);
    ac.abort(new Error('launch cancelled'));
    await expect(w).rejects.toThrow('launch cancelled');
    expect(poller.stats().waiters).toBe(0);
    poller.close();
  });

  it('close() rejects waiters with an AbortError, stops polling, and is idempotent', async () => {
    const clock = new ManualClock();
    const cloud = fakeCloud();
    const poller = new ServerPoller({ list: cloud.list, clock, log: silentLogger, intervalMs: 1000 });
    const w = poller.waitFor('a', isActive, 60_000);
    poller.close();
    poller.close();
    await expect(w).rejects.toMatchObject({ name: 'AbortError' });
    await expect(poller.waitFor('a', isActive, 1000)).rejects.toMatchObject({ name: 'AbortError' });
    await clock.advance(5000);
    expect(cloud.state.lists).toBe(0);
  });
});
