// One image bake through the real ManagedProvider, for the bake tests of each cloud, and the
// images/ scripts with a setup that fails.
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/builder/bake.js';
import { systemClock } from '../../src/clock.js';
import type { ProviderConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { ManagedProvider } from '../../providers/managed-provider.js';
import type { ProviderDriver } from '../../providers/provider.js';
import { testRuntime } from './pool-context.js';

export const IMAGES_DIR = join(import.meta.dirname, '..', '..', 'images');

/**
 * Bakes image `ubuntu` of `cfg` on `driver` with the scripts in `imagesDir`, a store of its own
 * (nodepool-SETUP.db) and build logs under `work`/logs; the image row. Closes the provider and store.
 */
export async function bakeOnce(o: { cfg: ProviderConfig; driver: ProviderDriver; work: string; setup: string; imagesDir: string; deploymentId: string }) {
  const api = new ManagedProvider(o.driver, { rateSeconds: 0.001, burst: 50, pollIntervalMs: 50 });
  const store = SqliteStore.open(join(o.work, `nodepool-${o.setup}.db`));
  const deps = { store, clock: systemClock, log: silentLogger, deploymentId: o.deploymentId, runtime: testRuntime(o.cfg, api), readKey: (p: string) => readFile(p), imagesDir: o.imagesDir, logDir: join(o.work, 'logs') };
  try {
    return { row: await bake(deps, 'ubuntu') };
  } finally {
    await api.close();
    await store.close();
  }
}

/** A copy of images/ in `work`/broken-images with fail.sh, a setup that prints a line and exits 3; its path. */
export async function brokenImages(work: string): Promise<string> {
  const broken = join(work, 'broken-images');
  await cp(IMAGES_DIR, broken, { recursive: true });
  await writeFile(join(broken, 'fail.sh'), '#!/bin/bash\necho "about to fail"\nexit 3\n', { mode: 0o755 });
  return broken;
}
