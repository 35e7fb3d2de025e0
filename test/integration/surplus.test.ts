// Ready nodes above min-ready plus demand are deleted after surplus-grace, oldest first.
import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, expect, it } from 'vitest';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';

let h: PoolHarness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

it('deletes the oldest surplus ready nodes once the surplus outlasts surplus-grace', async () => {
  h = await startPool({ clouds: [{ name: 'cloud-a', maxServers: 6 }], labels: [{ name: 'small', minReady: 3, providers: ['cloud-a'] }], extraTop: ['surplus-grace: 2s'] });
  const daemon = await h.startDaemon();
  await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 3, { what: 'min-ready 3' });
  const oldest = (await daemon.store.listNodes({ states: ['ready'] })).sort((a, b) => a.stateTime - b.stateTime || a.id - b.id);
  await writeFile(h.configPath, (await readFile(h.configPath, 'utf8')).replace('min-ready: 3', 'min-ready: 1'));
  expect(await daemon.reload()).toBe(true);
  const graceStart = Date.now();
  await waitFor(async () => (await daemon.store.listNodes()).length === 1, { what: 'surplus deleted', timeoutMs: 20_000 });
  // Not before the grace: the first cleanup pass only notes the surplus.
  expect(Date.now() - graceStart).toBeGreaterThanOrEqual(1900);
  const [left] = await daemon.store.listNodes();
  expect(left.id).toBe(oldest[2].id);
  expect(h.clouds.get('cloud-a')!.servers().length).toBe(1);
});
