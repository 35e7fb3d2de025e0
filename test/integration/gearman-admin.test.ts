// The admin client and the demand source against the real gearmand: a gearmanode worker holds a
// job, a client queues background jobs, `status` shows the totals; an outage is reported once.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Client, Job, Worker } from 'gearmanode';
import { startGearmand, type Gearmand } from '../helpers/gearmand.js';
import { waitFor } from '../helpers/wait.js';
import { GearmanAdminClient, adminBackoffMs } from '../../src/gearman/admin-client.js';
import { GearmanDemandSource } from '../../src/gearman/demand-source.js';
import { loadGearmanode } from '../../src/gearman/gearmanode.js';
import { ManualClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { GearmanError } from '../../src/errors.js';
import type { GearmanStatusRow } from '../../src/pool/demand.js';

const gm = loadGearmanode();
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** Queues `count` background jobs and resolves once gearmand has created them all. */
async function queueJobs(g: Gearmand, fn: string, count: number): Promise<void> {
  const client: Client = gm.client({ servers: [{ host: g.host, port: g.port }] });
  client.on('error', () => undefined);
  try {
    await Promise.all(
      Array.from({ length: count }, (_, i) => {
        const job = client.submitJob(fn, `payload-${i}`, { background: true });
        return new Promise<void>((resolve, reject) => {
          job.once('created', () => resolve());
          job.once('error', reject);
        });
      }),
    );
  } finally {
    client.close();
  }
}

/** A worker for `fn` that takes one job and never finishes it: the job stays "running". */
function holdingWorker(g: Gearmand, fn: string): { worker: Worker; held: Job[] } {
  const worker: Worker = gm.worker({ servers: [{ host: g.host, port: g.port }] });
  worker.on('error', () => undefined);
  const held: Job[] = [];
  worker.addFunction(fn, (job) => {
    held.push(job);
  });
  closers.push(() => worker.close());
  return { worker, held };
}

function row(rows: GearmanStatusRow[], fn: string): GearmanStatusRow | undefined {
  return rows.find((r) => r.function === fn);
}

function captureLog() {
  const lines: { level: number; msg: string; server?: string }[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  return { log, lines };
}

describe('GearmanAdminClient', () => {
  let g: Gearmand;
  beforeAll(async () => {
    g = await startGearmand();
  });
  afterAll(async () => {
    await g?.stop();
  });

  it('reads status totals, running and workers from the real gearmand', async () => {
    holdingWorker(g, 'build:unit:small');
    await queueJobs(g, 'build:unit:small', 3);
    await queueJobs(g, 'build:lint', 2);
    const admin = new GearmanAdminClient({ host: g.host, port: g.port });
    closers.push(() => admin.close());

    const rows = await waitFor(async () => {
      const r = await admin.status();
      return row(r, 'build:unit:small')?.running === 1 ? r : null;
    }, { what: 'the worker to hold one job' });
    expect(row(rows, 'build:unit:small')).toEqual({ function: 'build:unit:small', total: 3, running: 1, workers: 1 });
    expect(row(rows, 'build:lint')).toEqual({ function: 'build:lint', total: 2, running: 0, workers: 0 });
    expect(rows.errors).toEqual([]);
    expect(rows.complete).toBe(true);
  });

  it('answers version, and an ERR answer rejects without dropping the connection', async () => {
    const admin = new GearmanAdminClient({ host: g.host, port: g.port });
    closers.push(() => admin.close());
    expect(await admin.version()).toMatch(/^\d+\.\d+/);
    const err = await admin.command('no-such-command', false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GearmanError);
    expect((err as GearmanError).retryable).toBe(false);
    expect((err as Error).message).toMatch(/ERR UNKNOWN_COMMAND/);
    // Requests sent at once are answered in order on the one connection.
    const [a, b, c] = await Promise.all([admin.status(), admin.version(), admin.command('workers', true)]);
    expect(Array.isArray(a)).toBe(true);
    expect(b).toMatch(/^\d/);
    expect(c.length).toBeGreaterThan(0);
    expect(admin.state().failures).toBe(0);
  });

  it('fails fast while backing off after a refused connection, then reconnects', async () => {
    const down = await startGearmand();
    closers.push(() => down.stop());
    const clock = new ManualClock(1_000);
    const admin = new GearmanAdminClient({ host: down.host, port: down.port, clock, backoffMinMs: 1000, backoffMaxMs: 4000 });
    closers.push(() => admin.close());
    await queueJobs(down, 'build:probe:small', 2);
    expect([...(await admin.status())]).toEqual([{ function: 'build:probe:small', total: 2, running: 0, workers: 0 }]);

    await down.kill();
    // The open connection is closed by the server: the request fails, and so does the reconnect.
    await expect(admin.status()).rejects.toBeInstanceOf(GearmanError);
    await expect(admin.status()).rejects.toThrow(/not retrying for \d+ms/);
    const failures = admin.state().failures;
    await expect(admin.status()).rejects.toThrow(/not retrying/);
    expect(admin.state().failures).toBe(failures); // fast failures do not grow the backoff

    await down.restart();
    await expect(admin.status()).rejects.toThrow(/not retrying/); // still inside the backoff
    await clock.advance(adminBackoffMs(failures, 1000, 4000));
    expect(Array.isArray(await admin.status())).toBe(true);
    expect(admin.state().failures).toBe(0);
  });

  it('caps the backoff', () => {
    expect([1, 2, 3, 4, 5, 50].map((n) => adminBackoffMs(n, 500, 30_000))).toEqual([500, 1000, 2000, 4000, 8000, 30_000]);
    expect(adminBackoffMs(0, 500, 30_000)).toBe(0);
  });
});

describe('GearmanDemandSource', () => {
  it('sums every server, reports an outage once in health and log, and sees the server come back', async () => {
    const g1 = await startGearmand();
    closers.push(() => g1.stop());
    const g2 = await startGearmand();
    closers.push(() => g2.stop());
    await queueJobs(g1, 'build:unit:small', 2);
    await queueJobs(g2, 'build:unit:small', 3);
    await queueJobs(g2, 'build:docs', 1);

    const clock = new ManualClock(10_000);
    const { log, lines } = captureLog();
    const source = new GearmanDemandSource({
      servers: [
        { host: g1.host, port: g1.port },
        { host: g2.host, port: g2.port },
      ],
      intervalMs: 5000,
      clock,
      log,
    });
    closers.push(() => source.close());

    const rows = await source.refresh();
    expect(row(rows, 'build:unit:small')).toEqual({ function: 'build:unit:small', total: 5, running: 0, workers: 0 });
    expect(row(rows, 'build:docs')).toEqual({ function: 'build:docs', total: 1, running: 0, workers: 0 });
    expect(source.health().map((h) => h.up)).toEqual([true, true]);

    await g2.kill();
    await clock.advance(100);
    const duringOutage = await source.refresh();
    expect(row(duringOutage, 'build:unit:small')?.total).toBe(2); // g2 contributes nothing
    expect(row(duringOutage, 'build:docs')).toBeUndefined();
    await source.refresh();
    await source.refresh();
    const health = source.health();
    expect(health[0]).toMatchObject({ host: g1.host, port: g1.port, up: true });
    expect(health[1]).toMatchObject({ host: g2.host, port: g2.port, up: false, since: 10_100 });
    expect(health[1].lastError).toMatch(/\S/);
    const downLines = () => lines.filter((l) => l.msg.startsWith('gearman server is down'));
    expect(downLines()).toHaveLength(1);
    expect(downLines()[0].server).toBe(`${g2.host}:${g2.port}`);

    await g2.restart(); // empty again: no persistent queue
    await clock.advance(60_000); // past any backoff
    const back = await source.refresh();
    expect(source.health()[1]).toMatchObject({ up: true, since: 70_100 });
    expect(source.health()[1].lastError).toBeUndefined();
    expect(row(back, 'build:unit:small')?.total).toBe(2);
    expect(lines.filter((l) => l.msg.startsWith('gearman server is back up'))).toHaveLength(1);
    await source.refresh();
    expect(downLines()).toHaveLength(1);
  });

  it('polls a server that was down again at the demand interval, however long the outage lasted', async () => {
    const g = await startGearmand();
    closers.push(() => g.stop());
    const clock = new ManualClock(0);
    const source = new GearmanDemandSource({ servers: [{ host: g.host, port: g.port }], intervalMs: 5000, clock });
    closers.push(() => source.close());
    await source.refresh();
    expect(source.health()[0].up).toBe(true);
    await g.kill();
    // Ten minutes down, polled at every interval: the client's backoff never grows past it.
    for (let i = 0; i < 120; i++) {
      await clock.advance(5000);
      await source.refresh();
    }
    expect(source.health()[0].up).toBe(false);
    await g.restart();
    await queueJobs(g, 'build:unit:small', 1);
    await clock.advance(5000);
    const rows = await source.refresh();
    expect(source.health()[0]).toMatchObject({ up: true, since: 605_000 });
    expect(row(rows, 'build:unit:small')).toEqual({ function: 'build:unit:small', total: 1, running: 0, workers: 0 });
  });

  it('polls on the injected clock and coalesces refreshes', async () => {
    const g = await startGearmand();
    closers.push(() => g.stop());
    const clock = new ManualClock(0);
    const seen: GearmanStatusRow[][] = [];
    const source = new GearmanDemandSource({ servers: [{ host: g.host, port: g.port }], intervalMs: 1000, clock, onRows: (r) => seen.push(r) });
    closers.push(() => source.close());
    source.start();
    await waitFor(() => seen.length === 1, { what: 'the first poll' });
    expect(source.rows()).toEqual([]);

    await queueJobs(g, 'build:late', 4);
    // No poll happens until the clock moves.
    await clock.advance(999);
    expect(seen).toHaveLength(1);
    await clock.advance(1);
    await waitFor(() => seen.length === 2, { what: 'the timed poll' });
    expect(row(source.rows(), 'build:late')?.total).toBe(4);

    // Three calls during one poll: the first runs it, the other two share one poll after it.
    const before = seen.length;
    const [a, b, c] = await Promise.all([source.refresh(), source.refresh(), source.refresh()]);
    expect(seen.length - before).toBe(2);
    expect(b).toEqual(c);
    expect(row(a, 'build:late')?.total).toBe(4);

    await source.close();
    await source.close(); // idempotent
    const count = seen.length;
    await clock.advance(5000);
    expect(seen).toHaveLength(count);
  });
});
