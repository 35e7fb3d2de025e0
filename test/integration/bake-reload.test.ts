// A reload that changes a provider replaces its API client; the replaced client must stay open
// until the bakes using it end, or a bake running through the reload fails ("provider closed")
// and cannot even delete its own template server.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { META_IMAGE_ID } from '../../src/model.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { findBwrap } from '../../providers/openstack/emulator/sandbox.js';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';

const IMAGES_DIR = join(import.meta.dirname, '..', '..', 'images');

describe.skipIf(!findBwrap())('bake across a reload', () => {
  let h: PoolHarness;
  let sandbox: string;
  let images: string;
  let store: SqliteStore;

  beforeAll(async () => {
    sandbox = await mkdtemp(join(tmpdir(), 'bake-reload-sandbox-'));
    images = await mkdtemp(join(tmpdir(), 'bake-reload-images-'));
    await cp(IMAGES_DIR, images, { recursive: true });
    await writeFile(join(images, 'slow.sh'), '#!/bin/bash\necho "slow setup"\nsleep 3\necho "slow: done"\n', { mode: 0o755 });
    h = await startPool({
      clouds: [{ name: 'cloud-a', maxServers: 6, sandboxDir: sandbox, bootTimeMs: 50, imageTimeMs: 100, imageKeys: { setup: 'slow.sh' } }],
      labels: [{ name: 'small', minReady: 0, providers: ['cloud-a'] }],
      extraTop: [`scripts-dir: "${images}"`, 'deployment-id: bake-reload'],
    });
    await h.startDaemon();
    store = SqliteStore.open(h.dbPath);
  });

  afterAll(async () => {
    await store?.close();
    await h?.close();
    await rm(sandbox, { recursive: true, force: true });
    await rm(images, { recursive: true, force: true });
  });

  it('a bake in its setup step when the provider changes finishes ready on the client it started with', async () => {
    const row = await waitFor(async () => (await store.listImages({ provider: 'cloud-a' })).find((r) => r.step === 'setup'), { what: 'a bake in its setup step' });
    const text = await readFile(h.configPath, 'utf8');
    await writeFile(h.configPath, text.replace('max-servers: 6', 'max-servers: 7'));
    expect(await h.daemon!.reload()).toBe(true);
    const done = await waitFor(async () => {
      const r = await store.getImage(row.id);
      return r && r.state !== 'building' ? r : undefined;
    }, { what: `build ${row.id} to end`, timeoutMs: 60_000 });
    expect(done.state, done.reason ?? '').toBe('ready');
    const emu = h.clouds.get('cloud-a')!;
    await waitFor(() => emu.servers().filter((s) => s.metadata[META_IMAGE_ID] !== undefined && !s.deleting).length === 0, { what: 'bake servers gone' });
  }, 90_000);
});
