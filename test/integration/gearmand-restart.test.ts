// gearmand restarted with its jobs lost, on real parts: a real gearmand (in-memory queue, as
// started by default), the daemon's demand source and an emulated cloud. Nodes launched for
// the queued builds become surplus when the restart drops the queue, and are deleted, oldest
// first, once the surplus has lasted surplus-grace, leaving min-ready.
import { afterEach, expect, it } from 'vitest';
import { startGearmand, type Gearmand } from '../helpers/gearmand.js';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';
import { startLoad, type Load } from '../../src/sim/load.js';

let gearmand: Gearmand | null = null;
let h: PoolHarness | null = null;
let load: Load | null = null;
afterEach(async () => {
  await load?.stop();
  await h?.close();
  await gearmand?.stop();
  h = gearmand = load = null;
});

const GRACE_MS = 2000;

it('gearmand restarted with jobs lost: the surplus is deleted after surplus-grace, oldest first, back to min-ready', { timeout: 60_000 }, async () => {
  gearmand = await startGearmand();
  const server = { host: gearmand.host, port: gearmand.port };
  h = await startPool({
    clouds: [{ name: 'cloud-a', maxServers: 5 }],
    labels: [{ name: 'small', minReady: 1, providers: ['cloud-a'] }],
    // No target: nothing takes the queued builds, so they stay queued until gearmand restarts.
    extraTop: [`gearman-servers: [{ host: ${gearmand.host}, port: ${gearmand.port} }]`, 'demand-interval: 0.2s', `surplus-grace: ${GRACE_MS / 1000}s`],
  });
  const daemon = await h.startDaemon();
  const readyNodes = async () => (await daemon.store.listNodes()).filter((n) => n.state === 'ready');
  await waitFor(async () => (await readyNodes()).length === 1, { what: 'min-ready 1' });

  load = startLoad({ gearman: [server], jobs: [{ name: 'unit', label: 'small' }], ratePerSecond: 100, count: 3 });
  await waitFor(() => daemon.poolView().demand?.small === 3, { what: 'demand 3 seen' });
  // min-ready plus the three waiting builds, and nothing else in flight.
  await waitFor(async () => {
    const nodes = await daemon.store.listNodes();
    return nodes.length === 4 && nodes.every((n) => n.state === 'ready');
  }, { what: 'four ready nodes' });
  // Not surplus while the builds wait: kept over a window longer than the grace plus a cleanup
  // interval (a negative assertion over real time, not a synchronisation).
  const fourAt = Date.now();
  await waitFor(() => Date.now() - fourAt > GRACE_MS + 1200, { what: 'a grace and a cleanup pass to pass', intervalMs: 100 });
  expect((await readyNodes()).length).toBe(4);
  const byAge = (await readyNodes()).sort((a, b) => a.stateTime - b.stateTime || a.id - b.id);

  // The restart loses every queued job (foreground jobs are never persisted, -q or not).
  await gearmand.restart();
  await waitFor(() => (daemon.poolView().demand?.small ?? 0) === 0 && (daemon.health().gearman as { up: boolean }[]).every((g) => g.up), { what: 'demand 0 from the restarted gearmand' });
  const dropSeen = Date.now();
  expect((await readyNodes()).length).toBe(4);

  await waitFor(async () => (await daemon.store.listNodes()).length === 1, { what: 'surplus deleted', timeoutMs: 20_000 });
  // Not before the grace: the first cleanup pass after the drop only notes the surplus.
  expect(Date.now() - dropSeen).toBeGreaterThanOrEqual(GRACE_MS - 100);
  const [left] = await daemon.store.listNodes();
  expect(left.id).toBe(byAge[3].id);
  const audit = await Promise.all(byAge.slice(0, 3).map((n) => daemon.store.audit({ kind: 'node', objectId: n.id })));
  for (const rows of audit) expect(rows.find((r) => r.toState === 'deleting')?.reason).toMatch(/^surplus:/);
  await waitFor(() => h!.clouds.get('cloud-a')!.servers().length === 1, { what: 'their servers deleted' });
  // The pool stays at min-ready: no launch replaces a deleted surplus node.
  expect((await readyNodes()).map((n) => n.id)).toEqual([left.id]);
});
