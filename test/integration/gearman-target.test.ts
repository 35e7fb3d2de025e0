// GearmanTarget against the real gearmand and real gearmanode workers playing the manager.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Job, Worker } from 'gearmanode';
import { startGearmand, type Gearmand } from '../helpers/gearmand.js';
import { waitFor } from '../helpers/wait.js';
import { GearmanTarget, parseAssignReply } from '../../src/targets/gearman.js';
import { GearmanAdminClient } from '../../src/gearman/admin-client.js';
import { loadGearmanode } from '../../src/gearman/gearmanode.js';
import { ManualClock } from '../../src/clock.js';
import { TargetError } from '../../src/errors.js';
import type { TargetNode } from '../../src/targets/target.js';

const gm = loadGearmanode();
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

type Handler = (job: Job, payload: unknown) => void;

/** A manager: a worker serving the given functions, recording every payload it gets. */
async function manager(g: Gearmand, fns: Record<string, Handler>): Promise<{ worker: Worker; got: Record<string, unknown[]> }> {
  const worker: Worker = gm.worker({ servers: [{ host: g.host, port: g.port }] });
  worker.on('error', () => undefined);
  const got: Record<string, unknown[]> = {};
  for (const [fn, handle] of Object.entries(fns)) {
    got[fn] = [];
    worker.addFunction(
      fn,
      (job) => {
        const payload: unknown = JSON.parse(String(job.payload));
        got[fn].push(payload);
        handle(job, payload);
      },
      { toStringEncoding: 'utf8' },
    );
  }
  closers.push(() => worker.close());
  // Registered once gearmand lists a worker for every function.
  const admin = new GearmanAdminClient({ host: g.host, port: g.port });
  try {
    await waitFor(async () => {
      const rows = await admin.status();
      return Object.keys(fns).every((fn) => (rows.find((r) => r.function === fn)?.workers ?? 0) > 0);
    }, { what: `workers for ${Object.keys(fns).join(', ')}` });
  } finally {
    await admin.close();
  }
  return { worker, got };
}

function target(g: Gearmand | Gearmand[], name = 'ci', extra: Partial<ConstructorParameters<typeof GearmanTarget>[0]> = {}): GearmanTarget {
  const servers = (Array.isArray(g) ? g : [g]).map((s) => ({ host: s.host, port: s.port }));
  const t = new GearmanTarget({ name, servers, ...extra });
  closers.push(() => t.close());
  return t;
}

const node: TargetNode = { name: 'small-cloud-a-7', host: '10.0.0.7', port: 22, description: 'nodepool node 7', labels: ['small', 'any'] };

async function rejection(p: Promise<unknown>): Promise<TargetError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TargetError);
  return err as TargetError;
}

describe('GearmanTarget', () => {
  let g: Gearmand;
  beforeAll(async () => {
    g = await startGearmand();
  });
  afterAll(async () => {
    await g?.stop();
  });

  it('assigns a node through node_assign:<target> and revokes it through node_revoke:<manager>', async () => {
    const m = await manager(g, {
      'node_assign:ci': (job) => job.workComplete(JSON.stringify({ manager: 'zuul-merger-1' })),
      'node_revoke:zuul-merger-1': (job) => job.workComplete(''),
    });
    const t = target(g);
    expect(await t.register(node)).toEqual({ manager: 'zuul-merger-1' });
    // The SSH port travels with the address: a manager cannot guess a non-default one.
    expect(m.got['node_assign:ci']).toEqual([{ name: node.name, host: node.host, port: 22, description: node.description, labels: ['small', 'any'] }]);
    expect(await t.exists(node.name)).toBe(true);

    await t.unregister({ hostname: node.name, manager: 'zuul-merger-1' });
    expect(m.got['node_revoke:zuul-merger-1']).toEqual([{ name: node.name }]);
    expect(await t.exists(node.name)).toBe(false);
  });

  it('takes a plain-text reply as the manager name', async () => {
    await manager(g, { 'node_assign:plain': (job) => job.workComplete('manager-two\n') });
    expect(await target(g, 'plain').register(node)).toEqual({ manager: 'manager-two' });
  });

  it('fails (not retryable) when the worker reports failure or names no manager', async () => {
    await manager(g, {
      'node_assign:refuses': (job) => job.reportError(),
      'node_assign:mute': (job) => job.workComplete(JSON.stringify({ ok: true })),
    });
    const failed = await rejection(target(g, 'refuses').register(node));
    expect(failed.retryable).toBe(false);
    expect(failed.message).toMatch(/WORK_FAIL/);
    const mute = await rejection(target(g, 'mute').register(node));
    expect(mute.retryable).toBe(false);
    expect(mute.message).toMatch(/names no valid manager/);
  });

  it('fails fast (retryable) when nobody serves node_assign, leaving no job queued', async () => {
    const err = await rejection(target(g, 'nobody').register(node));
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/no manager has a worker/);
    const admin = new GearmanAdminClient({ host: g.host, port: g.port });
    closers.push(() => admin.close());
    expect((await admin.status()).find((r) => r.function === 'node_assign:nobody')).toBeUndefined();
  });

  it('treats a manager that is gone, or none recorded, as nothing to revoke', async () => {
    const t = target(g);
    await t.unregister({ hostname: 'n1', manager: 'long-gone' });
    await t.unregister({ hostname: 'n2', manager: null });
    expect(await t.exists('n1')).toBe(false);
    // exists() has no protocol behind it: a node this process never saw is assumed registered.
    expect(await t.exists('never-seen')).toBe(true);
  });

  it('times out (retryable) when the worker never answers', async () => {
    const held: Job[] = [];
    await manager(g, { 'node_assign:slow': (job) => void held.push(job) });
    const clock = new ManualClock(0);
    const t = target(g, 'slow', { clock, timeoutMs: 10_000 });
    const pending = rejection(t.register(node));
    await waitFor(() => held.length === 1, { what: 'the worker to get the job' });
    await clock.advance(10_000);
    const err = await pending;
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/no reply within 10000ms/);
    held[0].workComplete('late'); // the worker finishing later harms nothing
  });

  it('a retry after a timeout is a new Gearman job (a unique id per attempt); the late reply\'s manager is revoked', async () => {
    const held: Job[] = [];
    const m = await manager(g, {
      'node_assign:slow2': (job) => void held.push(job),
      'node_revoke:late-mgr': (job) => job.workComplete(''),
    });
    // A second, idle worker for the retry: the first one is busy with the job we gave up on.
    await manager(g, { 'node_assign:slow2': (job) => void held.push(job) });
    const clock = new ManualClock(0);
    const t = target(g, 'slow2', { clock, timeoutMs: 10_000 });
    const first = rejection(t.register(node));
    await waitFor(() => held.length === 1, { what: 'the worker to get the first job' });
    await clock.advance(10_000);
    expect((await first).constructor.name).toBe('RegisterTimeoutError');
    // The same unique id would make gearmand coalesce this into the job still running.
    const second = t.register(node);
    await waitFor(() => held.length === 2, { what: 'a second, separate job for the retry' });
    held[1].workComplete(JSON.stringify({ manager: 'current-mgr' }));
    expect(await second).toEqual({ manager: 'current-mgr' });
    // The first attempt's manager answers late: it must lose the node again.
    held[0].workComplete(JSON.stringify({ manager: 'late-mgr' }));
    await waitFor(async () => {
      await t.unregister({ hostname: node.name, manager: null });
      return m.got['node_revoke:late-mgr'].length > 0;
    }, { what: 'the late manager revoked' });
    expect(m.got['node_revoke:late-mgr']).toEqual([{ name: node.name }]);
  });

  it('takeOffline revokes the node from its manager (a held node leaves the schedulable set)', async () => {
    const m = await manager(g, { 'node_revoke:holder': (job) => job.workComplete('') });
    const t = target(g);
    // A build start is the manager's own business: the node is not pulled from under its build.
    await t.takeOffline({ hostname: 'busy-1', manager: 'holder' }, 'started', 'build-started');
    await t.takeOffline({ hostname: 'held-1', manager: 'holder' }, 'held', 'hold');
    expect(m.got['node_revoke:holder']).toEqual([{ name: 'held-1' }]);
  });

  it('available() says whether any worker serves node_assign:<target>', async () => {
    const t = target(g, 'later');
    expect(await t.checkAvailability()).toBe(false);
    expect(t.available()).toBe(false);
    await manager(g, { 'node_assign:later': (job) => job.workComplete('m') });
    expect(await t.checkAvailability()).toBe(true);
    expect(t.available()).toBe(true);
  });

  it('submits to the server where the manager is, skipping one that is down', async () => {
    const down = await startGearmand();
    closers.push(() => down.stop());
    const g2 = await startGearmand();
    closers.push(() => g2.stop());
    await manager(g2, { 'node_assign:multi': (job) => job.workComplete('m-on-g2') });
    await down.kill();
    expect(await target([down, g, g2], 'multi').register(node)).toEqual({ manager: 'm-on-g2' });
  });

  it('fails retryable when every server is down, and after close()', async () => {
    const down = await startGearmand();
    closers.push(() => down.stop());
    await down.kill();
    const t = target(down, 'ci');
    const err = await rejection(t.register(node));
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/cannot tell who serves it/);
    await t.close();
    await t.close();
    await rejection(t.register(node));
  });

  it('fails retryable when gearmand goes away while the job runs', async () => {
    const lonely = await startGearmand();
    closers.push(() => lonely.stop());
    const held: Job[] = [];
    await manager(lonely, { 'node_assign:crash': (job) => void held.push(job) });
    const t = target(lonely, 'crash');
    const pending = rejection(t.register(node));
    await waitFor(() => held.length === 1, { what: 'the worker to get the job' });
    await lonely.kill();
    const err = await pending;
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/lost/);
  });

  it('close() fails a job in flight', async () => {
    const held: Job[] = [];
    await manager(g, { 'node_assign:closing': (job) => void held.push(job) });
    const t = target(g, 'closing');
    const pending = rejection(t.register(node));
    await waitFor(() => held.length === 1, { what: 'the worker to get the job' });
    await t.close();
    expect((await pending).retryable).toBe(true);
    held[0].workComplete('x');
  });
});

describe('parseAssignReply', () => {
  it('reads JSON, JSON strings and plain text', () => {
    expect(parseAssignReply('{"manager":"m1"}')).toBe('m1');
    expect(parseAssignReply(' {"manager": " m2 ", "other": 1}\n')).toBe('m2');
    expect(parseAssignReply('"m3"')).toBe('m3');
    expect(parseAssignReply('m4\n')).toBe('m4');
    expect(parseAssignReply('{not json')).toBeNull();
    expect(parseAssignReply('{"manager": 5}')).toBeNull();
    expect(parseAssignReply('{}')).toBeNull();
    expect(parseAssignReply('   ')).toBeNull();
    expect(parseAssignReply('a\nb')).toBeNull();
  });

  it('accepts only a Gearman function-name token as a manager name', () => {
    for (const ok of ['zuul', 'zuul-launcher.01', 'mgr_2@host', 'a:b', 'x'.repeat(128)]) expect(parseAssignReply(ok)).toBe(ok);
    for (const bad of ['two words', 'a\tb', '-leading-dash', 'x'.repeat(129), '{"manager":"bad name"}', 'OK: node taken', 'név', '<html>', 'a/b']) {
      expect(parseAssignReply(bad)).toBeNull();
    }
  });
});
